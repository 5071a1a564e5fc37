"""Load a folder of Standard Safeguarding Dataset (SSD) CSV tables through a declared mapping.

The mapping (``features/data/ssd_mapping.yaml``) says, for each warehouse column, which
SSD table and field it comes from and how codes translate; this module turns it into one
SQL query per warehouse table over the CSVs read as text, so no field has code of its
own. The queries' rows keep the source CSV line, and the same canonical validation,
pseudonymisation and atomic write as the CSV path follow. Warehouse tables the SSD
cannot supply load empty and are recorded absent, with the reason, for the build
(:mod:`stratify.features.sources`). Strict: any error refuses the load; the report
(:mod:`.report`) is written beside the SSD folder's files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml

from stratify.core.progress import StageCallback
from stratify.features.schema import TABLES, Table
from stratify.features.sources import META_ABSENT
from stratify.features.warehouse.ingest import (
    IngestError,
    LoadResult,
    _latest_date,
    _read_table,
    _scratch,
    extract_key,
    read_manifest,
    write_pseudonymised,
)
from stratify.features.warehouse.pseudonymise import key_fingerprint
from stratify.features.warehouse.report import Issue, issue, write_report
from stratify.features.warehouse.validate import LINE, find_violations, lit, q

MAPPING_FILE = "ssd_mapping.yaml"
ERR_NO_FOLDER = "{path} is not a folder of SSD tables (ssd_*.csv)"
ERR_REFUSED = "the SSD tables have {errors} error(s); nothing was loaded"
_LINE_RE = re.compile(r"line (\d+)\)?$")


class SsdInvalid(IngestError):
    """The SSD folder has errors (missing tables or columns, or broken rules)."""

    def __init__(self, issues: list[Issue], report: tuple[Path, Path]) -> None:
        self.issues, self.report = issues, report
        errors = sum(1 for i in issues if i.severity == "error")
        super().__init__(ERR_REFUSED.format(errors=errors))


@dataclass(frozen=True)
class SsdLoadResult:
    """An SSD load: what was written, the report, and which warehouse tables are absent."""

    load: LoadResult
    report: tuple[Path, Path]
    absent: dict[str, str]


@cache
def mapping() -> dict[str, Any]:
    """Return the declared SSD -> warehouse mapping."""
    text = (resources.files("stratify.features.data") / MAPPING_FILE).read_text()
    return dict(yaml.safe_load(text))


def _lookup(spec: dict[str, Any]) -> dict[str, Any]:
    return dict(spec["lookup"])


def _fields(field: str | list[str]) -> list[str]:
    """Return a lookup's field(s), in order of preference."""
    return [field] if isinstance(field, str) else list(field)


def needed(spec_map: Mapping[str, Any] | None = None) -> dict[str, set[str]]:
    """Return every SSD table the mapping reads and the fields it needs from each."""
    m = spec_map or mapping()
    out: dict[str, set[str]] = {}
    for table in m["tables"].values():
        if "from" not in table:
            continue
        fields = out.setdefault(table["from"], set())
        for spec in table["columns"].values():
            if isinstance(spec, str):
                fields.add(spec)
            elif isinstance(spec, dict) and "lookup" in spec:
                look = _lookup(spec)
                fields.add(look["by"])
                out.setdefault(look["table"], set()).update({look["key"], *_fields(look["field"])})
            elif isinstance(spec, dict):
                for kind in ("date", "else", "field", "json_list"):
                    if kind in spec:
                        fields.add(spec[kind])
    return out


def _date(sql: str) -> str:
    # SSD datetimes come as "2021-05-03 00:00:00" or "2021-05-03T00:00:00": keep the date
    return f"NULLIF(left(trim({sql}), 10), '')"


def _translate(sql: str, name: str) -> str:
    table = mapping()["translations"][name]
    codes = table.get("codes", table)
    default = table.get("default")
    whens = " ".join(f"WHEN {lit(str(k))} THEN {lit(str(v))}" for k, v in codes.items())
    other = lit(str(default)) if default is not None else sql
    return f"(CASE WHEN {sql} IS NULL THEN NULL ELSE (CASE {sql} {whens} ELSE {other} END) END)"


