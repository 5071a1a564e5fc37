"""The outreach eligibility rule, by hand: who is open on the date, and in which household."""

import pytest

from stratify.features.build.pipeline import build
from stratify.features.config import FeaturesConfig
from tests.features.factories import IBIS_DUCKDB_WARNING, D, write_warehouse
from tests.features.scenarios import AS_OF, child

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)

ONE_SNAPSHOT = FeaturesConfig(start_date=AS_OF, end_date=AS_OF)
#: focal child -> (its household, its sibling's situation, eligible on AS_OF?)
CASES = {
    "clear": ("h_clear", None, True),
    "cp_sibling": ("h_cp", "open CP plan", False),
    "lac_sibling": ("h_lac", "looked after, no end", False),
    "open_ref_sibling": ("h_ref", "referral not closed", False),
    "s47_under_way": ("h_s47", "own second referral open, s47 under way", False),
    "closes_on_date": ("h_closing", "referral closed on the date", True),
    "referred_on_date": ("h_new", "referral made on the date (not yet known)", True),
    "moved_out": ("h_moved", "sibling on a CP plan left before the date", True),
    "plan_ended": ("h_ended", "sibling's CP plan ended the day before", True),
}


def _known(pid, n):
    """A closed referral a year before: the child is known to services, and nothing open."""
    return {
        "referral_id": f"k{n}",
        "person_id": pid,
        "referral_date": D(2021, 3, 1),
        "closure_date": D(2021, 4, 1),
        "closure_reason": "RC7",
    }


def _scenario():
    persons, members, referrals = [], [], []
    for n, (pid, (hh, _, _)) in enumerate(CASES.items()):
        persons += [child(pid), child(f"{pid}_sib")]
        members += [
            {"household_id": hh, "person_id": p, "start_date": D(2016, 1, 1)}
            for p in (pid, f"{pid}_sib")
        ]
        referrals.append(_known(pid, n))
    members[[m["person_id"] for m in members].index("moved_out_sib")]["end_date"] = D(2022, 1, 1)
    ref = {"person_id": None, "referral_date": D(2021, 9, 1)}
    referrals += [
        ref | {"referral_id": "s1", "person_id": "cp_sibling_sib"},
        ref | {"referral_id": "s2", "person_id": "lac_sibling_sib"},
        ref | {"referral_id": "s3", "person_id": "open_ref_sibling_sib"},
        ref | {"referral_id": "s4", "person_id": "s47_under_way", "referral_date": D(2022, 2, 1)},
        ref | {"referral_id": "s5", "person_id": "closes_on_date_sib", "closure_date": AS_OF,
               "closure_reason": "RC8"},
        ref | {"referral_id": "s6", "person_id": "referred_on_date_sib", "referral_date": AS_OF},
        ref | {"referral_id": "s7", "person_id": "moved_out_sib", "closure_date": D(2022, 3, 1),
               "closure_reason": "RC2"},
        ref | {"referral_id": "s8", "person_id": "plan_ended_sib", "closure_date": D(2022, 3, 31),
               "closure_reason": "RC2"},
    ]  # fmt: skip
    for r in referrals:
        r.setdefault("closure_date", None)
    plan = {"referral_id": "s1", "start_date": D(2021, 10, 1), "initial_category": "NEG"}
    return {
        "persons": persons,
        "household_members": members,
        "referrals": referrals,
        "cp_plans": [
            plan | {"plan_id": "p1", "person_id": "cp_sibling_sib"},
            plan | {"plan_id": "p2", "person_id": "moved_out_sib", "referral_id": "s7"},
            plan
            | {
                "plan_id": "p3",
                "person_id": "plan_ended_sib",
                "referral_id": "s8",
                "end_date": D(2022, 3, 31),
            },
        ],  # fmt: skip
        "looked_after": [
            {"episode_id": "l1", "person_id": "lac_sibling_sib", "start_date": D(2021, 12, 1)}
        ],
        "section47": [
            {
                "s47_id": "q1",
                "referral_id": "s4",
                "person_id": "s47_under_way",
                "start_date": D(2022, 2, 10),
            }
        ],  # fmt: skip
    }


def test_a_family_is_eligible_only_when_nobody_in_it_is_open_on_the_date(tmp_path):
    path = write_warehouse(tmp_path / "w.duckdb", _scenario())
    rows = build(path, "escalation", ONE_SNAPSHOT).features.to_pylist()
    got = {r["person_id"]: r["eligible"] for r in rows}
    for pid, (_, why, eligible) in CASES.items():
        assert got[pid] is eligible, f"{pid}: {why}"
    # a child open to statutory care is never an escalation decision point itself
    for statutory in ("cp_sibling_sib", "lac_sibling_sib"):
        assert statutory not in got
    # a sibling known to services is a point of its own, as ineligible as the focal child;
    # one never known to any service is no decision point at all
    assert got["open_ref_sibling_sib"] is False and "clear_sib" not in got


def test_a_rereferral_point_is_not_made_ineligible_by_its_own_closing_referral(tmp_path):
    day = D(2022, 6, 1)
    closing = {"referral_date": D(2022, 1, 1), "closure_date": day, "closure_reason": "RC7"}
    tables = {
        "persons": [child("a"), child("a_sib"), child("b"), child("b_sib")],
        "household_members": [
            {"household_id": h, "person_id": p, "start_date": D(2016, 1, 1)}
            for h, p in (("ha", "a"), ("ha", "a_sib"), ("hb", "b"), ("hb", "b_sib"))
        ],
        "referrals": [
            closing | {"referral_id": "r1", "person_id": "a"},
            closing | {"referral_id": "r2", "person_id": "a_sib"},  # closes with it
            closing | {"referral_id": "r3", "person_id": "b"},
            {
                "referral_id": "r4",
                "person_id": "b_sib",
                "referral_date": D(2022, 3, 1),
                "closure_date": None,
            },
        ],  # fmt: skip
    }
    path = write_warehouse(tmp_path / "w.duckdb", tables)
    rows = build(path, "rereferral", FeaturesConfig(start_date=day, end_date=day)).features
    got = {r["person_id"]: r["eligible"] for r in rows.to_pylist()}
    assert got == {"a": True, "a_sib": True, "b": False}
