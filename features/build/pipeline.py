"""The family-context build: decision points, point-in-time features, audit attributes.

:func:`build` opens the warehouse read-only (checked against the schema, so a missing
table or column is named), forms the target's decision points and labels
(:mod:`.cohorts`), computes every catalogue feature that applies to the target
with Ibis over DuckDB, and returns the feature table (keys, label, features), the audit
table (protected characteristics, same keys) and the metadata.
:func:`~stratify.features.build.output.write_build` writes them atomically. Nothing is written
when any step fails.

:func:`build_to` (what ``stratify features`` runs) streams instead: DuckDB builds the
cohort in parts of at most :data:`CHILDREN_PER_PART` children and writes the tables
itself, so memory stays bounded at any scale; :func:`build` collects the same tables
for a cohort that fits in memory.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from stratify.core.files import remove_stale, temporary_sibling
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
    describe,
    staged_outputs,
    stamped,
    summary,
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
    "build_to",
    "family_context",
    "plan",
    "write_build",
]

ERR_NO_EXTRACT_DATE = "warehouse {path} records no extract_date: load the extract again"

#: Children per part of a DuckDB build: each part's decision points are built and
#: written on their own, so memory grows with the part, not the cohort (about 1.5M
#: escalation points a part on the benchmark's region: its 10M-point build peaked at
#: 4.5 GB, against 9.2 GB collected whole).
CHILDREN_PER_PART = 100_000
#: The order of the feature and audit tables' rows.
ORDER = ("person_id", "as_of_date")
#: The scratch folder (kept tables, spill files) of a streamed build, beside its outputs.
SCRATCH = "build-scratch"
_IBIS_TYPE = {"int": "int32", "bool": "boolean", "category": "string"}
_CHILD_STATS: tuple[Stat, ...] = ("count", "any", "open", "months_since", "age")


def _quoted(path: Path) -> str:
    """Return ``path`` as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def write_typed(
    ib: Any,
    expr: ir.Table,
    path: Path,
    *,
    order_by: tuple[str, ...] = (),
    compression: str = "lz4_raw",
) -> None:
    """Have DuckDB write ``expr`` to the Parquet file ``path``, cast to the schema Ibis declares.

    DuckDB may compute a wider type than Ibis declares (``label``, an int8 in Ibis, is
    an int32 in DuckDB after a ``CASE``), and Ibis drops a cast to the type it already
    believes; so every column is cast here, in the SQL. Rows are in ``order_by`` order
    (in no particular order without it).
    """
    from ibis.backends.sql.datatypes import DuckDBType

    ib._run_pre_execute_hooks(expr)  # registers the in-memory tables it reads
    cols = ", ".join(
        f'CAST("{name}" AS {DuckDBType.to_string(dtype)}) AS "{name}"'
        for name, dtype in expr.schema().items()
    )
    order = f" ORDER BY {', '.join(f'"{c}"' for c in order_by)}" if order_by else ""
    ib.con.execute(
        f"COPY (SELECT {cols} FROM ({ib.compile(expr)}){order}) TO {_quoted(path)} "
        f"(FORMAT parquet, COMPRESSION {compression})"
    )


class _Keep:
    """Keep intermediate tables as Parquet files in a scratch folder, and drop them after.

    Each kept table is written once (DuckDB's parallel Parquet writer) and read back
    through a view, so it costs disk, not memory: held as DuckDB temporary tables, the
    kept tables of a 10M-point build alone outgrew any sensible memory limit and every
    later join spilled. :meth:`part` marks where one part's tables begin, and
    :meth:`release_part` drops them (views and files) once the part is written.
    """

    def __init__(self, ib: Any, scratch: Path) -> None:
        self.ib, self.scratch = ib, scratch
        self.kept: list[tuple[str, Path]] = []
        self.mark, self.made = 0, 0

    def __call__(self, expr: ir.Table) -> ir.Table:
        name = f"stratify_kept_{self.made}"
        self.made += 1
        path = self.scratch / f"{name}.parquet"
        write_typed(self.ib, expr, path)
        self.ib.raw_sql(f"CREATE TEMP VIEW {name} AS SELECT * FROM read_parquet({_quoted(path)})")
        self.kept.append((name, path))
        return self.ib.table(name)

    def part(self) -> _Keep:
        """Mark the tables kept from now on as one part's; return the keep."""
        self.mark = len(self.kept)
        return self

    def release_part(self) -> None:
        """Drop the tables kept since :meth:`part`."""
        self._release(self.mark)

    def release(self) -> None:
        """Drop every kept table."""
        self._release(0)

    def _release(self, start: int) -> None:
        while len(self.kept) > start:
            name, path = self.kept.pop()
            self.ib.raw_sql(f"DROP VIEW IF EXISTS {name}")
            path.unlink(missing_ok=True)


