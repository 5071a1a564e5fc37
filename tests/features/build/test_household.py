"""Hand-worked household, siblings, adults, area and child features on one date.

The child ``c`` lives in ``h1``; the decision point is 1 April 2022 (a snapshot).
"""

import pytest

from stratify.features.build.pipeline import build
from stratify.features.config import FeaturesConfig
from tests.features.factories import IBIS_DUCKDB_WARNING, D, write_warehouse
from tests.features.scenarios import FAMILY

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)

AS_OF = D(2022, 4, 1)


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
