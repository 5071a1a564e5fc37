"""Run the simulation and write its outputs: the extract, the ground truth and the state.

``<out>/extract/`` is a folder of CSV tables in the shape of a council's own extract
(what ``stratify load`` reads). ``<out>/truth/`` holds what only a simulation can know:
``need.parquet`` (each child's true need per month) and ``decision_points.parquet``
(true label probabilities for a sample of eligible decision points in training's test
window, each with the ``weight`` of eligible points it stands for: see
:mod:`stratify.features.simulate.truth`). ``<out>/state/`` is the world at the end, to
continue it (:mod:`stratify.features.simulate.state`). All are written to a temporary
folder and renamed into place, so a failed run leaves the last one intact.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from stratify.core.progress import StepCallback as Progress
from stratify.features.config import FeaturesConfig, SimulationConfig
from stratify.features.simulate.cin_xml import write_cin_returns
from stratify.features.simulate.engine import step
from stratify.features.simulate.output import (
    SimulationResult,
    load_truth,
    person_id,
    write_atomically,
    write_extract,
    write_truth,
)
from stratify.features.simulate.params import SimParams
from stratify.features.simulate.population import initial_population
from stratify.features.simulate.records import to_tables
from stratify.features.simulate.replay import replay_workers
from stratify.features.simulate.scenario import Timeline
from stratify.features.simulate.ssd import write_ssd_tables
from stratify.features.simulate.state import (
    ContinuationError,
    Snapshot,
    save_state,
)
from stratify.features.simulate.truth import TruthSampler
from stratify.features.simulate.world import World

__all__ = ["SimulationResult", "load_truth", "person_id", "run", "simulate"]

ERR_SCENARIO_FRESH = (
    "a scenario changes the world from a continuation's first month: a fresh simulation"
    " has none (continue one with --continue-from, or set continued_from)"
)


@dataclass
class Simulated:
    """A run's result with the world at its end and its rewind snapshot (for the state).

    ``pending`` returns the ground truth while worker processes may still be
    re-simulating it (the result's ``truth`` is empty, and its ``seconds`` exclude the
    truth, until :meth:`settle`); ``started`` is when the run started (perf_counter).
    """

    result: SimulationResult
    world: World
    months: int
    rewind: Snapshot
    pending: Callable[[], pd.DataFrame] | None = None
    started: float = 0.0

    def settle(self) -> SimulationResult:
        """Wait for the ground truth still being re-simulated; return the whole result."""
        if self.pending is not None:
            self.result.truth = self.pending()
            self.pending = None
            self.result.seconds = time.perf_counter() - self.started
        return self.result


def calendar(cfg: SimulationConfig) -> tuple[dt.date, int, int]:
    """First day simulated, months simulated, and the window's first month index."""
    anchor = cfg.continued_from or cfg.end_date  # the 31 March the window was set from
    years = cfg.years + cfg.burn_in_years
    start = dt.date(anchor.year - years, 4, 1)
    extra = (cfg.end_date.year - anchor.year) * 12 + cfg.end_date.month - anchor.month
    return start, 12 * years + extra, 12 * cfg.burn_in_years


def rewind_month(months: int, horizon: int) -> int:
    """Return the month a state's rewind snapshot is taken at: the first incomplete label window."""
    return max(0, months - horizon)


def truth_sampler(
    cfg: SimulationConfig,
    features: FeaturesConfig,
    months: int,
    *,
    resume_at: int = 0,
    pool: Executor | None = None,
) -> TruthSampler:
    """Return the ground-truth sampler of an extract ``months`` months long."""
    first = 12 * cfg.burn_in_years
    return TruthSampler(
        cfg.truth_sample,
        cfg.truth_replicates,
        cfg.seed,
        TruthSampler.window_of(first, months, features.horizon_months, cfg.truth_window_months),
        features.horizon_months,
        features.lookback_months,
        features.snapshot_months,
        resume_at=resume_at,
        pool=pool,
    )


