"""Run the simulation and write its two outputs: the extract and the ground truth.

``<out>/extract/`` is a folder of CSV tables in the shape of a council's own extract
(what ``stratify load`` reads). ``<out>/truth/`` holds what only a simulation can know:
``need.parquet`` (each child's true need per month) and ``decision_points.parquet``
(true label probabilities for a sample of eligible decision points in training's test
window, each with the ``weight`` of eligible points it stands for: see
:mod:`stratify.features.simulate.truth`). Both are written to a temporary folder and
renamed into place, so a failed run leaves the last one intact.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from stratify.core.files import remove_stale, temporary_sibling
from stratify.core.progress import StepCallback as Progress
from stratify.features.config import FeaturesConfig, SimulationConfig
from stratify.features.simulate.engine import step
from stratify.features.simulate.params import SimParams
from stratify.features.simulate.population import initial_population
from stratify.features.simulate.records import source_ids, to_tables
from stratify.features.simulate.truth import TruthSampler
from stratify.features.simulate.world import World


@dataclass
class SimulationResult:
    """What a run produced, in memory."""

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    extract_date: dt.date
    seconds: float


def _calendar(cfg: SimulationConfig) -> tuple[dt.date, int, int]:
    """First day simulated, months simulated, and the window's first month index."""
    years = cfg.years + cfg.burn_in_years
    start = dt.date(cfg.end_date.year - years, 4, 1)
    return start, 12 * years, 12 * cfg.burn_in_years


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

    def __init__(self, path: Path | None) -> None:
        self.writer = pq.ParquetWriter(path, self.SCHEMA) if path else None

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
    started = time.perf_counter()
    features = features or FeaturesConfig()
    params = params or SimParams()
    start, months, first = _calendar(cfg)
    w = World(params, start, months, np.random.default_rng(cfg.seed), capacity=3 * cfg.children)
    w.bias_strength = cfg.detection_bias
    w.log = []
    initial_population(w, cfg.children)
    sampler = TruthSampler(
        cfg.truth_sample,
        cfg.truth_replicates,
        cfg.seed,
        TruthSampler.window_of(first, months, features.horizon_months, cfg.truth_window_months),
        features.horizon_months,
        features.lookback_months,
        features.snapshot_months,
    )
    need = _NeedWriter(need_path)
    # The products are many and small (children x 13 conditions): one BLAS thread is as
    # fast unloaded and several times faster when other work shares the machine
    # (measured on the demo borough: 5.8 s against 18.3 s for the months without truth).
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            for month_index in range(months):
                sampler.before_step(w, month_index)
                step(w, month_index)
                sampler.after_step(w, month_index)
                need.write(w, month_index)
                if progress:
                    progress(month_index + 1, months)
    finally:
        need.close()
    assert w.rec is not None
    tables = to_tables(w.rec, w.persons.to_dict(), w.lsoa)
    truth = pd.DataFrame(sampler.rows)
    return SimulationResult(tables, truth, cfg.end_date, time.perf_counter() - started)


def person_id(number: pd.Series | np.ndarray) -> pd.Series:
    """Return the extract's source person id for the simulator's person numbers."""
    return source_ids("P", np.asarray(number)).astype(object)


def write_extract(result: SimulationResult, folder: Path, cfg: SimulationConfig) -> None:
    """Write the tables as CSV files plus ``extract.json`` into ``folder``."""
    folder.mkdir(parents=True)
    for name, frame in result.tables.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        for i, fld in enumerate(table.schema):  # dates as YYYY-MM-DD, as councils send them
            if pa.types.is_timestamp(fld.type):
                table = table.set_column(i, fld.name, table.column(i).cast(pa.date32()))
        pacsv.write_csv(table, folder / f"{name}.csv")
    meta = {
        "extract_date": result.extract_date.isoformat(),
        "synthetic": True,
        "description": f"stratify synthetic borough: seed {cfg.seed}, {cfg.children} children,"
        f" {cfg.years} years (+{cfg.burn_in_years} years of history),"
        f" detection bias {cfg.detection_bias}",
    }
    (folder / "extract.json").write_text(json.dumps(meta, indent=2) + "\n")


def write_truth(result: SimulationResult, folder: Path) -> None:
    """Write the sampled decision points' true probabilities into ``folder``."""
    dp = result.truth
    if len(dp):
        dp = dp.assign(
            person_id=person_id(dp["person_number"]),
            as_of_date=pd.to_datetime(dp["as_of_day"], unit="D").dt.date,
        ).drop(columns=["as_of_day"])
    dp.to_parquet(folder / "decision_points.parquet", index=False)


def simulate(
    cfg: SimulationConfig,
    out: Path,
    features: FeaturesConfig | None = None,
    params: SimParams | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Run the simulation and write ``out/extract`` and ``out/truth`` atomically."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out.parent, out.name)  # left by a run that was killed
    tmp = temporary_sibling(out)
    try:
        (tmp / "truth").mkdir(parents=True)
        result = run(cfg, features, params, progress, need_path=tmp / "truth" / "need.parquet")
        write_extract(result, tmp / "extract", cfg)
        write_truth(result, tmp / "truth")
        old = temporary_sibling(out)  # the previous run's folder, removed once replaced
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def load_truth(
    folder: Path, pseudonymise: Callable[[pd.Series], pd.Series]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ground truth keyed by warehouse pseudonyms.

    Parameters
    ----------
    folder : Path
        The ``truth`` folder written by :func:`simulate`.
    pseudonymise : callable
        Maps source person ids to warehouse pseudonyms (the loader's keyed HMAC).

    Returns
    -------
    decision_points, need : pandas.DataFrame
        Both with a pseudonymous ``person_id`` column.
    """
    dp = pd.read_parquet(folder / "decision_points.parquet")
    if len(dp):
        dp["person_id"] = pseudonymise(dp["person_id"]).to_numpy()
    need = pd.read_parquet(folder / "need.parquet")
    need.insert(0, "person_id", pseudonymise(person_id(need.pop("person_number"))).to_numpy())
    return dp, need
