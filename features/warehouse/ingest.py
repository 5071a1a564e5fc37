"""Load a council's extract folder into the warehouse: read, validate, pseudonymise, write.

The folder holds ``<table>.csv`` for every table in :mod:`stratify.features.schema` and an
optional ``extract.json``. Files are read into an in-memory DuckDB as text, every
validation rule runs (:mod:`.validate`), and only a fully valid extract is
cast, reduced to birth months, pseudonymised and written, atomically, by
:func:`stratify.features.warehouse.store.create_warehouse`. An invalid extract writes nothing but
its violation report.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError

from stratify.core.progress import StageCallback
from stratify.features.schema import TABLES, Table
from stratify.features.warehouse.pseudonymise import (
    ERR_KEY_SHORT,
    MIN_KEY_LENGTH,
    SYNTHETIC_DEMO_KEY,
    PseudonymKeyError,
    key_fingerprint,
    pseudonymise,
    resolve_key,
)
from stratify.features.warehouse.store import create_warehouse
from stratify.features.warehouse.validate import (
    LINE,
    MONTH_COLUMNS,
    Violation,
    find_violations,
    lit,
    parse_sql,
    q,
    source_columns,
    write_report,
)

MANIFEST = "extract.json"
#: Violations kept in memory on the exception; the report file always has all of them.
MAX_HELD_VIOLATIONS = 10_000

ERR_NO_FOLDER = "extract folder {path} does not exist or is not a folder"
ERR_MANIFEST = "{path} is not a valid extract manifest: {reason}"
ERR_INVALID = "the extract has {count} violation(s); nothing was loaded"
ERR_NO_DATES = "the extract holds no dates, so it has no extract date: give one in extract.json"

STAGE_READ = "reading the CSV files"
STAGE_VALIDATE = "validating"
STAGE_PSEUDONYMISE = "pseudonymising"
STAGE_WRITE = "writing the warehouse"

_CSV_OPTIONS = (
    "all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"', "
    "encoding = 'utf-8', store_rejects = true"
)


class IngestError(Exception):
    """The extract folder or its manifest cannot be used."""


class ExtractInvalid(IngestError):
    """The extract breaks validation rules; nothing was written to the warehouse.

    Attributes
    ----------
    violations : list[Violation]
        The violations in report order (the first ``MAX_HELD_VIOLATIONS``).
    total : int
        How many violations there are in all.
    report_path : Path or None
        The CSV report holding every violation, when one was written.
    """

    def __init__(
        self,
        violations: Sequence[Violation],
        *,
        total: int | None = None,
        report_path: Path | None = None,
    ) -> None:
        self.violations = list(violations)
        self.total = len(self.violations) if total is None else total
        self.report_path = report_path
        super().__init__(ERR_INVALID.format(count=self.total))


class Manifest(BaseModel):
    """The optional ``extract.json``: what the council says about its extract."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    extract_date: dt.date | None = None
    synthetic: StrictBool = False
    description: str = ""
    #: The local authority's DfE code (e.g. "352"), recorded so that a later extract of
    #: another council cannot continue this warehouse (``stratify retrain``).
    la_code: str | None = None


@dataclass(frozen=True)
class LoadResult:
    """What a successful load wrote."""

    warehouse: Path
    extract_date: dt.date
    row_counts: Mapping[str, int]
    content_hash: str
    synthetic: bool
    used_demo_key: bool


def read_manifest(src: Path) -> Manifest:
    """Return the folder's ``extract.json`` (defaults if absent: not synthetic, no date)."""
    path = src / MANIFEST
    if not path.exists():
        return Manifest()
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as err:
        reason = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}" for e in err.errors()
        )
        raise IngestError(ERR_MANIFEST.format(path=path, reason=reason)) from None


@contextmanager
def _scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    # Raw identifiers may spill to disk on big extracts: only into a private directory
    # that is deleted afterwards.
    with tempfile.TemporaryDirectory(prefix="stratify-ingest-") as spill:
        con = duckdb.connect(config={"temp_directory": spill})
        try:
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()