class _NeedWriter:
    """Streams each child's true need per month to Parquet, one row group per month."""

    SCHEMA = pa.schema(
        [
            ("person_number", pa.int32()),
            ("month", pa.date32()),
            ("need", pa.float32()),
            ("in_need", pa.bool_()),
        ]
    )

    def __init__(self, path: Path | None, earlier: Path | None = None) -> None:
        """Open ``path``, first copying the months of ``earlier`` (a run continued)."""
        self.writer = pq.ParquetWriter(path, self.SCHEMA) if path else None
        if self.writer is not None and earlier is not None:
            old = pq.ParquetFile(earlier)
            for i in range(old.num_row_groups):
                self.writer.write_table(old.read_row_group(i).cast(self.SCHEMA))

    def write(self, w: World, month_index: int) -> None:
        if self.writer is None:
            return
        kids = w.children()
        need = w.persons["need"][kids]
        month = np.full(len(kids), w.month_day[month_index], np.int32)
        self.writer.write_table(
            pa.table(
                [
                    pa.array(kids.astype(np.int32)),
                    pa.array(month, pa.int32()).cast(pa.date32()),
                    pa.array(need),
                    pa.array(need >= w.p.in_need_threshold),
                ],
                schema=self.SCHEMA,
            )
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def advance(
    w: World,
    months: range,
    sampler: TruthSampler,
    *,
    need: _NeedWriter | None = None,
    rewind_at: int = -1,
    tick: Callable[[], None] | None = None,
) -> Snapshot | None:
    """Step ``w`` through ``months``, sampling truth; snapshot it as ``rewind_at`` starts."""
    rewind = None
    # The products are many and small (children x 13 conditions): one BLAS thread is as
    # fast unloaded and several times faster when other work shares the machine
    # (measured on the demo borough: 5.8 s against 18.3 s for the months without truth).
    with threadpool_limits(limits=1, user_api="blas"):
        for month_index in months:
            if month_index == rewind_at:
                rewind = Snapshot.take(w, month_index)
            sampler.before_step(w, month_index)
            step(w, month_index)
            sampler.after_step(w, month_index)
            if need is not None:
                need.write(w, month_index)
            if tick:
                tick()
    return rewind


def timeline(cfg: SimulationConfig) -> Timeline:
    """Return the scenario timeline of a run of ``cfg`` simulated from its first month."""
    if cfg.scenario is None or cfg.scenario.neutral:
        return Timeline()
    if cfg.continued_from is None:
        raise ContinuationError(ERR_SCENARIO_FRESH)
    return Timeline().then(12 * (cfg.years + cfg.burn_in_years), cfg.scenario)


def truth_work(cfg: SimulationConfig) -> int:
    """Return the focal points x replicates a run of ``cfg`` re-simulates at most."""
    return cfg.truth_sample * (cfg.truth_replicates.escalation + cfg.truth_replicates.rereferral)


def simulate_world(  # noqa: PLR0913 - run's settings and the workers re-simulating truth
    cfg: SimulationConfig,
    features: FeaturesConfig | None = None,
    params: SimParams | None = None,
    progress: Progress | None = None,
    need_path: Path | None = None,
    *,
    pool: Executor | None = None,
) -> Simulated:
    """Simulate the borough from its first month: :func:`run`, keeping the world.

    With a ``pool`` of workers (:func:`replay_workers`) the ground truth is re-simulated
    there while this process steps on, and is left pending (:meth:`Simulated.settle`).
    """
    started = time.perf_counter()
    features = features or FeaturesConfig()
    params = params or SimParams()
    start, months, _ = calendar(cfg)
    w = World(params, start, months, np.random.default_rng(cfg.seed), capacity=3 * cfg.children)
    w.bias_strength = cfg.detection_bias
    w.scenario = timeline(cfg)
    w.log = []
    initial_population(w, cfg.children)
    sampler = truth_sampler(cfg, features, months, pool=pool)
    need = _NeedWriter(need_path)
    done = iter(range(1, months + 1))

    def tick() -> None:
        if progress:
            progress(next(done), months)

    try:
        rewind = advance(
            w,
            range(months),
            sampler,
            need=need,
            rewind_at=rewind_month(months, features.horizon_months),
            tick=tick,
        )
    finally:
        need.close()
    assert w.rec is not None and rewind is not None
    tables = to_tables(w.rec, w.persons.to_dict(), w.lsoa)
    result = SimulationResult(tables, pd.DataFrame(), cfg.end_date, time.perf_counter() - started)
    simulated = Simulated(
        result, w, months, rewind, pending=lambda: pd.DataFrame(sampler.rows), started=started
    )
    if pool is None:
        simulated.settle()
    return simulated


def run(
    cfg: SimulationConfig,
    features: FeaturesConfig | None = None,
    params: SimParams | None = None,
    progress: Progress | None = None,
    need_path: Path | None = None,
) -> SimulationResult:
    """Simulate the borough in memory.

    Parameters
    ----------
    cfg : SimulationConfig
        Size, seed, dates and the strength of detection bias.
    features : FeaturesConfig, optional
        Decision-point definitions used for the ground-truth sample.
    params : SimParams, optional
        Rates; the calibrated defaults when omitted.
    progress : callable, optional
        Called with (months done, months in all).
    need_path : Path, optional
        Where to stream each child's monthly need (skipped when None).

    Returns
    -------
    SimulationResult
    """
    with replay_workers(truth_work(cfg)) as pool:
        return simulate_world(cfg, features, params, progress, need_path, pool=pool).settle()


def write_outputs(
    tmp: Path,
    done: Simulated,
    cfg: SimulationConfig,
    features: FeaturesConfig,
    params: SimParams,
) -> None:
    """Write the extract, the state and the truth sample of ``done`` into ``tmp``.

    The truth goes last: workers may still be re-simulating it while the rest is written.
    """
    write_extract(done.result, tmp / "extract", cfg)
    write_cin_returns(  # the same borough as a council's yearly CIN census returns
        done.result.tables, tmp / "cin_xml", extract_date=done.result.extract_date
    )
    write_ssd_tables(done.result.tables, tmp / "ssd")  # ... and as SSD tables
    save_state(
        tmp / "state",
        done.world,
        month=done.months,
        cfg=cfg,
        features=features,
        params=params,
        rewind=done.rewind,
    )
    write_truth(done.settle(), tmp / "truth")


def simulate(
    cfg: SimulationConfig,
    out: Path,
    features: FeaturesConfig | None = None,
    params: SimParams | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Run the simulation and write ``out/extract``, ``out/truth`` and ``out/state`` atomically."""
    out = Path(out)
    features = features or FeaturesConfig()
    params = params or SimParams()

    def write(tmp: Path) -> SimulationResult:
        (tmp / "truth").mkdir()
        with replay_workers(truth_work(cfg)) as pool:
            need = tmp / "truth" / "need.parquet"
            done = simulate_world(cfg, features, params, progress, need, pool=pool)
            write_outputs(tmp, done, cfg, features, params)
        return done.result

    result = write_atomically(out, write)
    result.folder = out
    return result