def _factors(sql: str) -> str:
    obj = (
        f"list_filter(json_keys({sql}), lambda k: json_extract_string({sql}, "
        f"'$.\"' || k || '\"') IN ('Yes', 'Y', 'true'))"
    )
    return (
        f"unnest(CASE WHEN json_valid({sql}) AND json_type({sql}) = 'ARRAY' "
        f"THEN from_json({sql}, '[\"VARCHAR\"]') WHEN json_valid({sql}) AND "
        f"json_type({sql}) = 'OBJECT' THEN {obj} ELSE [{sql}] END)"
    )


def _column(spec: Any, i: int, joins: list[str]) -> str:  # noqa: PLR0911 - one per kind
    """Return the SQL of one warehouse column (adding a lookup join when declared)."""
    if spec is None:
        return "NULL"
    if isinstance(spec, str):
        return f"s.{q(spec)}"
    if "lookup" in spec:
        look = _lookup(spec)
        joins.append(
            f"LEFT JOIN (SELECT {q(look['key'])} AS k, "
            f"min(coalesce({', '.join(q(f) for f in _fields(look['field']))})) AS v "
            f"FROM {q('raw_' + look['table'])} GROUP BY 1) l{i} ON l{i}.k = s.{q(look['by'])}"
        )
        sql = _date(f"l{i}.v") if spec.get("date") else f"l{i}.v"
        return f"coalesce({sql}, {lit(spec['default'])})" if "default" in spec else sql
    if "date" in spec:
        sql = _date(f"s.{q(spec['date'])}")
        return f"coalesce({sql}, {_date('s.' + q(spec['else']))})" if "else" in spec else sql
    if "codes" in spec:
        return _translate(f"s.{q(spec['field'])}", spec["codes"])
    if "value" in spec:
        return lit(str(spec["value"]))
    if "json_list" in spec:
        return _factors(f"s.{q(spec['json_list'])}")
    raise ValueError(f"{MAPPING_FILE}: unknown source kind {spec!r}")


def table_sql(table: Table) -> str:
    """Return the SELECT turning the SSD table(s) into ``table``'s raw text columns."""
    spec = mapping()["tables"][table.name]
    joins: list[str] = []
    names = ("birth_date" if c == "birth_month" else c for c in table.column_names)
    cols = [
        f"{_column(spec['columns'][c], i, joins)} AS {q(n)}"
        for i, (c, n) in enumerate(zip(table.column_names, names, strict=True))
    ]
    where = [
        f"s.{q(s['json_list'])} IS NOT NULL"
        for s in spec["columns"].values()
        if isinstance(s, dict) and "json_list" in s
    ]
    sql = f"SELECT s.{LINE} AS {LINE}, {', '.join(cols)} FROM {q('raw_' + spec['from'])} s "
    sql += " ".join(joins)
    return sql + (f" WHERE {' AND '.join(where)}" if where else "")


def _structure(con: duckdb.DuckDBPyConnection, src: Path) -> list[Issue]:
    """Read every needed SSD table; return the missing tables and columns and bad CSV lines."""
    found: list[Issue] = []
    for name, fields in sorted(needed().items()):
        path = src / f"{name}.csv"
        if not path.is_file():
            found.append(issue(path, None, name, "", "", f"{name}.csv", "STR-SSD-TABLE"))
            continue
        rejects = _read_table(con, name, path)
        if rejects is not None:
            for line, err in con.execute(f"SELECT line, error_message FROM {rejects}").fetchall():
                found.append(issue(path, line, name, "", "", "", "STR-CSV", str(err)[:200]))
        present = set(con.sql(f"SELECT * FROM {q('raw_' + name)} LIMIT 0").columns)
        for fld in sorted(fields - present):
            found.append(issue(path, None, name, "", fld, "", "STR-SSD-COLUMN"))
    return found


def _raw_tables(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], dict[str, str]]:
    raw, absent = {}, {}
    for t in TABLES:
        spec = mapping()["tables"][t.name]
        if "absent" in spec:
            absent[t.name] = spec["absent"]
            cols = ", ".join(f"NULL::VARCHAR AS {q(c)}" for c in t.column_names)
            sql = f"SELECT NULL::BIGINT AS {LINE}, {cols} WHERE false"
        else:
            sql = table_sql(t)
        con.execute(f"CREATE OR REPLACE TABLE {q('canon_' + t.name)} AS {sql}")
        raw[t.name] = f"canon_{t.name}"
    return raw, absent


