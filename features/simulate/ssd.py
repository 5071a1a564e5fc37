"""The synthetic borough as Standard Safeguarding Dataset (SSD) tables.

Written by inverting the declared mapping (``features/data/ssd_mapping.yaml``) that
``stratify load --ssd`` reads, so the two cannot drift apart: each mapped field gets the
warehouse column's value (codes translated back), lookup tables are filled from the
values they supply, and JSON factor lists are gathered per assessment. The SSD holds
children only (``ssd_person``), each in the family it lived in last (``ssd_family``);
adults, addresses and other agencies' contacts are not written, as the mapping
declares them absent or does not read them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from stratify.features.warehouse.ssd import mapping


def _inverse(name: str) -> dict[str, str]:
    table = mapping()["translations"][name]
    codes = table.get("codes", table)
    out: dict[str, str] = {}
    for source, target in codes.items():
        out.setdefault(str(target), str(source))
    return out


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _frame(tables: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    frame = tables[name]
    if name == "persons":  # the simulator keeps exact birth dates; ingest keeps the month
        children = frame[frame["is_child"]]
        return children.assign(birth_month=children["birth_date"])
    if name == "household_members":  # each child's latest family
        ids = set(tables["persons"].loc[tables["persons"]["is_child"], "person_id"])
        kids = frame[frame["person_id"].isin(ids)]
        return kids.sort_values("start_date").drop_duplicates("person_id", keep="last")
    return frame


def _fields_of(src: str | dict[str, Any], value: str | None) -> dict[str, str | None]:
    """Return the SSD field(s) one warehouse value is written to (inverse of the mapping)."""
    if isinstance(src, str):
        return {src: value}
    if "date" in src:
        return {src["date"]: value, **({src["else"]: None} if "else" in src else {})}
    if "codes" in src:
        return {src["field"]: None if value is None else _inverse(src["codes"]).get(value)}
    if "json_list" in src:
        return {src["json_list"]: value}
    return {}  # a constant: nothing to write


def write_ssd_tables(tables: Mapping[str, pd.DataFrame], folder: Path) -> dict[str, int]:
    """Write ``ssd_<table>.csv`` files for the borough into ``folder``; return row counts."""
    folder.mkdir(parents=True)
    out: dict[str, list[dict[str, Any]]] = {}
    lookups: dict[str, list[dict[str, Any]]] = {}
    for name, spec in mapping()["tables"].items():
        if "from" not in spec:
            continue
        frame = _frame(tables, name)
        rows = _table_rows(spec, frame, lookups)
        out[spec["from"]] = rows
    for name, rows in lookups.items():
        seen: dict[Any, dict[str, Any]] = {}
        for r in rows:  # the first value per key, as the loader's lookup takes one
            seen.setdefault(next(iter(r.values())), r)
        out[name] = [{f"{name}_row": str(i), **r} for i, r in enumerate(seen.values())]
    counts = {}
    for name, rows in out.items():
        frame = pd.DataFrame(rows)
        frame.to_csv(folder / f"{name}.csv", index=False)
        counts[name] = len(frame)
    (folder / "extract.json").write_text(
        json.dumps({"synthetic": True, "description": "stratify synthetic borough (SSD)"}) + "\n"
    )
    return counts


def _table_rows(
    spec: dict[str, Any], frame: pd.DataFrame, lookups: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Return the SSD rows of one warehouse table, worked out column by column."""
    owned = {t["from"] for t in mapping()["tables"].values() if "from" in t}
    json_cols = [c for c, s in spec["columns"].items() if isinstance(s, dict) and "json_list" in s]
    if json_cols:  # one SSD row per group, its codes as a JSON array
        [col] = json_cols
        keys = [c for c in spec["columns"] if c != col and spec["columns"][c] is not None]
        frame = frame.groupby(keys, as_index=False)[col].agg(lambda s: json.dumps(sorted(s)))
    n = len(frame)
    fields: dict[str, list[str | None]] = {}  # SSD field -> its values, in writing order
    pending: list[tuple[dict[str, Any], str, list[str | None], Any]] = []  # lookups not owned
    for column, src in spec["columns"].items():
        values = _texts(frame, column)
        if isinstance(src, dict) and "lookup" in src:
            look = src["lookup"]
            if look["table"] not in owned:
                field = look["field"] if isinstance(look["field"], str) else look["field"][0]
                pending.append((look, field, values, src.get("default")))
        elif src is not None:
            fields.update(_column_fields(src, values))
    _add_lookups(pending, fields, n, lookups)
    if not fields:
        return [{} for _ in range(n)]
    names = list(fields)
    return [dict(zip(names, row, strict=True)) for row in zip(*fields.values(), strict=True)]


def _column_fields(src: str | dict[str, Any], values: list[str | None]) -> dict[str, list]:
    """:func:`_fields_of` for a whole column of values."""
    if isinstance(src, dict) and "date" in src:
        return {
            src["date"]: values,
            **({src["else"]: [None] * len(values)} if "else" in src else {}),
        }
    if isinstance(src, dict) and "codes" in src:
        inverse = _inverse(src["codes"])
        return {src["field"]: [None if v is None else inverse.get(v) for v in values]}
    return {k: values for k in _fields_of(src, None)}


def _texts(frame: pd.DataFrame, column: str) -> list[str | None]:
    """Return a column's values as :func:`_text` writes them (all None if it is absent)."""
    if column not in frame:
        return [None] * len(frame)
    return [_text(v) for v in frame[column].tolist()]


def _add_lookups(
    pending: list[tuple[dict[str, Any], str, list[str | None], Any]],
    fields: dict[str, list[str | None]],
    n: int,
    lookups: dict[str, list[dict[str, Any]]],
) -> None:
    """Add the lookup rows the table supplies, row by row (the first value per key wins)."""
    for i in range(n):
        for look, field, values, default in pending:
            if values[i] not in (None, default):
                lookups.setdefault(look["table"], []).append(
                    {look["key"]: fields[look["by"]][i], field: values[i]}
                )