def _nullable(table: pa.Table) -> pa.Table:
    """Return ``table`` with every field nullable (as Ibis declares them).

    DuckDB marks columns it read from its own part files as required; the values are
    the same.
    """
    return table.cast(pa.schema([f.with_nullable(True) for f in table.schema]))


def _in_part(say: Progress, part: str, text: str) -> None:
    say(text + part)


def _ranges(persons: ir.Table, per_part: int) -> list[cohorts.Part]:
    """Split the children into parts of at most ``per_part``, by ranges of ``person_id``.

    Ranges, not hash buckets: the parts, each written in (person, date) order, are in
    order one after another, so the whole table needs no sort at the end.
    """
    children = persons.filter(persons.is_child).select("person_id")
    rank = children.mutate(_n=ibis.row_number().over(order_by="person_id"))
    cuts = rank.filter((rank._n > 0) & (rank._n % per_part == 0)).order_by("person_id").person_id
    edges: list[str | None] = [None, *cuts.to_pyarrow().to_pylist(), None]

    def part(lo: str | None, hi: str | None) -> cohorts.Part:
        def select(person_id: ir.StringValue) -> ir.BooleanValue:
            above = person_id >= lo if lo is not None else person_id.notnull()
            return above & (person_id < hi) if hi is not None else above

        return select

    return [part(lo, hi) for lo, hi in itertools.pairwise(edges)]


@dataclass(frozen=True)
class _Plan:
    """The build's expressions on an open DuckDB connection, and what describes them."""

    ib: Any
    target: Target
    config: FeaturesConfig
    features: ir.Table
    audit: ir.Table
    feats: tuple[Feature, ...]
    groups: list[dict[str, Any]]
    date_range: tuple[dt.date, dt.date]
    meta: dict[str, str]


