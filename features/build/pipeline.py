"""The family-context build: decision points, point-in-time features, audit attributes.

:func:`build` opens the warehouse read-only (checked against the schema, so a missing
table or column is named), forms the target's decision points and labels
(:mod:`.cohorts`), computes every catalogue feature that applies to the target
with Ibis over DuckDB, and returns the feature table (keys, label, features), the audit
table (protected characteristics, same keys) and the metadata.
:func:`~stratify.features.build.output.write_build` writes them atomically. Nothing is written
when any step fails.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from stratify.core.progress import StageCallback as Progress
from stratify.core.targets import Target
from stratify.features.build import cohorts
from stratify.features.build.child import child_features, index_features
from stratify.features.build.facts import (
    Facts,
    Keep,
    Tables,
    as_is,
    household_facts,
    left_join_on,
    person_facts,
)
from stratify.features.build.household import (
    area_at,
    composition,
    household_features,
    member_features,
    residents,
)
from stratify.features.build.output import (
    AUDIT_COLUMNS,
    KEY_COLUMNS,
    FeatureBuild,
    audit_table,
    metadata,
    write_build,
)
from stratify.features.catalogue import Feature, Stat, features_for
from stratify.features.config import FeaturesConfig
from stratify.features.schema import TABLES
from stratify.features.sources import absent_sources, unavailable, unavailable_features
from stratify.features.warehouse import dataset
from stratify.features.warehouse import store as warehouse

__all__ = [
    "AUDIT_COLUMNS",
    "KEY_COLUMNS",
    "FeatureBuild",
    "build",
    "family_context",
    "plan",
    "write_build",
]

ERR_NO_EXTRACT_DATE = "warehouse {path} records no extract_date: load the extract again"

_IBIS_TYPE = {"int": "int32", "bool": "boolean", "category": "string"}
_CHILD_STATS: tuple[Stat, ...] = ("count", "any", "open", "months_since", "age")


class _Keep:
    """Materialise intermediate tables, and drop them all before the connection closes."""

    def __init__(self) -> None:
        self.kept: list[ir.Table] = []

    def __call__(self, expr: ir.Table) -> ir.Table:
        self.kept.append(expr.cache())
        return self.kept[-1]

    def release(self) -> None:
        while self.kept:
            self.kept.pop().release()


def _open(path: Path, threads: int | None, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect() if path.is_dir() else warehouse.connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    return con


def extract_date_of(path: Path, meta: dict[str, str]) -> dt.date:
    """Return the extract date the warehouse (or its dataset) at ``path`` records."""
    try:
        return dt.date.fromisoformat(meta["extract_date"])
    except (KeyError, ValueError):
        raise warehouse.WarehouseError(ERR_NO_EXTRACT_DATE.format(path=path)) from None


def _scalar(expr: ir.Scalar) -> Any:
    """Run a scalar expression through Arrow (no pandas on the way)."""
    return expr.to_pyarrow().as_py()


def _facts(rows: ir.Table, keep: Keep, scalar: Callable[[ir.Scalar], Any]) -> Facts:
    kept = keep(rows)
    most = scalar(kept.group_by("subject").aggregate(n=ibis._.count()).n.max())
    return Facts(kept, most or 0)


def _feature_parts(
    tables: Tables,
    points: ir.Table,
    facts: Facts,
    household: Facts,
    feats: tuple[Feature, ...],
    *,
    progress: Progress,
    keep: Keep,
) -> list[ir.Table]:
    """Return tables of ``dp_id`` and features that together hold every feature."""

    def of(group: str, *stats: str) -> list[Feature]:
        return [f for f in feats if f.group == group and (not stats or f.stat in stats)]

    progress("child features")
    parts = [
        keep(child_features(points, facts, tables["persons"], of("child", *_CHILD_STATS), keep))
    ]
    if of("child", "index"):
        parts.append(keep(index_features(points, tables)))
    progress("household features")
    res = keep(residents(points, tables))
    parts.append(composition(points, res, of("household", "composition")))
    own = of("household", "count", "open")
    parts.append(keep(household_features(points, household, own, keep)))
    progress("siblings and adults features")
    parts.append(keep(member_features(points, res, facts, of("siblings") + of("adults"), keep)))
    return parts


def family_context(  # noqa: PLR0913  # the build's every input, and nothing else: it stays pure
    tables: Tables,
    facts: Facts,
    household: Facts,
    target: Target,
    config: FeaturesConfig,
    *,
    date_range: tuple[dt.date, dt.date],
    extract_date: dt.date,
    keep: Keep = as_is,
    progress: Progress | None = None,
) -> tuple[ir.Table, ir.Table]:
    """Return the feature table and audit table expressions of ``target``.

    Pure: no query runs unless ``keep`` materialises. With unbound tables and the
    default ``keep`` the expressions compile for any Ibis backend (e.g. Spark).

    Parameters
    ----------
    t : Mapping[str, ibis Table]
        The warehouse tables.
    facts, household : Facts
        Person facts and household facts (:mod:`stratify.features.build.facts`).
    target : {"escalation", "rereferral"}
    config : FeaturesConfig
    date_range : tuple of datetime.date
        Inclusive bounds on the decision points' dates.
    extract_date : datetime.date
        The data's last date (labels whose window ends later are null).
    keep : callable, optional
        Materialises intermediate tables.
    progress : callable, optional
        Called with a short description as each stage starts.

    Returns
    -------
    tuple of ibis Table
        Features (keys, label, every applicable catalogue feature) and audit attributes,
        both ordered by person and date.
    """
    say = progress or (lambda _: None)
    say("decision points and labels")
    points = cohorts.decision_points(
        tables, facts, target, config, date_range=date_range, extract_date=extract_date, keep=keep
    )
    order = ibis.row_number().over(order_by=["person_id", "as_of_date"])
    points = keep(points.mutate(dp_id=order))
    feats = features_for(target)
    area = keep(area_at(points, tables["residences"]))
    parts = [*_feature_parts(tables, points, facts, household, feats, progress=say, keep=keep)]
    parts.append(area)
    out = points.select("dp_id", "person_id", "as_of_date", "household_id", "label", "eligible")
    for part in parts:
        out = left_join_on(out, part, "dp_id")
    features = out.order_by("dp_id").select(
        target=ibis.literal(target),
        person_id=out.person_id,
        as_of_date=out.as_of_date,
        household_id=out.household_id,
        label=out.label,
        eligible=out.eligible,
        **{f.name: out[f.name].cast(_IBIS_TYPE[f.dtype]) for f in feats},
    )
    return features, audit_table(points, tables["persons"], area, target)


ERR_NO_HOUSEHOLDS = (
    "escalation decision points are children in a household, and this warehouse has no "
    "household links ({reason}): build the rereferral target, or load a source with households"
)


def _check_sources(target: Target, meta: dict[str, str]) -> None:
    """Raise CohortError when the target's decision points need an absent source."""
    absent = absent_sources(meta)
    if target == "escalation" and "household_members" in absent:
        raise cohorts.CohortError(ERR_NO_HOUSEHOLDS.format(reason=absent["household_members"]))