def _read_table(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> str | None:
    """Read one CSV into ``raw_<name>`` with line numbers; return its rejects table, if any."""
    raw, csv, rejects = f"raw_{name}", f"csv_{name}", f"rejects_{name}"
    if path.stat().st_size == 0:
        con.execute(f"CREATE TABLE {raw} ({LINE} BIGINT)")
        return None
    con.execute(
        f"CREATE TABLE {csv} AS SELECT * FROM read_csv({lit(str(path))}, {_CSV_OPTIONS}, "
        f"rejects_table = '{rejects}', rejects_scan = 'scan_{name}')"
    )
    if con.execute(f"SELECT count(*) FROM {rejects}").fetchall() == [(0,)]:
        # rowid is the insertion order, which DuckDB keeps for CSV reads; header = line 1
        con.execute(f"CREATE VIEW {raw} AS SELECT rowid + 2 AS {LINE}, * FROM {csv}")
        return None
    # Rejected lines are not in the table: shift each good row past the rejected lines
    # before it (g = good rows before the j-th rejected line).
    con.execute(
        f"CREATE TABLE {raw} AS WITH r AS (SELECT line, row_number() OVER (ORDER BY line) AS j "
        f"FROM (SELECT DISTINCT line FROM {rejects})), g AS (SELECT line - 1 - j AS g, "
        f"max(j) AS j FROM r GROUP BY 1) SELECT c.rowid + 2 + coalesce(g.j, 0) AS {LINE}, c.* "
        f"FROM {csv} c ASOF LEFT JOIN g ON c.rowid + 1 > g.g"
    )
    con.execute(f"DROP TABLE {csv}")
    return rejects


def read_raw(con: duckdb.DuckDBPyConnection, src: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Read every ``<table>.csv`` in ``src`` as text into ``con``.

    Returns
    -------
    raw_tables : dict[str, str]
        Table name -> relation with the file's columns and ``_stratify_line``.
    rejects : dict[str, str]
        Table name -> relation of the lines the CSV reader could not parse.
    """
    raw_tables, rejects = {}, {}
    for t in TABLES:
        path = src / f"{t.name}.csv"
        if path.is_file():
            rejected = _read_table(con, t.name, path)
            raw_tables[t.name] = f"raw_{t.name}"
            if rejected is not None:
                rejects[t.name] = rejected
    return raw_tables, rejects


def _sources(con: duckdb.DuckDBPyConnection, table: Table, raw: str) -> dict[str, str]:
    return source_columns(table, con.sql(f"SELECT * FROM {q(raw)} LIMIT 0").columns)


def _raise_if_invalid(
    con: duckdb.DuckDBPyConnection,
    raw_tables: Mapping[str, str],
    rejects: Mapping[str, str],
    report_path: Path | None,
    extract_date: dt.date | None = None,
) -> None:
    found = find_violations(con, raw_tables, rejects=rejects, extract_date=extract_date)
    total = len(found)
    if total == 0:
        if report_path is not None:
            report_path.unlink(missing_ok=True)  # an old report would describe another extract
        return
    if report_path is not None:
        write_report(found, report_path)
    held = [Violation(*row) for row in found.limit(MAX_HELD_VIOLATIONS).fetchall()]
    raise ExtractInvalid(held, total=total, report_path=report_path)


def _pseudonym_maps(
    con: duckdb.DuckDBPyConnection, raw_tables: Mapping[str, str], key: bytes
) -> None:
    """Register ``map_<namespace>`` (raw, pseudonym): each distinct id is hashed once."""
    selects: dict[str, list[str]] = {}
    for t in TABLES:
        sources = _sources(con, t, raw_tables[t.name])
        for c in t.columns:
            if c.id_namespace is not None:
                sql = f"SELECT {q(sources[c.name])} AS v FROM {q(raw_tables[t.name])}"
                selects.setdefault(c.id_namespace, []).append(sql)
    for namespace, parts in selects.items():
        union = " UNION ALL ".join(parts)
        raw = con.sql(f"SELECT DISTINCT v FROM ({union}) WHERE v IS NOT NULL").to_arrow_table()["v"]
        pseudonyms = pseudonymise(raw, namespace, key, assume_unique=True)
        mapping = pa.table({"raw": raw, "pseudonym": pseudonyms})
        con.register(f"map_{namespace}", mapping)


def _typed(con: duckdb.DuckDBPyConnection, table: Table, raw: str) -> duckdb.DuckDBPyRelation:
    """Return the table as loaded: typed, birth months reduced, ids pseudonymised."""
    sources = _sources(con, table, raw)
    selects, joins = [], []
    for i, column in enumerate(table.columns):
        if column.id_namespace is not None:
            joins.append(
                f"LEFT JOIN map_{column.id_namespace} m{i} "
                f"ON m{i}.raw = c.{q(sources[column.name])}"
            )
            expr = f"m{i}.pseudonym"
        else:
            expr = parse_sql(table.name, column, sources[column.name])
            if (table.name, column.name) in MONTH_COLUMNS:
                expr = f"CAST(date_trunc('month', {expr}) AS DATE)"
            elif column.type == "TINYINT":
                expr = f"CAST({expr} AS TINYINT)"
        selects.append(f"{expr} AS {q(column.name)}")
    return con.sql(f"SELECT {', '.join(selects)} FROM {q(raw)} c {' '.join(joins)}")


def _latest_date(con: duckdb.DuckDBPyConnection, raw_tables: Mapping[str, str]) -> dt.date:
    parts = []
    for t in TABLES:
        sources = _sources(con, t, raw_tables[t.name])
        for c in t.columns:
            if c.type == "DATE":
                parsed = parse_sql(t.name, c, sources[c.name])
                parts.append(f"SELECT max({parsed}) AS d FROM {q(raw_tables[t.name])} c")
    [(latest,)] = con.execute(f"SELECT max(d) FROM ({' UNION ALL '.join(parts)})").fetchall()
    if latest is None:
        raise IngestError(ERR_NO_DATES)
    return latest


def extract_key(key: bytes | None, secret: str | None, manifest: Manifest) -> bytes:
    """Return the pseudonymisation key for an extract: ``key``, or resolved from ``secret``.

    Every loader calls it before its slow stages, so a short key fails at once.

    Raises
    ------
    PseudonymKeyError
        If no key can be resolved, or the key is too short.
    """
    key = resolve_key(secret, synthetic=manifest.synthetic) if key is None else key
    if len(key) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(ERR_KEY_SHORT)
    return key


def write_pseudonymised(  # noqa: PLR0913 - one step of every loader, its inputs keyword-only
    con: duckdb.DuckDBPyConnection,
    raw_tables: Mapping[str, str],
    warehouse: Path,
    *,
    key: bytes,
    meta: dict[str, str],
    synthetic: bool,
    say: StageCallback | None = None,
) -> LoadResult:
    """Pseudonymise and type the raw tables, write the warehouse; return what was loaded.

    ``say`` (optional) is told :data:`STAGE_WRITE` when the writing starts.
    """
    _pseudonym_maps(con, raw_tables, key)
    tables = {t.name: _typed(con, t, raw_tables[t.name]) for t in TABLES}
    if say is not None:
        say(STAGE_WRITE)
    written = create_warehouse(warehouse, tables, meta)
    counts = {t.name: int(written[f"rows.{t.name}"]) for t in TABLES}
    return LoadResult(
        warehouse,
        dt.date.fromisoformat(meta["extract_date"]),
        counts,
        written["content_hash"],
        synthetic,
        key == SYNTHETIC_DEMO_KEY,
    )


def load_extract(
    src: Path,
    warehouse: Path,
    *,
    key: bytes | None = None,
    secret: str | None = None,
    report_path: Path | None = None,
    progress: StageCallback | None = None,
) -> LoadResult:
    """Validate the extract in ``src`` and, only if it is valid, load it into ``warehouse``.

    Parameters
    ----------
    src : Path
        The extract folder.
    warehouse : Path
        The warehouse file, replaced atomically (untouched if anything fails).
    key : bytes, optional
        Pseudonymisation key; by default resolved from ``secret``
        (:func:`~stratify.features.warehouse.pseudonymise.resolve_key`).
    secret : str, optional
        ``$STRATIFY_PSEUDONYM_KEY`` as resolved at the edge; without it only an extract
        declared synthetic can load (with the public demo key).
    report_path : Path, optional
        Where to write the CSV of every violation if the extract is invalid. A report
        left there by an earlier run is removed when this extract is valid.
    progress : callable, optional
        Called with each stage's name (``STAGE_*``) as it starts.

    Returns
    -------
    LoadResult

    Raises
    ------
    IngestError
        If the folder does not exist or ``extract.json`` is invalid.
    ExtractInvalid
        If any validation rule is broken (all violations are listed).
    PseudonymKeyError
        If no key is given and none can be resolved, or the key is too short.
    """
    src, warehouse = Path(src), Path(warehouse)
    if not src.is_dir():
        raise IngestError(ERR_NO_FOLDER.format(path=src))
    manifest = read_manifest(src)
    key = extract_key(key, secret, manifest)  # before the slow stages, not after them
    say = progress or (lambda stage: None)
    with _scratch() as con:
        say(STAGE_READ)
        raw_tables, rejects = read_raw(con, src)
        say(STAGE_VALIDATE)
        _raise_if_invalid(con, raw_tables, rejects, report_path, manifest.extract_date)
        say(STAGE_PSEUDONYMISE)
        extract_date = manifest.extract_date or _latest_date(con, raw_tables)
        meta = {
            "extract_date": extract_date.isoformat(),
            "synthetic": str(manifest.synthetic).lower(),
            "description": manifest.description,
            "key_fingerprint": key_fingerprint(key),
        }
        if manifest.la_code:
            meta["la_code"] = manifest.la_code
        return write_pseudonymised(
            con, raw_tables, warehouse, key=key, meta=meta, synthetic=manifest.synthetic, say=say
        )
