"""Leakage: facts dated on or after a decision point's date never change its features.

Each example takes a random warehouse and a cut-off date, then moves, deletes, adds
and alters only facts dated on or after the cut-off (keeping the warehouse valid). The
features of every decision point up to the cut-off must not change; only labels may.
The exception is the rereferral ``index_*`` features, which describe the closure that
is the decision point itself.
"""

import datetime as dt
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stratify.core.targets import TARGETS
from stratify.features.build.pipeline import build
from stratify.features.build.reference import person_facts, reference_build
from stratify.features.config import FeaturesConfig
from stratify.features.schema import REREFERRAL_CLOSURE_REASONS, TABLES
from tests.features.factories import (
    EXTRACT,
    IBIS_DUCKDB_WARNING,
    D,
    full_rows,
    many_tables,
    write_warehouse,
)

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)

CUTS = [D(y, m, 1) for y in (2020, 2021, 2022, 2023) for m in (1, 4, 7, 10)]
DATE_COLUMNS = {t.name: [c.name for c in t.columns if c.type == "DATE"] for t in TABLES}
MAIN_DATE = {"referrals": "referral_date", "agency_events": "event_date"}  # else start_date
CHILDREN = {
    "referrals": ("assessments", "section47", "cin_plans", "cp_plans"),
    "assessments": ("assessment_factors",),
}
ID = {"referrals": "referral_id", "assessments": "assessment_id"}
Tables = dict[str, list[dict[str, Any]]]


def _is_index(row: dict[str, Any], cut: dt.date) -> bool:
    # a closure on the cut-off *is* a rereferral decision point: leave it alone
    return (
        row.get("closure_date") == cut and row.get("closure_reason") in REREFERRAL_CLOSURE_REASONS
    )


def _move(tables: Tables, cut: dt.date, rng: random.Random) -> None:
    """Move every date on or after the cut-off, keeping order (so the warehouse stays valid)."""
    days = rng.randint(1, 90)
    spread = rng.random() < 0.5

    def moved(d: dt.date) -> dt.date:
        return cut + (d - cut) * 2 if spread else d + dt.timedelta(days=days)

    for name, rows in tables.items():
        for row in rows:
            if _is_index(row, cut):
                continue
            for c in DATE_COLUMNS[name]:
                if row.get(c) is not None and row[c] >= cut:
                    row[c] = moved(row[c]).replace(day=1) if c == "birth_month" else moved(row[c])


def _delete(tables: Tables, cut: dt.date, rng: random.Random) -> None:
    """Delete some records that begin on or after the cut-off, with what hangs off them."""
    for name in (
        "agency_events",
        "referrals",
        "assessments",
        "section47",
        "cin_plans",
        "cp_plans",
        "looked_after",
        "early_help",
        "household_members",
        "residences",
    ):
        date = MAIN_DATE.get(name, "start_date")
        gone = [
            r
            for r in tables[name]
            if r[date] >= cut and not _is_index(r, cut) and rng.random() < 0.5
        ]
        _drop(tables, name, gone)


def _drop(tables: Tables, name: str, gone: list[dict[str, Any]]) -> None:
    tables[name] = [r for r in tables[name] if r not in gone]
    for child in CHILDREN.get(name, ()):
        ids = {r[ID[name]] for r in gone}
        _drop(tables, child, [r for r in tables[child] if r[ID[name]] in ids])


def _forget_ends(tables: Tables, cut: dt.date, rng: random.Random) -> None:
    """Blank end dates, closures and outcomes on or after the cut-off; flip late NFA flags.

    (A closure on the cut-off itself is kept: it may be a rereferral decision point.)
    """
    for name, rows in tables.items():
        for row in rows:
            if _is_index(row, cut) or rng.random() < 0.5:
                continue
            for c in ("end_date", "icpc_date", "authorised_date"):
                if row.get(c) is not None and row[c] >= cut:
                    row[c] = None
                    if name == "early_help":
                        row["outcome"] = None
            late_closure = name == "referrals" and (row["closure_date"] or cut) > cut
            if late_closure and rng.random() < 0.5:
                row["closure_date"] = row["closure_reason"] = None  # not closed after all
            elif late_closure:
                row["nfa"] = not row["nfa"]
            if name == "early_help" and row["end_date"] is not None and row["end_date"] >= cut:
                row["outcome"] = rng.choice(["needs_met", "stepped_up", "disengaged"])


