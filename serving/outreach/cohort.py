"""One date's escalation cohort, built from the warehouse with only what was known then.

:func:`cohort_at` runs the feature build (:func:`stratify.features.build.pipeline.build`)
over a date range of exactly one day with a monthly snapshot, so the decision points are
the escalation cohort of that date: every child known to a service in the look-back window
who is not open to statutory social care on it. Every feature counts only facts dated
strictly before the date, exactly as in training; labels of a recent date are null.
The as-of date must therefore be the first day of a month (a snapshot date).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stratify.core.progress import StageCallback
from stratify.core.targets import Target
from stratify.features.build.pipeline import build
from stratify.features.config import FeaturesConfig
from stratify.features.warehouse import store as warehouse

TARGET: Target = "escalation"
ERR_NOT_FIRST = "the as-of date must be the first day of a month (e.g. {example}), got {day}"
ERR_UNKNOWN_LOCALITY = "unknown locality {name!r}; the warehouse has: {known}"
ERR_NO_LOCALITIES = "the warehouse records no localities"


@dataclass(frozen=True)
class Cohort:
    """One date's cohort: feature and audit rows (same children, same order)."""

    as_of: dt.date
    features: pd.DataFrame
    audit: pd.DataFrame
    build_seconds: float


def check_date(as_of: dt.date) -> dt.date:
    """Return ``as_of`` if it is a snapshot date (a month's first day).

    Raises
    ------
    ValueError
        If it is not.
    """
    if as_of.day != 1:
        example = as_of.replace(day=1)
        raise ValueError(ERR_NOT_FIRST.format(example=example, day=as_of))
    return as_of


def known_localities(path: Path) -> list[str]:
    """Return the localities of the warehouse's residences, sorted.

    Raises
    ------
    stratify.features.warehouse.store.WarehouseError
        If the warehouse is missing or does not match the schema.
    """
    con = warehouse.connect(path, read_only=True)
    try:
        rows = con.execute(
            "SELECT DISTINCT locality FROM residences WHERE locality IS NOT NULL"
        ).fetchall()
    finally:
        con.close()
    return sorted(str(r[0]) for r in rows)


def resolve_locality(name: str | None, known: list[str]) -> str | None:
    """Return the warehouse's spelling of ``name`` (case-insensitive), None for all.

    Raises
    ------
    ValueError
        If ``name`` is not a known locality (the message lists the known ones).
    """
    if name is None:
        return None
    for k in known:
        if k.casefold() == name.strip().casefold():
            return k
    listing = ", ".join(known) if known else ERR_NO_LOCALITIES
    raise ValueError(ERR_UNKNOWN_LOCALITY.format(name=name, known=listing))


def cohort_at(
    path: Path,
    as_of: dt.date,
    config: FeaturesConfig,
    *,
    progress: StageCallback | None = None,
    threads: int | None = None,
) -> Cohort:
    """Build the escalation cohort of ``as_of`` from the warehouse at ``path``.

    Parameters
    ----------
    path : Path
        The warehouse file.
    as_of : datetime.date
        The first day of a month within the data's range.
    config : FeaturesConfig
        The run's feature settings (horizon, look-back); its date range is replaced.
    progress : callable, optional
        Called with a short description as each build stage starts.
    threads : int, optional
        DuckDB threads.

    Returns
    -------
    Cohort

    Raises
    ------
    ValueError
        If ``as_of`` is not a month's first day.
    stratify.features.warehouse.store.WarehouseError, stratify.features.build.cohorts.CohortError
        If the warehouse is missing or stale, or the date is outside the data or has
        no cohort.
    """
    check_date(as_of)
    one_day = config.model_copy(
        update={"start_date": as_of, "end_date": as_of, "snapshot_months": 1}
    )
    result = build(path, TARGET, one_day, progress=progress, threads=threads)
    features = result.features.to_pandas()
    audit = result.audit.to_pandas()
    return Cohort(as_of, features, audit, float(result.metadata["build_seconds"]))
