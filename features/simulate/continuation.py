"""Continue a simulated borough by some months: the same people, state and random streams.

:func:`continue_simulation` reads ``<sim>/state`` (:mod:`stratify.features.simulate.state`),
steps the saved world through the extra months with its saved random stream, and writes
a new simulation folder: the extract of the whole period (the original window and the
new months), its ground truth and its own state, so it can be continued again.

What a council's next extract would show, the continued extract shows: the records are
the saved ones with the new months' appended, and the only older rows that change are
those still open at the previous extract date (a referral, plan or membership that now
ends, a person's current address). Record identifiers keep their numbers, so every row
closed by the previous extract date is the same, byte for byte, in the new one.

Ground truth is sampled in the new test window (the last ``truth_window_months`` months
of complete label windows). Its months the previous run had already sampled are taken
from its truth file unchanged (the sampler draws each month's points from a stream of
that month's own, and their label windows end before the previous extract date); the
months after them are sampled by replaying the saved world from its rewind snapshot
(the first month whose label window was incomplete) up to the end state, with the same
random stream. The replay must arrive at the saved end state exactly; if it does not
(another numpy or machine), a warning says so and the truth of those months comes from
a world that differs slightly from the one in the extract.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from stratify.core.progress import StepCallback as Progress
from stratify.features.config import FeaturesConfig, ScenarioConfig, SimulationConfig
from stratify.features.simulate.output import SimulationResult, read_truth_rows, write_atomically
from stratify.features.simulate.params import SimParams
from stratify.features.simulate.records import to_tables
from stratify.features.simulate.run import (
    Simulated,
    _NeedWriter,
    advance,
    calendar,
    rewind_month,
    truth_sampler,
    write_outputs,
)
from stratify.features.simulate.scenario import NEUTRAL
from stratify.features.simulate.state import (
    TRUTH_SETTINGS,
    ContinuationError,
    SavedState,
    Snapshot,
    load_state,
    rewound,
    same_world,
)
from stratify.features.simulate.truth import TruthSampler
from stratify.features.simulate.world import World

#: What may differ between the saved config and the one given: the dates and the scenario.
MAY_DIFFER = ("end_date", "continued_from", "scenario")
ERR_MONTHS = "a simulation is continued by at least 1 month, not {months}"
ERR_CONFIG = "cannot continue {folder}: the config differs from the one it was simulated with"
ERR_PARAMS = "cannot continue {folder}: its rates (SimParams) differ from the ones given"
ERR_CALENDAR = "{folder}: the saved state ends after {found} months, its config after {expected}"
ERR_QUOTAS = (
    "cannot continue {folder}: its ground-truth window would hold another number of"
    " snapshots (snapshot_months {snapshot} does not divide truth_window_months {window})"
)
WARN_REPLAY = (
    "replaying {folder} from its rewind month did not reproduce its saved end state"
    " (differs in {names}): the new months' ground truth comes from a slightly different world"
)


def continue_simulation(  # noqa: PLR0913 - every setting checked against the saved one, and a hook
    folder: Path,
    months: int = 3,
    out: Path | None = None,
    *,
    cfg: SimulationConfig | None = None,
    features: FeaturesConfig | None = None,
    params: SimParams | None = None,
    scenario: ScenarioConfig | None = None,
    progress: Progress | None = None,
    before_new_months: Callable[[World, int], object] | None = None,
) -> SimulationResult:
    """Continue the borough simulated in ``folder`` by ``months`` months; write it to ``out``.

    Parameters
    ----------
    folder : Path
        A folder written by :func:`~stratify.features.simulate.simulate` (or by this
        function): it holds ``extract/``, ``truth/`` and ``state/``.
    months : int
        Months to add. The new extract date is the last day of the last of them.
    out : Path, optional
        Where to write; default ``<folder's parent>/sim-<new extract date>``. Written
        to a temporary folder and renamed, so an error leaves nothing behind.
    cfg : SimulationConfig, optional
        The config in use, checked against the saved one: everything but the dates and
        the scenario must be equal. Default: the saved config.
    features : FeaturesConfig, optional
        Checked likewise (horizon, lookback and snapshot months, on which truth depends).
    params : SimParams, optional
        Checked likewise; default the saved rates.
    scenario : ScenarioConfig, optional
        The world's change from the first new month on. Default: ``cfg.scenario`` if
        set, else the scenario the saved simulation ended with (none for a fresh one).
        ``ScenarioConfig()`` returns to the calibrated world.
    progress : callable, optional
        Called with (months done, months in all): the replayed months, then the new ones.
    before_new_months : callable, optional
        Called with the world and the first new month's index once the saved months are
        replayed, before the new months are stepped (e.g. the borough's response to
        managers' decisions, :mod:`stratify.features.simulate.response`).

    Returns
    -------
    SimulationResult
        The continued extract's tables, its truth sample, its extract date, the seconds
        taken and ``folder`` (the folder written).

    Raises
    ------
    ContinuationError
        If the folder has no readable state, or the config, decision-point settings or
        rates differ from the saved ones (the message names each difference).
    """
    folder = Path(folder)
    if months < 1:
        raise ContinuationError(ERR_MONTHS.format(months=months))
    state = load_state(folder, months)
    new_cfg = continued_config(state, months, cfg, scenario, folder)
    features = _checked_features(state, features, folder)
    if params is not None and params != state.params:
        raise ContinuationError(ERR_PARAMS.format(folder=folder))
    out = Path(out) if out is not None else folder.parent / f"sim-{new_cfg.end_date.isoformat()}"

    def write(tmp: Path) -> SimulationResult:
        (tmp / "truth").mkdir()
        done = continue_world(
            state,
            new_cfg,
            features,
            months,
            truth_from=folder / "truth",
            need_path=tmp / "truth" / "need.parquet",
            progress=progress,
            name=str(folder),
            before_new_months=before_new_months,
        )
        write_outputs(tmp, done, new_cfg, features, state.params)
        return done.result

    result = write_atomically(out, write)
    result.folder = out
    return result


def _differences(saved: object, given: object, names: tuple[str, ...] | list[str]) -> list[str]:
    return [
        f"{k}: {getattr(saved, k)!r} saved, {getattr(given, k)!r} given"
        for k in names
        if getattr(saved, k) != getattr(given, k)
    ]


def continued_config(
    state: SavedState,
    months: int,
    cfg: SimulationConfig | None,
    scenario: ScenarioConfig | None,
    folder: Path,
) -> SimulationConfig:
    """Return the continuation's config: the saved one, ``months`` later, with its scenario."""
    saved = state.config
    if calendar(saved)[1] != state.month:
        raise ContinuationError(
            ERR_CALENDAR.format(folder=folder, found=state.month, expected=calendar(saved)[1])
        )
    if cfg is not None:
        compared = [k for k in SimulationConfig.model_fields if k not in MAY_DIFFER]
        diffs = _differences(saved, cfg, compared)
        if diffs:
            raise ContinuationError(ERR_CONFIG.format(folder=folder) + ": " + "; ".join(diffs))
    if scenario is None:
        scenario = cfg.scenario if cfg is not None and cfg.scenario is not None else saved.scenario
    next_month = np.datetime64(saved.end_date, "M") + np.timedelta64(months + 1, "M")
    month_end = next_month.astype("datetime64[D]") - np.timedelta64(1, "D")
    update = {
        "end_date": month_end.astype(dt.date),
        "continued_from": saved.continued_from or saved.end_date,
        "scenario": scenario,
    }
    return SimulationConfig.model_validate({**dict(saved), **update})


def _checked_features(
    state: SavedState, features: FeaturesConfig | None, folder: Path
) -> FeaturesConfig:
    wanted = state.truth_features(features)
    if features is not None:
        diffs = _differences(wanted, features, TRUTH_SETTINGS)
        if diffs:
            raise ContinuationError(ERR_CONFIG.format(folder=folder) + ": " + "; ".join(diffs))
    return wanted


def continue_world(  # noqa: PLR0913 - continue_simulation's settings, passed on
    state: SavedState,
    cfg: SimulationConfig,
    features: FeaturesConfig,
    months: int,
    *,
    truth_from: Path,
    need_path: Path | None = None,
    progress: Progress | None = None,
    name: str = "the simulation",
    before_new_months: Callable[[World, int], object] | None = None,
) -> Simulated:
    """Step the saved world ``months`` more months (in memory); see the module docstring.

    ``truth_from`` is the continued simulation's truth folder: its sample is reused for
    the window's months it covers, and its ``need.parquet`` is copied ahead of the new
    months' into ``need_path``.
    """
    started = time.perf_counter()
    w, first_new = state.world, state.month
    total = first_new + months
    w.scenario = w.scenario.then(first_new, cfg.scenario or NEUTRAL)
    w.log = []
    sampler, kept = _truth_plan(state, cfg, features, total, truth_from=truth_from, name=name)
    rewind_at = rewind_month(total, features.horizon_months)
    steps = first_new - state.rewind.month + months
    done = iter(range(1, steps + 1))

    def tick() -> None:
        if progress:
            progress(next(done), steps)

    rewind = _replay(state, sampler, rewind_at, tick, name)
    if before_new_months is not None:
        before_new_months(w, first_new)
    need = _NeedWriter(need_path, earlier=truth_from / "need.parquet" if need_path else None)
    try:
        rewind = (
            advance(w, range(first_new, total), sampler, need=need, rewind_at=rewind_at, tick=tick)
            or rewind
        )
    finally:
        need.close()
    assert w.rec is not None and rewind is not None
    frames = [f for f in (kept, pd.DataFrame(sampler.rows)) if len(f)]
    truth = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    tables = to_tables(w.rec, w.persons.to_dict(), w.lsoa)
    result = SimulationResult(tables, truth, cfg.end_date, time.perf_counter() - started)
    return Simulated(result, w, total, rewind)


def _truth_plan(
    state: SavedState,
    cfg: SimulationConfig,
    features: FeaturesConfig,
    total: int,
    *,
    truth_from: Path,
    name: str,
) -> tuple[TruthSampler, pd.DataFrame]:
    """Return the sampler of the months still to sample, and the earlier rows kept."""
    before = truth_sampler(state.config, features, state.month)
    sampler = truth_sampler(cfg, features, total, resume_at=before.window.stop)
    kept = _reused_truth(read_truth_rows(truth_from), state.world.month_day, sampler.window)
    if len(kept) and sampler.quotas(state.world) != before.quotas(state.world):
        raise ContinuationError(
            ERR_QUOTAS.format(
                folder=name, snapshot=features.snapshot_months, window=cfg.truth_window_months
            )
        )
    return sampler, kept


def _replay(
    state: SavedState,
    sampler: TruthSampler,
    rewind_at: int,
    tick: Callable[[], None],
    name: str,
) -> Snapshot | None:
    """Replay the saved world from its rewind month to its end, sampling truth on the way."""
    replay = rewound(state)
    replay.log = []
    rewind = advance(
        replay, range(state.rewind.month, state.month), sampler, rewind_at=rewind_at, tick=tick
    )
    differ = same_world(replay, state.world)
    if differ:
        names = ", ".join(differ[:5]) + (", ..." if len(differ) > 5 else "")
        warnings.warn(WARN_REPLAY.format(folder=name, names=names), RuntimeWarning, stacklevel=3)
    return rewind


def _reused_truth(rows: pd.DataFrame, month_day: np.ndarray, window: range) -> pd.DataFrame:
    """Return the earlier sample's rows dated in ``window``."""
    if len(rows) == 0:
        return rows
    month = np.searchsorted(month_day, rows["as_of_day"].to_numpy(), side="right") - 1
    return rows[(month >= window.start) & (month < window.stop)].reset_index(drop=True)