def _add(tables: Tables, cut: dt.date, rng: random.Random) -> None:
    """Add events, referrals, factors, members and homes dated on or after the cut-off."""
    people = [p["person_id"] for p in tables["persons"]]
    homes = sorted({m["household_id"] for m in tables["household_members"]}) or ["hx"]
    later = [cut, cut + dt.timedelta(days=rng.randint(1, 400))]
    for i, day in enumerate(later):
        pid = rng.choice(people)
        tables["agency_events"].append(
            {
                "event_id": f"new-e{i}",
                "person_id": pid,
                "event_date": day,
                "event_type": "homelessness",
            }
        )
        tables["referrals"].append(
            {"referral_id": f"new-r{i}", "person_id": pid, "referral_date": day}
        )
        tables["section47"].append(
            {"s47_id": f"new-s{i}", "referral_id": f"new-r{i}", "person_id": pid, "start_date": day}
        )
        tables["persons"].append(
            {"person_id": f"new-p{i}", "birth_month": D(1990, 1, 1), "is_child": False}
        )
        tables["household_members"].append(
            {
                "household_id": rng.choice(homes),
                "person_id": f"new-p{i}",
                "role": "parent_carer",
                "start_date": day,
            }
        )
        tables["residences"].append({"household_id": f"new-h{i}", "start_date": day})
    for a in tables["assessments"]:
        if a["authorised_date"] is not None and a["authorised_date"] >= cut:
            tables["assessment_factors"].append(
                {"assessment_id": a["assessment_id"], "factor": "24A"}
            )
    tables["assessment_factors"] = list(
        {(f["assessment_id"], f["factor"]): f for f in tables["assessment_factors"]}.values()
    )


def perturb(tables: Tables, cut: dt.date, rng: random.Random) -> Tables:
    """Return a copy of ``tables`` changed only on or after ``cut``."""
    out = {name: [dict(r) for r in rows] for name, rows in full_rows(tables).items()}
    for step in (_delete, _forget_ends, _move, _add):
        if rng.random() < 0.8:
            step(out, cut, rng)
    return full_rows(out)


def _without_labels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.items() if k != "label" and not k.startswith("index_")} for r in rows
    ]


def _config(tables: Tables, cut: dt.date) -> FeaturesConfig:
    first = min(d for facts in person_facts(full_rows(tables)).values() for d, _ in facts)
    assume(first < cut)
    return FeaturesConfig(lookback_months=12, start_date=first, end_date=cut)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=many_tables(2), cut=st.sampled_from(CUTS), rng=st.randoms())
def test_future_facts_leave_built_features_unchanged(tables, cut, rng):
    assume(any(person_facts(full_rows(tables)).values()))
    config = _config(tables, cut)
    changed = perturb(tables, cut, rng)
    with tempfile.TemporaryDirectory() as tmp:
        before = write_warehouse(Path(tmp) / "before.duckdb", tables)
        after = write_warehouse(Path(tmp) / "after.duckdb", changed)
        for target in TARGETS:
            try:
                expected = build(before, target, config).features.to_pylist()
            except ValueError:
                continue  # no decision points up to the cut-off
            got = build(after, target, config).features.to_pylist()
            assert _without_labels(got) == _without_labels(expected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=many_tables(2), cut=st.sampled_from(CUTS), rng=st.randoms())
def test_future_facts_leave_reference_features_unchanged(tables, cut, rng):
    # the same property, many more times, on the reference (which the build matches)
    assume(any(person_facts(full_rows(tables)).values()))
    config = _config(tables, cut)
    changed = perturb(tables, cut, rng)
    for target in TARGETS:
        before = reference_build(full_rows(tables), target, config, EXTRACT)
        after = reference_build(changed, target, config, EXTRACT)
        assert _without_labels(after) == _without_labels(before)