def _leave_out(
    features: pa.Table, target: Target, meta: dict[str, str]
) -> tuple[pa.Table, tuple[Feature, ...], list[dict[str, Any]]]:
    """Drop the features whose source tables the warehouse lacks; return what is left.

    The loader records absent sources (:mod:`stratify.features.sources`); their features
    would be computed as if nothing had happened, which is not the same as unknown.
    """
    groups = unavailable(target, absent_sources(meta))
    gone = unavailable_features(groups)
    kept = tuple(f for f in features_for(target) if f.name not in gone)
    return features.drop_columns(sorted(gone)), kept, groups


def plan(  # noqa: PLR0913  # every input of the build, whichever engine runs it
    tables: Tables,
    target: Target,
    config: FeaturesConfig,
    *,
    extract_date: dt.date,
    keep: Keep,
    scalar: Callable[[ir.Scalar], Any],
    say: Progress,
) -> tuple[tuple[ir.Table, ir.Table], tuple[dt.date, dt.date]]:
    """Return the feature and audit expressions of ``target``, and the dates they cover.

    The engine-independent middle of the build: ``keep`` materialises intermediate
    tables and ``scalar`` runs a scalar expression on whichever backend the tables are
    bound to (DuckDB here, Spark in :mod:`stratify.features.build.spark`).
    """
    say("person and household facts")
    facts = _facts(person_facts(tables), keep, scalar)
    date_range = cohorts.resolve_date_range(config, scalar(facts.rows.date.min()), extract_date)
    household = _facts(household_facts(tables), keep, scalar)
    exprs = family_context(
        tables,
        facts,
        household,
        target,
        config,
        date_range=date_range,
        extract_date=extract_date,
        keep=keep,
        progress=say,
    )
    return exprs, date_range