def _source_field(spec: Any) -> str | None:
    """Return the SSD field a warehouse column is read from, if one is."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict) and "lookup" in spec:
        return f"{spec['lookup']['table']}.{_fields(spec['lookup']['field'])[0]}"
    if isinstance(spec, dict):
        for kind in ("field", "date", "json_list"):
            if kind in spec:
                return str(spec[kind])
    return None


def _children(
    con: duckdb.DuckDBPyConnection, raw: dict[str, str], wanted: dict[str, set[int]]
) -> dict[tuple[str, int], str]:
    """Return the person id on each (table, line) that has a violation, where there is one."""
    out = {}
    for table, lines in wanted.items():
        columns = con.sql(f"SELECT * FROM {q(raw[table])} LIMIT 0").columns
        if "person_id" not in columns or not lines:
            continue
        con.register("_lines", pa.table({"line": sorted(lines)}))
        rows = con.execute(
            f"SELECT {LINE}, any_value(person_id) FROM {q(raw[table])} "
            f"SEMI JOIN _lines ON {LINE} = _lines.line GROUP BY 1"
        ).fetchall()
        con.unregister("_lines")
        out.update({(table, int(n)): str(p or "") for n, p in rows})
    return out


def _rule_issues(con: duckdb.DuckDBPyConnection, raw: dict[str, str], src: Path) -> list[Issue]:
    """Run the canonical rules; name each finding's SSD file, line, child and field."""
    found = find_violations(con, raw).fetchall()
    lines: list[int | None] = []
    wanted: dict[str, set[int]] = {}
    for table, row_key, *_ in found:
        match = _LINE_RE.search(row_key)
        lines.append(int(match.group(1)) if match else None)
        if match:
            wanted.setdefault(table, set()).add(int(match.group(1)))
    children = _children(con, raw, wanted)
    out = []
    for (table, _, column, value, rule), line in zip(found, lines, strict=True):
        spec = mapping()["tables"][table]
        child = children.get((table, line), "") if line is not None else ""
        fld = _source_field(spec.get("columns", {}).get(column)) or column
        path = src / f"{spec.get('from', table)}.csv"
        out.append(issue(path, line, table, child, fld, value, "STR-WAREHOUSE", rule))
    return out


def load_ssd(
    src: Path,
    warehouse: Path,
    *,
    key: bytes | None = None,
    secret: str | None = None,
    progress: StageCallback | None = None,
) -> SsdLoadResult:
    """Validate the SSD tables in ``src`` and, only if they are valid, load them.

    Parameters
    ----------
    src : Path
        A folder of ``ssd_<table>.csv`` files (optional ``extract.json`` as for a CSV
        extract).
    warehouse : Path
        The warehouse file, replaced atomically (untouched if anything fails).
    key, secret
        The pseudonymisation key, or the secret it is resolved from.
    progress : callable, optional
        Called with each stage's name as it starts.

    Raises
    ------
    SsdInvalid
        A needed table or column is missing, or a rule is broken (the report is written).
    """
    src = Path(src)
    if not src.is_dir():
        raise IngestError(ERR_NO_FOLDER.format(path=src))
    manifest = read_manifest(src)
    key = extract_key(key, secret, manifest)
    say = progress or (lambda stage: None)
    title = f"stratify validation report: SSD tables in {src}"
    with _scratch() as con:
        say("reading the SSD tables")
        found = _structure(con, src)
        if not found:
            say("validating")
            raw, absent = _raw_tables(con)
            found = _rule_issues(con, raw, src)
        if found:
            raise SsdInvalid(found, write_report(found, src, title=title))
        say("pseudonymising and writing the warehouse")
        extract_date = manifest.extract_date or _latest_date(con, raw)
        meta = {
            "extract_date": extract_date.isoformat(),
            "synthetic": str(manifest.synthetic).lower(),
            "description": manifest.description or "Standard Safeguarding Dataset tables",
            "key_fingerprint": key_fingerprint(key),
            "source": "ssd",
            META_ABSENT: json.dumps(absent),
        }
        load = write_pseudonymised(
            con, raw, warehouse, key=key, meta=meta, synthetic=manifest.synthetic
        )
    report = write_report([], src, title=title)
    return SsdLoadResult(load, report, absent)
