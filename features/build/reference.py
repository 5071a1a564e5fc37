"""A plain-Python reference for the family-context build: slow, and obviously correct.

It reads the warehouse rows into dicts and computes, with loops, the decision points,
labels and every catalogue feature straight from the definitions (schema.py, the
catalogue's declarations), without the timeline and joins of the fast build. The
tests compare the two on many small random warehouses; the benchmark times both.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from stratify.features.catalogue import (
    EH_OUTCOMES,
    FACTOR_GROUPS,
    MEASURES,
    NO_FACTOR,
    Feature,
    Target,
    features_for,
)
from stratify.features.config import FeaturesConfig
from stratify.features.schema import REREFERRAL_CLOSURE_REASONS, TABLES

Row = dict[str, Any]
Rows = Mapping[str, list[Row]]
DatedFacts = dict[str, list[tuple[dt.date, str]]]
ADULT_ROLES = ("parent_carer", "other_adult")


class RangeError(ValueError):
    """No dated records, or a date range outside the data (the build's CohortError)."""


def load_rows(path: Path | str) -> dict[str, list[Row]]:
    """Return every warehouse table as a list of row dicts (dates as ``datetime.date``)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for table in TABLES:
            cur = con.execute(f'SELECT * FROM "{table.name}"')
            names = [d[0] for d in cur.description]
            out[table.name] = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        return out
    finally:
        con.close()


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar-month arithmetic with the day clamped to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from ``start`` to ``end``."""
    months = (end.year * 12 + end.month) - (start.year * 12 + start.month)
    if end.day < start.day:
        months -= 1
    return months


def _by(rows: Iterable[Row], key: str) -> dict[Any, list[Row]]:
    out: dict[Any, list[Row]] = defaultdict(list)
    for r in rows:
        out[r[key]].append(r)
    return out


def _valid_on(row: Row, day: dt.date) -> bool:
    return row["start_date"] < day and (row["end_date"] is None or row["end_date"] >= day)


def person_facts(rows: Rows) -> DatedFacts:
    """Every dated fact of every person: person_id -> [(date, kind)]."""
    facts: DatedFacts = defaultdict(list)
    _casework_facts(rows, facts)
    _episode_facts(rows, facts)
    return facts


def _casework_facts(rows: Rows, facts: DatedFacts) -> None:
    """Referrals, assessments and their factors, section 47 enquiries."""
    for r in rows["referrals"]:
        facts[r["person_id"]].append((r["referral_date"], "referral"))
        if r["closure_date"] is not None:
            facts[r["person_id"]].append((r["closure_date"], "referral_end"))
            if r["nfa"]:
                facts[r["person_id"]].append((r["closure_date"], "referral_nfa"))
    assessments = {a["assessment_id"]: a for a in rows["assessments"]}
    for a in rows["assessments"]:
        facts[a["person_id"]].append((a["start_date"], "assessment"))
    for f in rows["assessment_factors"]:
        a = assessments[f["assessment_id"]]
        if a["authorised_date"] is not None and f["factor"] != NO_FACTOR:
            group = next((g for g, c in FACTOR_GROUPS.items() if f["factor"] in c), "other")
            facts[a["person_id"]].append((a["authorised_date"], f"factor_{group}"))
    for s in rows["section47"]:
        facts[s["person_id"]].append((s["start_date"], "s47"))
        if s["icpc_date"] is not None:
            facts[s["person_id"]].append((s["icpc_date"], "icpc"))


def _episode_facts(rows: Rows, facts: DatedFacts) -> None:
    """Plans, care and early help episodes (with how early help ended), agency events."""
    episodes = {
        "cin_plans": "cin_plan",
        "cp_plans": "cp_plan",
        "looked_after": "looked_after",
        "early_help": "early_help",
    }
    for table, kind in episodes.items():
        for e in rows[table]:
            facts[e["person_id"]].append((e["start_date"], kind))
            if e["end_date"] is not None:
                facts[e["person_id"]].append((e["end_date"], f"{kind}_end"))
                if kind == "early_help" and e["outcome"] in EH_OUTCOMES:
                    facts[e["person_id"]].append((e["end_date"], f"early_help_{e['outcome']}"))
    for ev in rows["agency_events"]:
        facts[ev["person_id"]].append((ev["event_date"], f"event_{ev['event_type']}"))


def household_facts(rows: Rows) -> DatedFacts:
    """Every dated household fact: household_id -> [(date, kind)]."""
    facts: DatedFacts = defaultdict(list)
    for e in rows["early_help"]:
        facts[e["household_id"]].append((e["start_date"], "household_early_help"))
        if e["end_date"] is not None:
            facts[e["household_id"]].append((e["end_date"], "household_early_help_end"))
    by_household: dict[str, list[dt.date]] = defaultdict(list)
    for r in rows["residences"]:
        by_household[r["household_id"]].append(r["start_date"])
    for h, starts in by_household.items():
        for start in sorted(starts)[1:]:  # the first address is not a move
            facts[h].append((start, "residence_move"))
    for m in rows["household_members"]:
        if m["role"] in ADULT_ROLES:
            facts[m["household_id"]].append((m["start_date"], "adult_joined"))
            if m["end_date"] is not None:
                facts[m["household_id"]].append((m["end_date"], "adult_left"))
    return facts


def count(
    facts: list[tuple[dt.date, str]], kinds: Iterable[str], as_of: dt.date, window: int | None
) -> int:
    """Facts of ``kinds`` dated in ``[as_of - window, as_of)`` (all before, if None)."""
    lo = None if window is None else add_months(as_of, -window)
    kinds = set(kinds)
    return sum(1 for d, k in facts if k in kinds and d < as_of and (lo is None or d >= lo))


def household_on(memberships: list[Row], as_of: dt.date) -> str | None:
    """Return the household of these memberships on ``as_of`` (latest started, then id)."""
    valid = [m for m in memberships if _valid_on(m, as_of)]
    if not valid:
        return None
    latest = max(m["start_date"] for m in valid)
    return min(m["household_id"] for m in valid if m["start_date"] == latest)


def _escalation(rows: Rows, cfg: FeaturesConfig, start: dt.date, end: dt.date) -> list[Row]:
    snapshots = [
        dt.date(y, m, 1)
        for y in range(start.year, end.year + 1)
        for m in range(1, 13, cfg.snapshot_months)
        if start <= dt.date(y, m, 1) <= end
    ]
    episodes, statutory = _by(rows["referrals"], "person_id"), defaultdict(list)
    for table in ("early_help", "cin_plans", "cp_plans", "looked_after"):
        for e in rows[table]:
            episodes[e["person_id"]].append(e)
            if table != "early_help":
                statutory[e["person_id"]].append(e)
    events, homes = (
        _by(rows["agency_events"], "person_id"),
        _by(rows["household_members"], "person_id"),
    )
    points = []
    for as_of in snapshots:
        window_start = add_months(as_of, -cfg.lookback_months)
        for p in rows["persons"]:
            pid, born = p["person_id"], p["birth_month"]
            if not (p["is_child"] and born < as_of < add_months(born, 18 * 12)):
                continue
            household = household_on(homes[pid], as_of)
            known = any(_active(e, window_start, as_of) for e in episodes[pid]) or any(
                window_start <= ev["event_date"] < as_of for ev in events[pid]
            )
            open_now = any(_open(e, "start_date", "end_date", as_of) for e in statutory[pid])
            if household is not None and known and not open_now:
                points.append({"person_id": pid, "as_of_date": as_of, "household_id": household})
    return points


def _active(episode: Row, window_start: dt.date, as_of: dt.date) -> bool:
    """Return whether it started before ``as_of`` and did not end before the window."""
    referral = "referral_date" in episode
    start = episode["referral_date"] if referral else episode["start_date"]
    end = episode["closure_date"] if referral else episode["end_date"]
    return bool(start < as_of and (end is None or end >= window_start))


def _rereferral(rows: Rows, start: dt.date, end: dt.date) -> list[Row]:
    chosen: dict[tuple[str, dt.date], Row] = {}
    for r in rows["referrals"]:
        closed = r["closure_date"]
        if r["closure_reason"] in REREFERRAL_CLOSURE_REASONS and closed and start <= closed <= end:
            key = (r["person_id"], closed)
            old = chosen.get(key)
            rank = (-r["referral_date"].toordinal(), r["referral_id"])
            if old is None or rank < (-old["referral_date"].toordinal(), old["referral_id"]):
                chosen[key] = r
    homes = _by(rows["household_members"], "person_id")
    return [
        {
            "person_id": pid,
            "as_of_date": day,
            "index": r,
            "household_id": household_on(homes[pid], day),
        }
        for (pid, day), r in chosen.items()
    ]


@dataclass
class Index:
    """The rows, looked up by the keys the loops need."""

    rows: Rows
    persons: dict[str, Row] = field(init=False)
    members: dict[str, list[Row]] = field(init=False)
    residences: dict[str, list[Row]] = field(init=False)
    assessments: dict[str, list[Row]] = field(init=False)
    factors: dict[str, list[Row]] = field(init=False)
    referrals: dict[str, list[Row]] = field(init=False)
    outcomes: dict[str, list[dt.date]] = field(init=False)

    def __post_init__(self) -> None:
        rows = self.rows
        self.persons = {p["person_id"]: p for p in rows["persons"]}
        self.members = _by(rows["household_members"], "household_id")
        self.residences = _by(rows["residences"], "household_id")
        self.assessments = _by(rows["assessments"], "referral_id")
        self.factors = _by(rows["assessment_factors"], "assessment_id")
        self.referrals = _by(rows["referrals"], "person_id")
        self.outcomes = defaultdict(list)
        for table in ("section47", "cp_plans", "looked_after"):
            for e in rows[table]:
                self.outcomes[e["person_id"]].append(e["start_date"])


#: each table whose open episodes make a household ineligible: its start and end columns
_OPEN = {
    "referrals": ("referral_date", "closure_date"),
    "cin_plans": ("start_date", "end_date"),
    "cp_plans": ("start_date", "end_date"),
    "looked_after": ("start_date", "end_date"),
}


def _open(episode: Row, start: str, end: str, day: dt.date) -> bool:
    """Return whether the episode is open on day: started before it, not ended by it."""
    return episode[start] < day and (episode[end] is None or episode[end] > day)


def _eligible(ix: Index, point: Row) -> bool:
    """Whether nobody in the point's household (or the child alone, without one) is open."""
    as_of, household = point["as_of_date"], point["household_id"]
    if household is None:
        people = {point["person_id"]}
    else:
        people = {m["person_id"] for m in ix.members.get(household, []) if _valid_on(m, as_of)}
    for table, (start, end) in _OPEN.items():
        for e in ix.rows[table]:
            if e["person_id"] in people and _open(e, start, end, as_of):
                return False
    return True


def _label(
    ix: Index, point: Row, target: Target, cfg: FeaturesConfig, extract_date: dt.date
) -> int | None:
    as_of, pid = point["as_of_date"], point["person_id"]
    until = add_months(as_of, cfg.horizon_months)
    if until > extract_date:
        return None
    if target == "escalation":
        starts = ix.outcomes[pid]
    else:
        own = point["index"]["referral_id"]
        starts = [r["referral_date"] for r in ix.referrals[pid] if r["referral_id"] != own]
    return int(any(as_of <= d < until for d in starts))


def _generic(f: Feature, facts: list[tuple[dt.date, str]], as_of: dt.date) -> Any:
    src = f.source or ""
    if f.stat == "months_since":
        dates = [d for d, k in facts if k in MEASURES[src] and d < as_of]
        return months_between(max(dates), as_of) if dates else None
    if f.stat in ("open", "members_open"):
        ends = MEASURES[f"{src}_end"]
        return count(facts, MEASURES[src], as_of, None) - count(facts, ends, as_of, None) > 0
    n = count(facts, MEASURES[src], as_of, f.window_months)
    return n > 0 if f.stat in ("any", "members_with") else n


def _residents(ix: Index, point: Row) -> list[Row]:
    as_of = point["as_of_date"]
    return [
        m
        for m in ix.members.get(point["household_id"], [])
        if _valid_on(m, as_of) and ix.persons[m["person_id"]]["birth_month"] < as_of
    ]


def _household(ix: Index, point: Row) -> tuple[Row, dict[str, set[str]]]:
    """Composition features, and the siblings and adults, on the point's date."""
    res = _residents(ix, point)
    role = {
        r: {m["person_id"] for m in res if m["role"] == r}
        for r in ("child", "parent_carer", "other_adult")
    }
    adults = role["parent_carer"] | role["other_adult"]
    composition = {
        "household_children": len(role["child"]),
        "household_adults": len(adults),
        "has_second_carer": len(role["parent_carer"]) >= 2,
        "other_adults_present": len(role["other_adult"]) >= 1,
    }
    me = point["person_id"]
    return composition, {"siblings": role["child"] - {me}, "adults": adults - {me}}


def _area(ix: Index, point: Row) -> Row:
    homes = [
        r for r in ix.residences.get(point["household_id"], []) if _valid_on(r, point["as_of_date"])
    ]
    home = max(homes, key=lambda r: r["start_date"]) if homes else {}
    return {"imd_decile": home.get("imd_decile"), "locality": home.get("locality")}


def _index(ix: Index, point: Row) -> Row:
    r, as_of = point["index"], point["as_of_date"]
    mine = [a for a in ix.assessments[r["referral_id"]] if a["start_date"] <= as_of]
    done = [a for a in mine if a["authorised_date"] is not None and a["authorised_date"] <= as_of]
    factors = [f for a in done for f in ix.factors[a["assessment_id"]] if f["factor"] != NO_FACTOR]
    return {
        "index_closure_reason": r["closure_reason"],
        "index_nfa": r["nfa"],
        "index_episode_days": (as_of - r["referral_date"]).days,
        "index_assessed": bool(mine),
        "index_assessment_factors": len(factors),
    }


def _features(
    ix: Index, point: Row, feats: tuple[Feature, ...], pf: DatedFacts, hf: DatedFacts
) -> Row:
    as_of, pid = point["as_of_date"], point["person_id"]
    composition, members = _household(ix, point)
    out: Row = {**composition, **_area(ix, point)}
    if "index" in point:
        out.update(_index(ix, point))
    for f in feats:
        if f.stat == "age":
            born = ix.persons[pid]["birth_month"]
            out[f.name] = months_between(born, as_of) if born < as_of else None
        elif f.group == "child" and f.stat != "index":
            out[f.name] = _generic(f, pf.get(pid, []), as_of)
        elif f.group == "household" and f.stat != "composition":
            out[f.name] = _generic(f, hf.get(point["household_id"], []), as_of)
        elif f.group in ("siblings", "adults"):
            out[f.name] = sum(int(_generic(f, pf.get(m, []), as_of)) for m in members[f.group])
    return out


def reference_build(
    rows: Rows, target: Target, config: FeaturesConfig, extract_date: dt.date
) -> list[Row]:
    """Compute the feature table with plain loops.

    Parameters
    ----------
    rows : Mapping[str, list[dict]]
        Every warehouse table as row dicts (see :func:`load_rows`).
    target : {"escalation", "rereferral"}
    config : FeaturesConfig
    extract_date : datetime.date

    Returns
    -------
    list of dict
        One row per decision point, ordered by person and date, with the same columns
        as the fast build's feature table.

    Raises
    ------
    RangeError
        If there are no dated records, or the date range is not within the data's.
    """
    pf, hf, ix = person_facts(rows), household_facts(rows), Index(rows)
    first = min((d for fs in pf.values() for d, _ in fs), default=None)
    if first is None:
        raise RangeError("no dated records")
    start = config.start_date or add_months(first, config.lookback_months)
    end = config.end_date or extract_date
    if not (first <= start <= end <= extract_date):
        raise RangeError(f"{start} to {end} is not within {first} to {extract_date}")
    if target == "escalation":
        points = _escalation(rows, config, start, end)
    else:
        points = _rereferral(rows, start, end)
    feats = features_for(target)
    out = []
    for point in sorted(points, key=lambda p: (p["person_id"], p["as_of_date"])):
        values = _features(ix, point, feats, pf, hf)
        out.append(
            {
                "target": target,
                "person_id": point["person_id"],
                "as_of_date": point["as_of_date"],
                "household_id": point["household_id"],
                "label": _label(ix, point, target, config, extract_date),
                "eligible": _eligible(ix, point),
                **{f.name: values[f.name] for f in feats},
            }
        )
    return out