def _tables(ib: Any, path: Path) -> dict[str, ir.Table]:
    """Bind the warehouse tables: the DuckDB file's, or a Parquet dataset folder's views."""
    if not path.is_dir():
        return {tab.name: ib.table(tab.name) for tab in TABLES}
    for tab in TABLES:
        ib.raw_sql(
            f'CREATE TEMP VIEW "{tab.name}" AS SELECT * FROM '
            f"read_parquet('{dataset.table_files(path, tab.name)}')"
        )
    return {tab.name: ib.table(tab.name) for tab in TABLES}


def build(
    path: Path | str,
    target: Target,
    config: FeaturesConfig,
    *,
    progress: Progress | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> FeatureBuild:
    """Build the family-context table of ``target`` from the warehouse at ``path``.

    Parameters
    ----------
    path : Path or str
        The warehouse file (opened read-only and checked against the schema), or the
        warehouse exported as a Parquet dataset folder (``stratify export``).
    target : {"escalation", "rereferral"}
    config : FeaturesConfig
        Horizon, snapshot frequency, look-back and date range.
    progress : callable, optional
        Called with a short description as each stage starts.
    threads, memory_limit : optional
        DuckDB settings (e.g. ``2`` and ``"2GB"``); DuckDB's defaults otherwise.

    Returns
    -------
    FeatureBuild

    Raises
    ------
    stratify.features.warehouse.store.WarehouseError
        If the warehouse is missing or stale, or a table or column is missing (named).
    stratify.features.build.cohorts.CohortError
        If the date range is outside the data or empty, or the cohort is empty.
    """
    began, path, say = time.perf_counter(), Path(path), progress or (lambda _: None)
    say("opening the warehouse")
    meta = dataset.check_dataset(path) if path.is_dir() else warehouse.read_meta(path)
    extract_date = extract_date_of(path, meta)
    _check_sources(target, meta)
    con, keep = _open(path, threads, memory_limit), _Keep()
    try:
        ib = ibis.duckdb.from_connection(con)
        tables = _tables(ib, path)
        exprs, date_range = plan(
            tables, target, config, extract_date=extract_date, keep=keep, scalar=_scalar, say=say
        )
        say("collecting the tables")
        features, audit = (e.to_pyarrow() for e in exprs)
    finally:
        keep.release()
        con.close()
    if features.num_rows == 0:
        start, end = date_range
        message = cohorts.ERR_EMPTY_COHORT.format(target=target, start=start, end=end)
        raise cohorts.CohortError(message)
    features, feats, groups = _leave_out(features, target, meta)
    about = metadata(features, target, config, date_range, meta=meta, feats=feats)
    about["unavailable"] = groups
    about["build_seconds"] = round(time.perf_counter() - began, 2)
    about["built_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return FeatureBuild(features, audit, about)
