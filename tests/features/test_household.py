"""Hand-worked household, siblings, adults, area and child features on one date.

The child ``c`` lives in ``h1``; the decision point is 1 April 2022 (a snapshot).
"""

import pytest

from stratify.features.build.pipeline import build
from stratify.features.config import FeaturesConfig
from tests.features.factories import IBIS_DUCKDB_WARNING, D, write_warehouse

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)

AS_OF = D(2022, 4, 1)
ADULT = D(1985, 1, 1)


BORN = D(2015, 1, 1)


def _person(pid, born=BORN, child=True):
    return {"person_id": pid, "birth_month": born, "is_child": child}


def _member(pid, role, start, end=None):
    return {
        "household_id": "h1",
        "person_id": pid,
        "role": role,
        "start_date": start,
        "end_date": end,
    }


def _referral(rid, pid, day, closed=None, nfa=False, reason="RC7"):
    return {
        "referral_id": rid,
        "person_id": pid,
        "referral_date": day,
        "closure_date": closed,
        "closure_reason": reason if closed else None,
        "nfa": nfa,
    }


def _event(pid, day, kind="police_domestic_abuse"):
    return {"person_id": pid, "event_date": day, "event_type": kind}


FAMILY = {
    "persons": [
        _person("c"),
        _person("sib1", D(2016, 1, 1)),
        _person("sib_future", D(2022, 5, 1)),
        _person("sib_moves_in_on_as_of", D(2018, 1, 1)),
        _person("mum", ADULT, False),
        _person("dad", ADULT, False),
        _person("gran", D(1960, 1, 1), False),
        _person("lodger", ADULT, False),
    ],
    "household_members": [
        _member("c", "child", D(2015, 1, 10)),
        _member("sib1", "child", D(2016, 1, 15)),
        _member("sib_future", "child", D(2022, 5, 10)),  # born after the date
        _member("sib_moves_in_on_as_of", "child", AS_OF),  # not yet living there
        _member("mum", "parent_carer", D(2012, 1, 1)),
        _member("dad", "parent_carer", D(2012, 1, 1), D(2021, 12, 31)),  # left before
        _member("gran", "other_adult", D(2021, 9, 1), AS_OF),  # leaves on the date: still there
        _member("lodger", "other_adult", D(2010, 1, 1), D(2020, 1, 1)),
    ],
    "residences": [
        {
            "household_id": "h1",
            "start_date": D(2010, 1, 1),
            "end_date": D(2021, 7, 31),
            "imd_decile": 5,
            "locality": "South",
        },
        {
            "household_id": "h1",
            "start_date": D(2021, 8, 1),
            "end_date": AS_OF,
            "imd_decile": 2,
            "locality": "North",
        },
        {"household_id": "h1", "start_date": AS_OF, "imd_decile": 9, "locality": "Central"},
    ],
    "referrals": [
        _referral("ra", "c", D(2022, 1, 1), D(2022, 2, 1), nfa=True, reason="RC8"),
        _referral("rb", "c", D(2021, 4, 1)),  # exactly 12 months back, still open
        _referral("rc", "c", D(2019, 4, 1), D(2019, 5, 1)),  # exactly 36 months back
        _referral("rd", "c", D(2019, 3, 31), D(2019, 4, 1), nfa=True, reason="RC8"),
        _referral("re", "c", AS_OF),  # on the date: not before it
        _referral("rs1", "sib1", D(2018, 6, 1), D(2019, 12, 31)),
        _referral("rs2", "sib1", D(2021, 6, 1), D(2021, 8, 1)),
        _referral("rs3", "sib_future", D(2022, 1, 1)),  # pre-birth, but not resident
    ],
    "assessments": [
        {
            "assessment_id": "a1",
            "referral_id": "rc",
            "person_id": "c",
            "start_date": D(2019, 4, 5),
            "authorised_date": D(2019, 4, 30),
        },
        {
            "assessment_id": "a2",
            "referral_id": "rb",
            "person_id": "c",
            "start_date": D(2021, 4, 2),
            "authorised_date": AS_OF,
        },  # factors known on the date
    ],
    "assessment_factors": [
        {"assessment_id": "a1", "factor": "3A"},
        {"assessment_id": "a1", "factor": "4B"},
        {"assessment_id": "a1", "factor": "21"},
        {"assessment_id": "a2", "factor": "16A"},
    ],
    "cp_plans": [
        {
            "plan_id": "cp1",
            "referral_id": "rs1",
            "person_id": "sib1",
            "start_date": D(2019, 1, 1),
            "end_date": D(2019, 12, 31),
        }
    ],
    "cin_plans": [
        {"plan_id": "cin1", "referral_id": "rs2", "person_id": "sib1", "start_date": D(2021, 7, 1)}
    ],
    "early_help": [
        {
            "episode_id": "e1",
            "person_id": "c",
            "household_id": "h1",
            "start_date": D(2020, 1, 1),
            "end_date": D(2020, 6, 30),
            "outcome": "disengaged",
        },
        {
            "episode_id": "e2",
            "person_id": "c",
            "household_id": "h1",
            "start_date": D(2021, 9, 1),
            "end_date": AS_OF,
            "outcome": "needs_met",
        },
    ],
    "agency_events": [
        _event("mum", D(2021, 6, 1)),
        _event("mum", D(2019, 6, 1)),
        _event("mum", AS_OF),
        _event("dad", D(2021, 10, 1)),
        _event("gran", D(2022, 1, 1), "adult_mental_health"),
        _event("c", D(2021, 12, 1), "school_exclusion"),
    ],
}


