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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
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
        ids = tables["persons"].loc[tables["persons"]["is_child"], "person_id"]
        kids = frame[frame["person_id"].isin(ids.to_numpy())]
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
    """Write ``ssd_<table>.csv`` files for the borough into ``folder``; return row counts.

    Each table is written as soon as it is worked out (column by column, each distinct
    value turned into text once), so a large borough never holds the SSD as rows.
    """
    folder.mkdir(parents=True)
    counts: dict[str, int] = {}
    lookups: dict[str, list[dict[str, Any]]] = {}
    for name, spec in mapping()["tables"].items():
        if "from" not in spec:
            continue
        counts[spec["from"]] = _write(
            folder, spec["from"], _table(spec, _frame(tables, name), lookups)
        )
    for name, rows in lookups.items():
        seen: dict[Any, dict[str, Any]] = {}
        for r in rows:  # the first value per key, as the loader's lookup takes one
            seen.setdefault(next(iter(r.values())), r)
        found = [{f"{name}_row": str(i), **r} for i, r in enumerate(seen.values())]
        counts[name] = _write(folder, name, pd.DataFrame(found))
    (folder / "extract.json").write_text(
        json.dumps({"synthetic": True, "description": "stratify synthetic borough (SSD)"}) + "\n"
    )
    return counts


def _write(folder: Path, name: str, frame: pd.DataFrame) -> int:
    frame.to_csv(folder / f"{name}.csv", index=False)
    return len(frame)


def _table(
    spec: dict[str, Any], frame: pd.DataFrame, lookups: dict[str, list[dict[str, Any]]]
) -> pd.DataFrame:
    """Return the SSD table of one warehouse table, worked out column by column."""
    owned = {t["from"] for t in mapping()["tables"].values() if "from" in t}
    json_cols = [c for c, s in spec["columns"].items() if isinstance(s, dict) and "json_list" in s]
    if json_cols:  # one SSD row per group, its codes as a JSON array (sorted)
        [col] = json_cols
        keys = [c for c in spec["columns"] if c != col and spec["columns"][c] is not None]
        frame = _json_lists(frame, keys, col)
    n = len(frame)
    fields: dict[str, np.ndarray] = {}  # SSD field -> its values, in writing order
    pending: list[tuple[dict[str, Any], str, np.ndarray, Any]] = []  # lookups not owned
    for column, src in spec["columns"].items():
        values = _texts(frame, column)
        if isinstance(src, dict) and "lookup" in src:
            look = src["lookup"]
            if look["table"] not in owned:
                field = look["field"] if isinstance(look["field"], str) else look["field"][0]
                pending.append((look, field, values, src.get("default")))
        elif src is not None:
            fields.update(_column_fields(src, values))
    _add_lookups(pending, fields, lookups)
    return pd.DataFrame(fields, index=range(n))


def _json_lists(frame: pd.DataFrame, keys: list[str], col: str) -> pd.DataFrame:
    """Return one row per distinct ``keys`` (in their order), ``col`` as a sorted JSON list."""
    frame = frame.sort_values([*keys, col], kind="stable", ignore_index=True)
    first = ~frame.duplicated(keys).to_numpy()
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(frame))
    values = frame[col].tolist()
    out = frame.loc[first, keys].reset_index(drop=True)
    out[col] = [json.dumps(values[a:b]) for a, b in zip(starts, ends, strict=True)]
    return out


def _each_distinct(values: np.ndarray | pd.Series, f: Callable[[Any], Any]) -> np.ndarray:
    """Return ``f`` of each value (None where missing), calling ``f`` once per distinct value."""
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    done = [f(v) for v in (distinct.tolist() if hasattr(distinct, "tolist") else distinct)]
    out = np.empty(len(done) + 1, object)
    out[: len(done)] = done
    out[-1] = None  # code -1: missing
    return out[codes]


def _column_fields(src: str | dict[str, Any], values: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`_fields_of` for a whole column of values."""
    if isinstance(src, dict) and "date" in src:
        return {
            src["date"]: values,
            **({src["else"]: np.full(len(values), None, object)} if "else" in src else {}),
        }
    if isinstance(src, dict) and "codes" in src:
        inverse = _inverse(src["codes"])
        return {src["field"]: _each_distinct(values, inverse.get)}
    return {k: values for k in _fields_of(src, None)}


def _texts(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Return a column's values as :func:`_text` writes them (all None if it is absent)."""
    if column not in frame:
        return np.full(len(frame), None, object)
    values = frame[column]
    if pd.api.types.is_string_dtype(values) and not pd.api.types.is_object_dtype(values):
        return values.astype(object).where(values.notna(), None).to_numpy()  # text already
    return _each_distinct(values, _text)


def _add_lookups(
    pending: list[tuple[dict[str, Any], str, np.ndarray, Any]],
    fields: dict[str, np.ndarray],
    lookups: dict[str, list[dict[str, Any]]],
) -> None:
    """Add the lookup rows the table supplies, in row order (the first value per key wins)."""
    found = []  # (row, pending index, lookup table, row's dict)
    for j, (look, field, values, default) in enumerate(pending):
        given = np.flatnonzero([v is not None and v != default for v in values])
        keys = fields[look["by"]][given]
        found += [
            (int(i), j, look["table"], {look["key"]: k, field: values[i]})
            for i, k in zip(given, keys, strict=True)
        ]
    for _, _, table, row in sorted(found, key=lambda x: x[:2]):
        lookups.setdefault(table, []).append(row)
