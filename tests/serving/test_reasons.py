"""Which contributions become reasons, and how they read."""

from __future__ import annotations

import math

import numpy as np

from stratify.serving.reasons import explainable, render


def _render(columns, contributions, values, top=3):
    return render(explainable(columns), np.asarray(contributions, dtype=float), values, top)


def test_protected_and_unknown_columns_never_give_reasons():
    got = _render(["ethnic_group", "sex", "mystery", "referrals_12m"], [9, 8, 7, 1],
                  ["W", "F", 1, 2])  # fmt: skip
    assert [r.feature for r in got] == ["referrals_12m"]


def test_false_flags_missing_values_and_zero_counts_are_not_reasons():
    columns = ["open_referral", "months_since_referral", "referrals_12m", "has_second_carer",
               "early_help_needs_met_ever"]  # fmt: skip
    got = _render(columns, [3, 2, 1, 0.5, 0.4], [False, math.nan, 0, 0.0, 0])
    assert got == []
    got = _render(["months_since_referral", "household_children"], [2, 1], [0, 1])
    assert [r.text for r in got] == [
        "less than a month since this child's last referral",
        "1 child in the household",
    ]
    got = _render(columns[:4], [3, 2, 1, 0.5], [True, 4.0, 2.0, 1.0])
    assert [r.text for r in got] == [
        "the child has an open referral",
        "4 months since this child's last referral",
        "2 referrals for this child in the last 12 months",
    ]


def test_negative_contributions_and_top_limit():
    columns = ["referrals_12m", "s47_ever", "cp_plans_ever", "icpc_ever"]
    got = _render(columns, [0.1, 0.4, -0.2, 0.3], [1, 1, 1, 1], top=2)
    assert [r.feature for r in got] == ["s47_ever", "icpc_ever"]
    assert got[0].text == "1 section 47 enquiry on record"
    assert got[0].as_dict() == {"feature": "s47_ever", "text": got[0].text, "contribution": 0.4}


def test_counts_render_as_whole_numbers_and_codes_as_text():
    got = _render(["referrals_ever", "locality", "imd_decile"], [3, 2, 1], [3.0, "North", 2.0])
    assert [r.text for r in got] == [
        "3 referrals for this child on record",
        "the family lives in North",
        "the family lives in an area of IMD decile 2",
    ]
