"""Which contributions become reasons, and how they read.

The expected reasons are worked out from the catalogue's declarations by the plain rules
of :func:`concern` below, never by asking :mod:`stratify.serving.reasons`.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stratify.features.catalogue import FEATURE_BY_NAME, FEATURES, Feature, reason
from stratify.features.config import PROTECTED_COLUMNS
from stratify.serving.outreach.ranking import UNSHOWN_REASONS
from stratify.serving.reasons import NEVER_REASONS, explainable, render

#: never named: where the family lives, the child's age, household size alone
EXCLUDED = frozenset(
    f.name
    for f in FEATURES
    if f.group == "area" or f.stat == "age" or f.name in {"household_children", "household_adults"}
) | frozenset(PROTECTED_COLUMNS)
PRESENCE_STATS = {"count", "members_count", "members_with", "members_open"}


def concern(name: str, value: object) -> object | None:
    """Return the value a reason states, or None when the value is no reason for concern."""
    f = FEATURE_BY_NAME.get(name)
    if f is None or name in EXCLUDED or f.direction == "none":
        return None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if f.dtype == "bool":  # "the child has an open referral": only a set flag that raises
        return True if f.direction == "raises" and value else None
    if f.direction == "raises":  # its least value (0 of a count) is the absence of a factor
        return int(value) if value > 0 else None  # type: ignore[operator]
    # "lowers": a count states a protective factor; a quantity's small values are the concern
    return None if f.stat in PRESENCE_STATS else int(value)  # type: ignore[call-overload]


def _render(columns, contributions, values, top=3):
    return render(explainable(columns), np.asarray(contributions, dtype=float), values, top)


def test_the_declared_exclusions_are_area_age_household_size_and_protected():
    assert {"imd_decile", "locality", "age_months", "household_children",
            "household_adults", *PROTECTED_COLUMNS} == EXCLUDED  # fmt: skip
    assert NEVER_REASONS == EXCLUDED == UNSHOWN_REASONS


def test_an_excluded_feature_with_the_largest_contribution_gives_way_to_the_next():
    columns = ["locality", "imd_decile", "household_children", "household_adults", "age_months",
               "ethnic_group", "sex", "mystery", "referrals_12m", "s47_ever"]  # fmt: skip
    values = ["North", 1, 5, 3, 150, "W", "F", 1, 2, 1]
    got = _render(columns, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0.5], values)
    assert [r.feature for r in got] == ["referrals_12m", "s47_ever"]
    assert [r.text for r in got] == [
        "2 referrals for this child in the last 12 months",
        "1 section 47 enquiry on record",
    ]
    assert got[0].contribution == 1


def test_a_raising_feature_with_a_negative_contribution_is_not_given():
    columns = ["s47_ever", "cp_plans_ever", "referrals_12m"]
    got = _render(columns, [-2.0, -0.1, 0.3], [3, 1, 1])
    assert [r.feature for r in got] == ["referrals_12m"]
    assert _render(columns, [-2.0, -0.1, 0.0], [3, 1, 1]) == []


def test_false_flags_missing_values_and_zero_counts_are_not_reasons():
    columns = ["open_referral", "months_since_referral", "referrals_12m",
               "index_assessment_factors", "siblings_s47_ever"]  # fmt: skip
    assert _render(columns, [3, 2, 1, 0.5, 0.4], [False, math.nan, 0, 0, 0.0]) == []
    got = _render(columns, [3, 2, 1, 0.5, 0.4], [True, 4.0, 2.0, 1, 1.0], top=5)
    assert [r.text for r in got] == [
        "the child has an open referral",
        "4 months since this child's last referral",
        "2 referrals for this child in the last 12 months",
        "1 factor identified at the assessment",
        "1 sibling with a section 47 enquiry",
    ]


def test_protective_factors_and_features_without_direction_are_never_reasons():
    # "lowers" flags and counts state something that lowers the risk; "none" has no reading
    columns = ["has_second_carer", "early_help_needs_met_ever", "early_help_open",
               "other_adults_present", "index_episode_days", "index_closure_reason",
               "months_since_statutory"]  # fmt: skip
    values = [True, 2, True, True, 40, "RC8", 0]
    got = _render(columns, [7, 6, 5, 4, 3, 2, 1], values)
    assert [r.text for r in got] == ["less than a month since the last statutory involvement"]


def test_counts_render_as_whole_numbers():
    got = _render(["referrals_ever", "adults_homelessness_36m"], [3, 2], [3.0, 2.0])
    assert [r.text for r in got] == [
        "3 referrals for this child on record",
        "2 homelessness presentations for adults at home in the last 36 months",
    ]


def _value(f: Feature, draw: st.DrawFn) -> object:
    if f.dtype == "bool":
        return draw(st.booleans())
    if f.dtype == "category":
        return draw(st.sampled_from([*(f.categories or ("North", "South")), None]))
    high = f.maximum if f.maximum is not None else 6
    return draw(st.one_of(st.integers(f.minimum or 0, high), st.just(math.nan)))


@st.composite
def records(draw: st.DrawFn) -> tuple[list[str], list[float], list[object]]:
    names = [*(f.name for f in FEATURES), "ethnic_group", "sex"]
    columns = draw(st.lists(st.sampled_from(names), min_size=1, max_size=12, unique=True))
    contributions = [draw(st.floats(-2, 2, allow_nan=False)) for _ in columns]
    values = [
        _value(FEATURE_BY_NAME[c], draw) if c in FEATURE_BY_NAME else draw(st.sampled_from("ABC"))
        for c in columns
    ]
    return columns, contributions, values


@settings(max_examples=300, deadline=None)
@given(records(), st.integers(1, 4))
def test_reasons_match_a_plain_loop_over_the_catalogue(record, top):
    columns, contributions, values = record
    expected = []
    for c, v, name in sorted(zip(contributions, values, columns, strict=True),
                             key=lambda t: -t[0]):  # fmt: skip
        shown = concern(name, v)
        if c > 0 and shown is not None:
            expected.append((name, reason(name, shown)))
    got = _render(columns, contributions, values, top)
    assert [(r.feature, r.text) for r in got] == expected[:top]