@pytest.fixture(scope="module")
def row(tmp_path_factory):
    path = write_warehouse(tmp_path_factory.mktemp("household") / "w.duckdb", FAMILY)
    result = build(path, "escalation", FeaturesConfig(start_date=AS_OF, end_date=AS_OF))
    rows = result.features.to_pylist()
    assert [(r["person_id"], r["as_of_date"]) for r in rows] == [("c", AS_OF)]
    audit = result.audit.to_pylist()
    return {**rows[0], "audit": audit[0]}


def test_household_members_on_the_date(row):
    # residents: c, sib1 (children); mum, gran (adults). Not: dad (left before), the
    # lodger (left long ago), sib_future (born after), sib_moves_in_on_as_of (starts on it).
    assert row["household_children"] == 2
    assert row["household_adults"] == 2
    assert row["has_second_carer"] is False
    assert row["other_adults_present"] is True
    assert row["adults_joined_12m"] == 1  # gran, 2021-09-01
    assert row["adults_left_12m"] == 1  # dad, 2021-12-31 (gran leaves on the date: not yet)


def test_siblings_features(row):
    assert row["siblings_referrals_ever"] == 2  # sib_future's pre-birth referral excluded
    assert row["siblings_referrals_12m"] == 1
    assert row["siblings_cp_plan_ever"] == 1
    assert row["siblings_open_statutory"] == 1  # sib1's open CIN plan
    assert row["siblings_looked_after_ever"] == 0


def test_adults_features(row):
    # mum's call-outs: 2021-06-01 (12m), 2019-06-01 (36m), on the date (not counted);
    # dad's 2021-10-01 call-out does not count: he no longer lives there
    assert row["adults_domestic_abuse_12m"] == 1
    assert row["adults_domestic_abuse_36m"] == 2
    assert row["adults_mental_health_12m"] == 1
    assert row["adults_substance_misuse_36m"] == 0


def test_area_and_moves(row):
    # the 2021-08-01 home ends on the date (still valid); the next one starts on it
    assert (row["imd_decile"], row["locality"]) == (2, "North")
    assert row["household_moves_12m"] == 1 and row["household_moves_36m"] == 1
    assert row["audit"]["imd_quintile"] == 1 and row["audit"]["locality"] == "North"


def test_child_referral_windows(row):
    assert row["referrals_3m"] == 1  # 2022-01-01
    assert row["referrals_12m"] == 2  # + 2021-04-01 (window start is inclusive)
    assert row["referrals_36m"] == 3  # + 2019-04-01
    assert row["referrals_ever"] == 4  # + 2019-03-31; the referral on the date is not counted
    assert row["months_since_referral"] == 3
    assert row["nfa_referrals_12m"] == 1 and row["nfa_referrals_ever"] == 2
    assert row["open_referral"] is True


def test_child_assessments_and_early_help(row):
    assert row["assessments_12m"] == 1 and row["assessments_ever"] == 2
    assert row["factors_domestic_abuse_ever"] == 1 and row["factors_domestic_abuse_36m"] == 1
    assert row["factors_mental_health_ever"] == 1
    assert row["factors_other_ever"] == 0  # "21" (no factors identified) is not a factor
    assert row["factors_abuse_neglect_ever"] == 0  # authorised on the date: not yet known
    assert row["early_help_ever"] == 2 and row["early_help_12m"] == 1
    assert row["early_help_open"] is True  # ends on the date, so its outcome is not known
    assert row["early_help_needs_met_ever"] == 0 and row["early_help_disengaged_ever"] == 1
    assert row["household_early_help_ever"] == 2 and row["household_early_help_open"] is True
    assert row["child_school_exclusion_12m"] == 1


def test_child_age_and_statutory_history(row):
    assert row["age_months"] == 87
    assert row["looked_after_ever"] is False and row["cp_plans_ever"] == 0
    assert row["months_since_statutory"] is None
    assert row["audit"]["age_band"] == "5-9"
    assert row["audit"]["ethnic_group"] == "White" and row["audit"]["has_disability"] is False
