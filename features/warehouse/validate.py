"""Validation of a raw extract: every violation, found with vectorised DuckDB SQL.

The input is one DuckDB relation per table holding the file's values as VARCHAR (empty
fields as NULL) plus a ``_stratify_line`` column (the CSV line, header = line 1). The
checks are generated from :mod:`stratify.features.schema` (types, nullability, code lists, keys,
references, date orders) and the few extra rules below, so a new column or table is
validated without new code: one scan per table for the rules a row breaks on its own,
one join per rule across rows or tables. Nothing stops at the first problem.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import NamedTuple

import duckdb
from rich.table import Table as RichTable
from rich.text import Text

from stratify.features.codes import codes
from stratify.features.schema import CROSS_DATE_ORDER, CROSS_SAME_PERSON, TABLES, Column, Table

#: Column every raw relation carries: the CSV line of the row (header = line 1).
LINE = "_stratify_line"
#: Temporary table :func:`find_violations` fills.
VIOLATIONS_TABLE = "_stratify_violations"

RULE_MISSING_TABLE = "missing table file"
RULE_MISSING_COLUMN = "missing required column"
RULE_UNKNOWN_COLUMN = "unknown column"
RULE_CSV = "malformed CSV line"
RULE_EMPTY = "empty required value"
RULE_DATE = "malformed date (expected YYYY-MM-DD)"
RULE_MONTH = "malformed date (expected YYYY-MM or YYYY-MM-DD)"
RULE_BOOLEAN = "malformed boolean (expected true, false, 1 or 0)"
RULE_INTEGER = "malformed integer (expected a whole number)"
RULE_RANGE = "integer out of range"
RULE_DUPLICATE = "duplicate primary key"
RULE_DATE_ORDER = "{later} is before {earlier}"
RULE_REFERENCE = "not found in {parent}.{parent_column}"
RULE_CROSS_DATE_ORDER = "{column} is before {parent}.{parent_column}"
RULE_SAME_PERSON = "{column} differs from {parent}.{column}"
RULE_NFA = "NFA referral has an assessment"
RULE_PAIR = "{present} is set but {column} is empty"
RULE_AFTER_EXTRACT = "dated after the extract date {extract_date}"

#: Rule for a value outside its code list, by code list name.
CODE_RULES: Mapping[str, str] = {
    "sex": "not a DfE sex code",
    "ethnicity": "not a DfE ethnicity code",
    "disability": "not a DfE disability code",
    "referral_source": "not a DfE referral source code",
    "primary_need": "not a DfE primary need code",
    "closure_reason": "not a DfE reason for closure code",
    "assessment_factor": "not a DfE assessment factor code",
    "cp_category": "not a DfE category of abuse code",
    "legal_status": "not an SSDA903 legal status code",
    "household_role": "not a household role (child, parent_carer, other_adult)",
    "early_help_outcome": "not an early help outcome",
    "agency_event_type": "not an agency event type",
    "agency": "not an agency",
    "imd_decile": "not an IMD decile (1-10)",
}

#: Columns a file may supply under another name: persons.csv may hold the exact
#: ``birth_date`` instead of ``birth_month`` (ingest keeps the month only).
ALIASES: Mapping[tuple[str, str], str] = {("persons", "birth_month"): "birth_date"}
#: Date columns that may be written as YYYY-MM (when given under their own name).
MONTH_COLUMNS = frozenset({("persons", "birth_month")})
#: A row whose flag is true must have no rows in the child table: (table, flag, child, join).
NO_CHILDREN_WHEN = (("referrals", "nfa", "assessments", "referral_id", RULE_NFA),)
#: Columns that must be both set or both empty: (table, column, column).
PAIRED = (("referrals", "closure_date", "closure_reason"),)

_TYPE_RULES = {"DATE": RULE_DATE, "BOOLEAN": RULE_BOOLEAN, "TINYINT": RULE_INTEGER}
_DATE_RE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_MONTH_RE = "[0-9]{4}-[0-9]{2}"
_INT_RE = "-?[0-9]{1,18}"


@dataclass(frozen=True)
class Violation:
    """One broken rule in one row (or one file or column) of the extract."""

    table: str
    #: The row's primary key as written, with its line, e.g. ``referral_id=R1 (line 17)``;
    #: ``line 17`` if the key itself is unusable; empty for a file or column.
    row_key: str
    column: str
    value: str
    rule: str


def code_rule(list_name: str) -> str:
    """Return the rule message for a value outside the code list ``list_name``."""
    return CODE_RULES.get(list_name, f"not in the {list_name} code list")


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def source_columns(table: Table, present: Sequence[str]) -> dict[str, str]:
    """Map each schema column of ``table`` found in ``present`` to the column holding it."""
    found = {}
    for name in table.column_names:
        alias = ALIASES.get((table.name, name))
        if name in present:
            found[name] = name
        elif alias is not None and alias in present:
            found[name] = alias
    return found


def parse_sql(table: str, column: Column, source: str, alias: str = "c") -> str:
    """Return SQL turning the raw VARCHAR ``alias.source`` into the column's type.

    NULL where the value is empty or malformed; TINYINT columns parse as BIGINT so an
    out-of-range value is caught by a check instead of failing the cast. Validation
    and ingest share this, so whatever passes validation casts cleanly.
    """
    s = f"{alias}.{q(source)}"
    if column.type == "DATE":
        sql = f"WHEN regexp_full_match({s}, '{_DATE_RE}') THEN TRY_CAST({s} AS DATE)"
        if (table, column.name) in MONTH_COLUMNS and source == column.name:
            sql += (
                f" WHEN regexp_full_match({s}, '{_MONTH_RE}') THEN TRY_CAST({s} || '-01' AS DATE)"
            )
        return f"(CASE {sql} END)"
    if column.type == "BOOLEAN":
        return (
            f"(CASE lower({s}) WHEN 'true' THEN true WHEN '1' THEN true "
            f"WHEN 'false' THEN false WHEN '0' THEN false END)"
        )
    if column.type == "TINYINT":
        return f"(CASE WHEN regexp_full_match({s}, '{_INT_RE}') THEN TRY_CAST({s} AS BIGINT) END)"
    return s


class _Check(NamedTuple):
    """A rule one row breaks on its own: ``condition`` is SQL over the row aliased ``c``."""

    column: str
    value: str
    rule: str
    condition: str
    rank: int  # order of rules within a line


@dataclass(frozen=True)
class _Raw:
    table: Table
    order: int
    relation: str
    sources: Mapping[str, str]
    unknown: tuple[str, ...]

    def has(self, *names: str) -> bool:
        return all(n in self.sources for n in names)

    def col(self, name: str, alias: str = "c") -> str:
        return f"{alias}.{q(self.sources[name])}"

    def parsed(self, name: str, alias: str = "c") -> str:
        return parse_sql(self.table.name, self.table.column(name), self.sources[name], alias)

    def c_ord(self, name: str) -> int:
        return self.table.column_names.index(name)

    def key(self) -> str:
        line = f"CAST(c.{LINE} AS VARCHAR)"
        pk = self.table.primary_key
        if not self.has(*pk):
            return f"'line ' || {line}"
        label = " || ', ' || ".join(f"{lit(k + '=')} || {self.col(k)}" for k in pk)
        nulls = " OR ".join(f"{self.col(k)} IS NULL" for k in pk)
        return f"CASE WHEN {nulls} THEN 'line ' || {line} ELSE {label} || ' (line ' || {line} || ')' END"  # noqa: E501


def _describe(con: duckdb.DuckDBPyConnection, raw_tables: Mapping[str, str]) -> dict[str, _Raw]:
    raws = {}
    for order, table in enumerate(TABLES):
        if table.name in raw_tables:
            relation = q(raw_tables[table.name])
            present = [c for c in con.sql(f"SELECT * FROM {relation} LIMIT 0").columns if c != LINE]
            sources = source_columns(table, present)
            unknown = tuple(c for c in present if c not in sources.values())
            raws[table.name] = _Raw(table, order, relation, sources, unknown)
    return raws


def _const(order: int, table: str, column: str, value: str, rule: str) -> str:
    return (
        f"SELECT {order} AS t_ord, NULL::BIGINT AS line, 0 AS r_ord, 0 AS c_ord, "
        f"{lit(table)} AS tbl, '' AS row_key, {lit(column)} AS col, {lit(value)} AS value, "
        f"{lit(rule)} AS rule"
    )


def _structure(raws: Mapping[str, _Raw], rejects: Mapping[str, str]) -> Iterator[str]:
    for order, table in enumerate(TABLES):
        raw = raws.get(table.name)
        if raw is None:
            yield _const(order, table.name, "", f"{table.name}.csv", RULE_MISSING_TABLE)
            continue
        for name in table.column_names:
            if name not in raw.sources:
                yield _const(order, table.name, name, "", RULE_MISSING_COLUMN)
        for name in raw.unknown:
            yield _const(order, table.name, name, "", RULE_UNKNOWN_COLUMN)
        if table.name in rejects:
            yield (
                f"SELECT {order}, line, 0, 0, {lit(table.name)}, 'line ' || line, "
                f"coalesce(column_name, ''), error_message, {lit(RULE_CSV)} "
                f"FROM {q(rejects[table.name])}"
            )


def _row_checks(raw: _Raw, extract_date: dt.date | None = None) -> Iterator[_Check]:
    for column in raw.table.columns:
        if column.name in raw.sources:
            yield from _column_checks(raw, column, extract_date)
    yield from _order_checks(raw)


def _column_checks(raw: _Raw, column: Column, extract_date: dt.date | None) -> Iterator[_Check]:
    """Yield the checks of one column alone: empty, type, extract date, codes, range."""
    name = column.name
    src, parsed = raw.col(name), raw.parsed(name)
    if not column.nullable:
        yield _Check(name, src, RULE_EMPTY, f"{src} IS NULL", 1)
    if column.type != "VARCHAR":
        month = (raw.table.name, name) in MONTH_COLUMNS and raw.sources[name] == name
        rule = RULE_MONTH if month else _TYPE_RULES[column.type]
        yield _Check(name, src, rule, f"{src} IS NOT NULL AND {parsed} IS NULL", 2)
        if column.type == "DATE" and extract_date is not None:
            # a fact dated after the extract would make unfinished label windows look done
            after = RULE_AFTER_EXTRACT.format(extract_date=extract_date.isoformat())
            yield _Check(name, src, after, f"{parsed} > DATE '{extract_date}'", 4)
    if column.codes is not None:
        allowed = sorted(codes(column.codes))
        if column.type == "TINYINT":
            where = f"{parsed} NOT IN ({', '.join(str(int(v)) for v in allowed)})"
        else:
            where = f"{src} NOT IN ({', '.join(lit(v) for v in allowed)})"
        yield _Check(name, src, code_rule(column.codes), where, 3)
    elif column.type == "TINYINT":
        yield _Check(name, src, RULE_RANGE, f"{parsed} NOT BETWEEN -128 AND 127", 3)


def _order_checks(raw: _Raw) -> Iterator[_Check]:
    """Yield the checks between two columns of a row: date order and paired columns."""
    for earlier, later in raw.table.date_order:
        if raw.has(earlier, later):
            rule = RULE_DATE_ORDER.format(later=later, earlier=earlier)
            condition = f"{raw.parsed(later)} < {raw.parsed(earlier)}"
            yield _Check(later, raw.col(later), rule, condition, 5)
    for table, first, second in PAIRED:
        if table == raw.table.name and raw.has(first, second):
            for present, empty in ((first, second), (second, first)):
                condition = f"{raw.col(present)} IS NOT NULL AND {raw.col(empty)} IS NULL"
                yield _Check(
                    empty, "''", RULE_PAIR.format(present=present, column=empty), condition, 9
                )


def _scan(raw: _Raw, extract_date: dt.date | None = None) -> str:
    """Every row-local check of one table in one scan; only failing rows are unpivoted."""
    checks = list(_row_checks(raw, extract_date))
    if not checks:
        return _const(0, "", "", "", "") + " WHERE false"
    structs = ", ".join(
        f"{{'r_ord': {c.rank}, 'c_ord': {raw.c_ord(c.column)}, 'col': {lit(c.column)}, "
        f"'value': coalesce(CAST({c.value} AS VARCHAR), ''), 'rule': {lit(c.rule)}, "
        f"'bad': coalesce({c.condition}, false)}}"
        for c in checks
    )
    any_bad = " OR ".join(f"({c.condition})" for c in checks)
    rows = (
        f"SELECT c.{LINE} AS line, {raw.key()} AS row_key, unnest([{structs}], recursive := true) "
        f"FROM {raw.relation} c WHERE {any_bad}"
    )
    return (
        f"SELECT {raw.order}, line, r_ord, c_ord, {lit(raw.table.name)}, row_key, col, value, "
        f"rule FROM ({rows}) WHERE bad"
    )


def _joined(raw: _Raw, column: str, value: str, rule: str, *, from_where: str, rank: int) -> str:
    """Select the rows (aliased ``c``) that ``from_where`` finds breaking ``rule``."""
    return (
        f"SELECT {raw.order}, c.{LINE}, {rank}, {raw.c_ord(column)}, {lit(raw.table.name)}, "
        f"{raw.key()}, {lit(column)}, coalesce(CAST({value} AS VARCHAR), ''), {lit(rule)} "
        f"{from_where}"
    )


def _duplicates(raw: _Raw) -> Iterator[str]:
    pk = raw.table.primary_key
    if raw.has(*pk):
        keys = ", ".join(f"{raw.col(k)} AS k{i}" for i, k in enumerate(pk))
        not_null = " AND ".join(f"{raw.col(k)} IS NOT NULL" for k in pk)
        firsts = (
            f"SELECT {keys}, min(c.{LINE}) AS first FROM {raw.relation} c WHERE {not_null} "
            f"GROUP BY ALL HAVING count(*) > 1"
        )
        on = " AND ".join(f"{raw.col(k)} = d.k{i}" for i, k in enumerate(pk))
        from_where = f"FROM {raw.relation} c JOIN ({firsts}) d ON {on} WHERE c.{LINE} > d.first"
        yield _joined(
            raw, pk[0], "'also on line ' || d.first", RULE_DUPLICATE, from_where=from_where, rank=4
        )


def _references(raws: Mapping[str, _Raw]) -> Iterator[str]:
    for raw in raws.values():
        for column, parent, pcol in raw.table.references:
            p = raws.get(parent)
            if raw.has(column) and p is not None and p.has(pcol):
                src = raw.col(column)
                from_where = (
                    f"FROM {raw.relation} c ANTI JOIN {p.relation} p "
                    f"ON {src} = {p.col(pcol, 'p')} WHERE {src} IS NOT NULL"
                )
                rule = RULE_REFERENCE.format(parent=parent, parent_column=pcol)
                yield _joined(raw, column, src, rule, from_where=from_where, rank=6)


def _across(raws: Mapping[str, _Raw]) -> Iterator[str]:
    for table, column, parent, pcol, join in CROSS_DATE_ORDER:
        raw, p = raws.get(table), raws.get(parent)
        if raw and p and raw.has(column, join) and p.has(pcol, join):
            dates = (
                f"SELECT {p.col(join, 'p')} AS k, min({p.parsed(pcol, 'p')}) AS d "
                f"FROM {p.relation} p GROUP BY 1"
            )
            from_where = (
                f"FROM {raw.relation} c JOIN ({dates}) p ON {raw.col(join)} = p.k "
                f"WHERE {raw.parsed(column)} < p.d"
            )
            rule = RULE_CROSS_DATE_ORDER.format(column=column, parent=parent, parent_column=pcol)
            yield _joined(raw, column, raw.col(column), rule, from_where=from_where, rank=7)
    for table, column, parent, join in CROSS_SAME_PERSON:
        raw, p = raws.get(table), raws.get(parent)
        if raw and p and raw.has(column, join) and p.has(column, join):
            pairs = f"SELECT DISTINCT {p.col(join, 'p')} AS k, {p.col(column, 'p')} AS v"
            from_where = (
                f"FROM {raw.relation} c JOIN ({pairs} FROM {p.relation} p) p "
                f"ON {raw.col(join)} = p.k WHERE {raw.col(column)} <> p.v"
            )
            rule = RULE_SAME_PERSON.format(column=column, parent=parent)
            yield _joined(raw, column, raw.col(column), rule, from_where=from_where, rank=8)
    for table, flag, child, join, rule in NO_CHILDREN_WHEN:
        raw, ch = raws.get(table), raws.get(child)
        if raw and ch and raw.has(flag, join) and ch.has(join):
            from_where = (
                f"FROM {raw.relation} c SEMI JOIN {ch.relation} ch "
                f"ON {raw.col(join)} = {ch.col(join, 'ch')} WHERE {raw.parsed(flag)}"
            )
            yield _joined(raw, flag, raw.col(flag), rule, from_where=from_where, rank=9)


def find_violations(
    con: duckdb.DuckDBPyConnection,
    raw_tables: Mapping[str, str],
    *,
    rejects: Mapping[str, str] | None = None,
    extract_date: dt.date | None = None,
) -> duckdb.DuckDBPyRelation:
    """Run every check and return the violations, in report order.

    The checks run one query at a time into the temporary table ``VIOLATIONS_TABLE``
    (replaced on each call): on a small extract that plans twice as fast as one query
    holding them all, and on a large one it is the same work.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection holding the raw relations.
    raw_tables : Mapping[str, str]
        Schema table name -> name of a relation with the file's columns as VARCHAR and
        ``_stratify_line``. A schema table absent here is reported as a missing file.
    rejects : Mapping[str, str], optional
        Schema table name -> relation of CSV lines the reader rejected (DuckDB's
        ``store_rejects`` table: ``line``, ``column_name``, ``error_message``).
    extract_date : datetime.date, optional
        The extract's declared date: no fact may be dated after it.

    Returns
    -------
    duckdb.DuckDBPyRelation
        Columns ``table, row_key, column, value, rule``, ordered by table, line, rule.
    """
    raws = _describe(con, raw_tables)
    queries = [*_structure(raws, rejects or {})]
    for raw in raws.values():
        queries += [_scan(raw, extract_date), *_duplicates(raw)]
    queries += [*_references(raws), *_across(raws)]
    empty = _const(0, "", "", "", "") + " WHERE false"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {VIOLATIONS_TABLE} AS {empty}")
    for query in queries:
        con.execute(f"INSERT INTO {VIOLATIONS_TABLE} {query}")
    return con.sql(
        f'SELECT tbl AS "table", row_key, col AS "column", value, rule FROM {VIOLATIONS_TABLE} '
        "ORDER BY t_ord, line NULLS FIRST, r_ord, c_ord, value"
    )


def validate_extract(
    con: duckdb.DuckDBPyConnection,
    raw_tables: Mapping[str, str],
    *,
    rejects: Mapping[str, str] | None = None,
    limit: int | None = None,
    extract_date: dt.date | None = None,
) -> list[Violation]:
    """Return the extract's violations (all of them unless ``limit`` is given).

    See :func:`find_violations` for the parameters; an empty list means valid.
    """
    rel = find_violations(con, raw_tables, rejects=rejects, extract_date=extract_date)
    if limit is not None:
        rel = rel.limit(limit)
    return [Violation(*row) for row in rel.fetchall()]


def write_report(violations: Sequence[Violation] | duckdb.DuckDBPyRelation, path: Path) -> Path:
    """Write violations (a list, or the relation for very many) to a CSV file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(violations, duckdb.DuckDBPyRelation):
        violations.write_csv(str(path), header=True)
        return path
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([field.name for field in fields(Violation)])
        writer.writerows(astuple(v) for v in violations)
    return path


def violations_table(violations: Sequence[Violation], *, title: str | None = None) -> RichTable:
    """Render violations as a rich table (values shown literally, never as markup)."""
    table = RichTable(title=title)
    for name in ("table", "row", "column", "value", "rule"):
        table.add_column(name, overflow="fold")
    for v in violations:
        table.add_row(*(Text(x) for x in astuple(v)))
    return table
