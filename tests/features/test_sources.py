"""Which tables each feature needs, and which groups an absent source removes."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratify.features.build import build
from stratify.features.build.cohorts import CohortError
from stratify.features.catalogue import FEATURE_BY_NAME
from stratify.features.config import FeaturesConfig
from stratify.features.sources import feature_sources, unavailable
from stratify.features.warehouse.cin_load import load_cin_returns
from tests.features.warehouse.cin_returns import KEY, census, child, episode, write


@pytest.mark.parametrize(
    ("name", "tables"),
    [
        ("referrals_12m", {"referrals"}),
        ("factors_domestic_abuse_ever", {"assessment_factors", "assessments"}),
        ("early_help_ever", {"early_help"}),
        ("has_second_carer", {"household_members"}),
        ("siblings_cp_plan_ever", {"cp_plans", "household_members"}),
        ("household_early_help_12m", {"early_help", "household_members"}),
        ("locality", {"residences", "household_members"}),
        ("age_months", {"persons"}),
    ],
)
def test_feature_sources_follow_the_declaration(name: str, tables: set[str]) -> None:
    assert feature_sources(FEATURE_BY_NAME[name]) == tables


def test_unavailable_groups_name_the_first_absent_source_and_the_reason() -> None:
    groups = unavailable("rereferral", {"early_help": "none here"})
    by_group = {g["group"]: g for g in groups}
    assert set(by_group) == {"child", "household"}
    assert "early_help_ever" in by_group["child"]["features"]
    assert by_group["household"]["features"] == [
        n for n in by_group["household"]["features"] if "early_help" in n
    ]
    assert {g["reason"] for g in groups} == {"none here"}
    assert "referrals_12m" not in {n for g in groups for n in g["features"]}


def test_escalation_needs_households_and_says_so(tmp_path: Path) -> None:
    src = write(
        tmp_path / "r", "cin.xml", census(2022, [child("C1", episodes=[episode("2021-05-01")])])
    )
    load_cin_returns(src, tmp_path / "wh.duckdb", key=KEY)
    with pytest.raises(CohortError, match="no household links .the CIN census has no household"):
        build(tmp_path / "wh.duckdb", "escalation", FeaturesConfig())