def _open(
    path: Path, threads: int | None, memory_limit: str | None, scratch: Path
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect() if path.is_dir() else warehouse.connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET temp_directory = ?", [str(scratch / "spill")])
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
    part: cohorts.Part = cohorts.everyone,
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
    part : callable, optional
        Selects the children whose decision points are built (:func:`.cohorts.decision_points`).

    Returns
    -------
    tuple of ibis Table
        Features (keys, label, every applicable catalogue feature) and audit attributes,
        both ordered by person and date.
    """
    say = progress or (lambda _: None)
    say("decision points and labels")
    points = cohorts.decision_points(
        tables,
        facts,
        target,
        config,
        date_range=date_range,
        extract_date=extract_date,
        keep=keep,
        part=part,
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


def leave_out(
    features: ir.Table, target: Target, meta: dict[str, str]
) -> tuple[ir.Table, tuple[Feature, ...], list[dict[str, Any]]]:
    """Drop the features whose source tables the warehouse lacks; return what is left.

    The loader records absent sources (:mod:`stratify.features.sources`); their features
    would be computed as if nothing had happened, which is not the same as unknown.
    Every engine's build applies this to the feature table's expression.

    Returns
    -------
    tuple
        The expression without those columns, the features kept, and the unavailable
        groups (:func:`stratify.features.sources.unavailable`) for the metadata.
    """
    groups = unavailable(target, absent_sources(meta))
    gone = unavailable_features(groups)
    kept = tuple(f for f in features_for(target) if f.name not in gone)
    return (features.drop(*sorted(gone)) if gone else features), kept, groups


def check_sources(target: Target, meta: dict[str, str]) -> None:
    """Raise CohortError when the target's decision points need an absent source."""
    absent = absent_sources(meta)
    if target == "escalation" and "household_members" in absent:
        raise cohorts.CohortError(ERR_NO_HOUSEHOLDS.format(reason=absent["household_members"]))


def prepare(
    tables: Tables,
    config: FeaturesConfig,
    *,
    extract_date: dt.date,
    keep: Keep,
    scalar: Callable[[ir.Scalar], Any],
    say: Progress,
) -> tuple[Facts, Facts, tuple[dt.date, dt.date]]:
    """Return the kept person and household facts, and the decision points' date range."""
    say("person and household facts")
    facts = _facts(person_facts(tables), keep, scalar)
    date_range = cohorts.resolve_date_range(config, scalar(facts.rows.date.min()), extract_date)
    return facts, _facts(household_facts(tables), keep, scalar), date_range


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

    The build in one piece, as Spark runs it (:mod:`stratify.features.build.spark`):
    ``keep`` materialises intermediate tables and ``scalar`` runs a scalar expression on
    Spark. DuckDB runs the same two steps, :func:`prepare` once and
    :func:`family_context` for each part of the children (:func:`_planned`).
    """
    facts, household, date_range = prepare(
        tables, config, extract_date=extract_date, keep=keep, scalar=scalar, say=say
    )
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


@contextmanager
def _planned(  # noqa: PLR0913  # the build's inputs and DuckDB's settings
    path: Path,
    target: Target,
    config: FeaturesConfig,
    scratch: Path,
    *,
    say: Progress,
    threads: int | None,
    memory_limit: str | None,
) -> Iterator[_Plan]:
    """Open the warehouse on DuckDB and yield the build's expressions, bound to it.

    Kept tables and DuckDB's spill files go into ``scratch`` (removed on leaving);
    the connection closes on leaving, so the expressions must be run inside.
    """
    say("opening the warehouse")
    meta = dataset.check_dataset(path) if path.is_dir() else warehouse.read_meta(path)
    extract_date = extract_date_of(path, meta)
    check_sources(target, meta)
    con = _open(path, threads, memory_limit, scratch)
    ib = ibis.duckdb.from_connection(con)
    keep = _Keep(ib, scratch)
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        tables = _tables(ib, path)
        facts, household, date_range = prepare(
            tables, config, extract_date=extract_date, keep=keep, scalar=_scalar, say=say
        )
        parts = _ranges(tables["persons"], CHILDREN_PER_PART)
        n = len(parts)
        for i, part in enumerate(parts):
            features, audit = family_context(
                tables,
                facts,
                household,
                target,
                config,
                date_range=date_range,
                extract_date=extract_date,
                keep=keep.part(),
                progress=partial(_in_part, say, f" (part {i + 1} of {n})" if n > 1 else ""),
                part=part,
            )
            for name, expr in (("features", features), ("audit", audit)):
                write_typed(ib, expr, scratch / f"{name}-{i}.parquet", order_by=ORDER)
            keep.release_part()
        features, audit = (
            ib.read_parquet([scratch / f"{name}-{i}.parquet" for i in range(n)])
            for name in ("features", "audit")
        )
        con.execute("SET preserve_insertion_order = true")  # the parts follow one another
        features, feats, groups = leave_out(features, target, meta)
        yield _Plan(ib, target, config, features, audit, feats, groups, date_range, meta)
    finally:
        keep.release()
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _metadata(
    p: _Plan, counts: dict[str, int], categories: dict[str, list[str]], began: float
) -> dict[str, Any]:
    cohorts.require_points(p.target, counts["rows"], *p.date_range)
    about = describe(
        counts, categories, p.target, p.config, p.date_range, meta=p.meta, feats=p.feats
    )
    return stamped(about, p.groups, began)


def build(
    path: Path | str,
    target: Target,
    config: FeaturesConfig,
    *,
    progress: Progress | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> FeatureBuild:
    """Build the family-context table of ``target`` from the warehouse at ``path``, in memory.

    For a cohort that fits in memory (a day's list, tests); :func:`build_to` streams
    the tables to Parquet instead and is what ``stratify features`` runs.

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
    with (
        tempfile.TemporaryDirectory(prefix="stratify-build-") as scratch,
        _planned(
            path, target, config, Path(scratch), say=say, threads=threads, memory_limit=memory_limit
        ) as p,
    ):
        say("collecting the tables")
        features, audit = (_nullable(e.to_pyarrow()) for e in (p.features, p.audit))
        counts, categories = summary(ibis.memtable(features), p.feats, p.ib.to_pyarrow)
        about = _metadata(p, counts, categories, began)
    return FeatureBuild(features, audit, about)


def build_to(  # noqa: PLR0913  # the build's inputs, where it writes, DuckDB's settings
    path: Path | str,
    target: Target,
    config: FeaturesConfig,
    out: Path | str,
    *,
    progress: Progress | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> dict[str, Any]:
    """Build ``target``'s family-context tables and write them into ``out``, streaming.

    As :func:`build`, but DuckDB writes ``features.parquet`` and ``audit.parquet``
    itself (``COPY ... TO``) and the metadata comes from SQL aggregates over the written
    file, so no table passes through Python: memory stays within DuckDB's limit (which
    spills to a scratch folder in ``out``). The three files replace the previous ones
    only when all are complete (:func:`~stratify.features.build.output.staged_outputs`).

    Returns
    -------
    dict
        The metadata written.
    """
    began, path, out, say = time.perf_counter(), Path(path), Path(out), progress or (lambda _: None)
    remove_stale(out, SCRATCH)
    with (
        staged_outputs(out) as staged,
        _planned(
            path,
            target,
            config,
            temporary_sibling(out / SCRATCH),
            say=say,
            threads=threads,
            memory_limit=memory_limit,
        ) as p,
    ):
        say("writing the tables")
        p.ib.to_parquet(p.features, staged["features"], compression="zstd")
        p.ib.to_parquet(p.audit, staged["audit"], compression="zstd")
        say("metadata from SQL aggregates")
        counts, categories = summary(
            p.ib.read_parquet(staged["features"]), p.feats, p.ib.to_pyarrow
        )
        about = _metadata(p, counts, categories, began)
        staged["metadata"].write_text(json.dumps(about, indent=2, sort_keys=True) + "\n")
    return about
