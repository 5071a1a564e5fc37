"""Small warehouses for the feature tests: hand-written rows or random ones.

``write_warehouse`` takes, per table, a list of row dicts that name only the columns a
test cares about; every other column gets a harmless default, and ids default to
``<table>-<n>``. ``random_tables`` (a hypothesis strategy) draws schema-valid small
warehouses whose dates cluster on the awkward ones: snapshot dates, the day before,
same-day closures, open-ended episodes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from stratify.features.catalogue import EVENT_TYPES
from stratify.features.schema import TABLES
from stratify.features.warehouse.store import create_warehouse

D = dt.date
EXTRACT = D(2024, 3, 31)
#: Ibis 12 reads table schemas with DuckDB's deprecated ``fetch_arrow_table()``; under
#: DuckDB 2.0 that warns "fetch_arrow_table() is deprecated, use to_arrow_table()
#: instead." (DeprecationWarning). Harmless; to move to pyproject.toml's filters.
IBIS_DUCKDB_WARNING = "ignore:fetch_arrow_table:DeprecationWarning"
Rows = Sequence[Mapping[str, Any]]

_ARROW = {"VARCHAR": pa.string(), "DATE": pa.date32(), "BOOLEAN": pa.bool_(), "TINYINT": pa.int8()}
DEFAULTS: dict[str, dict[str, Any]] = {
    "persons": {
        "birth_month": D(2015, 1, 1),
        "sex": "1",
        "ethnicity": "WBRI",
        "disability": "NONE",
        "lsoa": "E01000001",
        "imd_decile": 5,
        "locality": "North",
        "is_child": True,
    },
    "household_members": {
        "household_id": "h1",
        "role": "child",
        "start_date": D(2010, 1, 1),
        "end_date": None,
    },
    "residences": {
        "household_id": "h1",
        "lsoa": "E01000001",
        "imd_decile": 3,
        "locality": "North",
        "start_date": D(2010, 1, 1),
        "end_date": None,
    },
    "referrals": {
        "source": "1A",
        "primary_need": "N1",
        "nfa": False,
        "closure_date": None,
        "closure_reason": None,
    },
    "assessments": {"authorised_date": None},
    "section47": {"icpc_date": None},
    "cin_plans": {"end_date": None},
    "cp_plans": {"end_date": None, "initial_category": "NEG"},
    "looked_after": {"end_date": None, "legal_status": "C2"},
    "early_help": {"end_date": None, "outcome": None},
    "agency_events": {"event_type": "police_domestic_abuse", "agency": "police"},
}
_KEY = {t.name: t.primary_key[0] for t in TABLES if len(t.primary_key) == 1}


def arrow_table(name: str, rows: Rows) -> pa.Table:
    """Return the schema table ``name`` from partial row dicts (defaults filled in)."""
    table = next(t for t in TABLES if t.name == name)
    full = []
    for i, row in enumerate(rows):
        values = {**DEFAULTS.get(name, {}), **row}
        key = _KEY.get(name)
        if key and key not in values:
            values[key] = f"{name}-{i}"
        full.append(values)
    return pa.table(
        {c.name: pa.array([r[c.name] for r in full], _ARROW[c.type]) for c in table.columns}
    )


def write_warehouse(
    path: Path, tables: Mapping[str, Rows], extract_date: dt.date = EXTRACT
) -> Path:
    """Write a warehouse file at ``path`` holding ``tables`` (other tables empty)."""
    data = {t.name: arrow_table(t.name, tables.get(t.name, ())) for t in TABLES}
    meta = {"extract_date": extract_date.isoformat(), "synthetic": "true"}
    create_warehouse(path, data, meta)
    return path


# -- random warehouses --------------------------------------------------------------

START, END = D(2019, 1, 1), D(2023, 12, 31)
_QUARTERS = [D(y, m, 1) for y in range(2019, 2024) for m in (1, 4, 7, 10)]
_SPECIAL = _QUARTERS + [d - dt.timedelta(days=1) for d in _QUARTERS]


@st.composite
def dates(draw: st.DrawFn, lo: dt.date = START, hi: dt.date = END) -> dt.date:
    """A date in [lo, hi], often a quarter start or the day before one."""
    special = [d for d in _SPECIAL if lo <= d <= hi]
    if special and draw(st.booleans()):
        return draw(st.sampled_from(special))
    return draw(st.dates(lo, hi))


@st.composite
def _interval(draw: st.DrawFn, lo: dt.date = START) -> tuple[dt.date, dt.date | None]:
    start = draw(dates(lo))
    end = draw(st.one_of(st.none(), dates(start), st.just(start)))
    return start, end


Tables = dict[str, list[dict[str, Any]]]


@st.composite
def random_tables(draw: st.DrawFn) -> Tables:
    """Draw a small schema-valid warehouse: a few households, people and records."""
    households = [f"h{i}" for i in range(draw(st.integers(1, 3)))]
    t: Tables = {k.name: [] for k in TABLES}
    for i in range(draw(st.integers(2, 7))):
        _person(draw, t, f"p{i}", households)
    for h in households:
        for start in sorted(set(draw(st.lists(dates(D(2016, 1, 1)), max_size=3)))):
            imd, place = draw(st.integers(1, 10)), draw(st.sampled_from(["North", "South"]))
            t["residences"].append(
                {"household_id": h, "start_date": start, "imd_decile": imd, "locality": place}
            )
    for p in [row["person_id"] for row in t["persons"]]:
        for _ in range(draw(st.integers(0, 3))):
            _referral(draw, t, p)
        _episodes(draw, t, p, households)
    return t


def _person(draw: st.DrawFn, t: Tables, p: str, households: list[str]) -> None:
    child = draw(st.booleans()) or p == "p0"
    born = draw(st.dates(D(2004, 1, 1), D(2022, 6, 1))) if child else D(1985, 1, 1)
    imd = draw(st.integers(1, 10))
    t["persons"].append(
        {"person_id": p, "is_child": child, "birth_month": born.replace(day=1), "imd_decile": imd}
    )
    for _ in range(draw(st.integers(0, 2))):
        start, end = draw(_interval(D(2016, 1, 1)))
        role = "child" if child else draw(st.sampled_from(["parent_carer", "other_adult"]))
        home = draw(st.sampled_from(households))
        key = (home, p, start)
        if all(key != (r["household_id"], r["person_id"], r["start_date"])
               for r in t["household_members"]):  # fmt: skip
            t["household_members"].append(
                {"household_id": home, "person_id": p, "role": role, "start_date": start,
                 "end_date": end}
            )  # fmt: skip


def _referral(draw: st.DrawFn, t: Tables, p: str) -> None:
    """A referral (often closed RC7-RC9, sometimes the same day) and what followed it."""
    rid = f"r{len(t['referrals'])}"
    start, end = draw(_interval())
    nfa = draw(st.booleans())
    reason = draw(st.sampled_from(["RC7", "RC8", "RC9", "RC1"])) if end else None
    t["referrals"].append(
        {"referral_id": rid, "person_id": p, "referral_date": start, "nfa": nfa,
         "closure_date": end, "closure_reason": reason}
    )  # fmt: skip
    if not nfa and draw(st.booleans()):
        aid = f"a{len(t['assessments'])}"
        a_start, a_end = draw(_interval(start))
        t["assessments"].append(
            {"assessment_id": aid, "referral_id": rid, "person_id": p, "start_date": a_start,
             "authorised_date": a_end}
        )  # fmt: skip
        for f in draw(st.sets(st.sampled_from(["3A", "4B", "1B", "16A", "10A", "20", "21"]))):
            t["assessment_factors"].append({"assessment_id": aid, "factor": f})
    for name, key in (("section47", "s47_id"), ("cin_plans", "plan_id"), ("cp_plans", "plan_id")):
        if draw(st.integers(0, 3)) == 0:
            s, e = draw(_interval(start))
            row = {key: f"{name}{len(t[name])}", "referral_id": rid, "person_id": p}
            row |= {"start_date": s, "icpc_date" if name == "section47" else "end_date": e}
            t[name].append(row)


def _episodes(draw: st.DrawFn, t: Tables, p: str, households: list[str]) -> None:
    """Care episodes, early help episodes and agency events of one person."""
    for _ in range(draw(st.integers(0, 1))):
        s, e = draw(_interval())
        episode = f"la{len(t['looked_after'])}"
        t["looked_after"].append(
            {"episode_id": episode, "person_id": p, "start_date": s, "end_date": e}
        )
    for _ in range(draw(st.integers(0, 2))):
        s, e = draw(_interval())
        outcome = draw(st.sampled_from(["needs_met", "stepped_up", "disengaged", "other"]))
        t["early_help"].append(
            {"episode_id": f"eh{len(t['early_help'])}", "person_id": p,
             "household_id": draw(st.sampled_from(households)), "start_date": s,
             "end_date": e, "outcome": outcome if e else None}
        )  # fmt: skip
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(EVENT_TYPES))
        t["agency_events"].append(
            {"event_id": f"ev{len(t['agency_events'])}", "person_id": p,
             "event_date": draw(dates()), "event_type": kind}
        )  # fmt: skip


def merge(warehouses: Sequence[Mapping[str, Rows]]) -> Tables:
    """Put several warehouses side by side, their ids prefixed so they never meet."""
    out: Tables = {t.name: [] for t in TABLES}
    for i, tables in enumerate(warehouses):
        for t in TABLES:
            ids = [c.name for c in t.columns if c.id_namespace]
            for row in tables.get(t.name, ()):
                out[t.name].append({**row, **{c: f"w{i}{row[c]}" for c in ids if c in row}})
    return out


@st.composite
def many_tables(draw: st.DrawFn, most: int = 3) -> Tables:
    """Draw one to ``most`` random warehouses and merge them."""
    return merge(draw(st.lists(random_tables(), min_size=1, max_size=most)))


def full_rows(tables: Mapping[str, Rows]) -> Tables:
    """Return every table's rows with all columns filled in (as the warehouse holds them)."""
    return {t.name: arrow_table(t.name, tables.get(t.name, ())).to_pylist() for t in TABLES}
