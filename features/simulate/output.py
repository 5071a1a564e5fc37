"""The simulation's files: the extract, the ground truth, and writing them atomically.

``<out>/extract/`` is a folder of CSV tables in the shape of a council's own extract
(what ``stratify load`` reads); ``<out>/truth/`` holds the sampled decision points'
true probabilities (and ``need.parquet``, streamed by the run itself).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from stratify.core.files import remove_stale, temporary_sibling
from stratify.features.config import SimulationConfig
from stratify.features.simulate.records import source_ids


@dataclass
class SimulationResult:
    """What a run produced, in memory (and where it was written, if it was)."""

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    extract_date: dt.date
    seconds: float
    folder: Path | None = None


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
    description = (
        f"stratify synthetic borough: seed {cfg.seed}, {cfg.children} children,"
        f" {cfg.years} years (+{cfg.burn_in_years} years of history),"
        f" detection bias {cfg.detection_bias}"
    )
    if cfg.continued_from is not None:
        description += f"; continued from {cfg.continued_from} to {cfg.end_date}"
    if cfg.scenario is not None and not cfg.scenario.neutral:
        description += f"; scenario: {cfg.scenario.describe()}"
    meta = {
        "extract_date": result.extract_date.isoformat(),
        "synthetic": True,
        "description": description,
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


def read_truth_rows(folder: Path) -> pd.DataFrame:
    """Read ``decision_points.parquet`` back into the sampler's rows (:func:`write_truth`)."""
    dp = pd.read_parquet(folder / "decision_points.parquet")
    if len(dp) == 0:
        return pd.DataFrame()
    day = (pd.to_datetime(dp["as_of_date"]) - pd.Timestamp(0)).dt.days
    dp = dp.drop(columns=["person_id", "as_of_date"])
    dp.insert(2, "as_of_day", day.astype(np.int64))
    return dp


def write_atomically[T](out: Path, write: Callable[[Path], T]) -> T:
    """Call ``write`` on a temporary folder beside ``out``, then move it into place.

    On any error the temporary folder is removed and ``out`` is left as it was.

    Returns
    -------
    What ``write`` returned.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out.parent, out.name)  # left by a run that was killed
    tmp = temporary_sibling(out)
    try:
        tmp.mkdir()
        written = write(tmp)
        old = temporary_sibling(out)  # the previous run's folder, removed once replaced
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


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
