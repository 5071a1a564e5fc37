"""The comparison window, the recommendation rules and list stability, on hand-made inputs."""

import datetime as dt

import numpy as np
import pandas as pd

from stratify.training.evaluation import Interval
from stratify.training.retrain.compare import comparison_rows, recommend
from stratify.training.retrain.report import jaccard, stability

D = dt.date
SAME = Interval(0.0, -0.05, 0.05)


def test_the_window_is_eligible_points_after_the_champion_with_complete_labels():
    as_of = pd.Series([D(2023, 10, 1), D(2024, 1, 1), D(2024, 4, 1), D(2024, 4, 1),
                       D(2024, 7, 1)])  # fmt: skip
    eligible = np.array([True, True, True, False, True])
    rows = comparison_rows(as_of, eligible, champion_last=D(2024, 1, 1),
                           extract_date=D(2025, 6, 30), horizon_months=12)  # fmt: skip
    # 2024-01-01 the champion learnt from; the second 2024-04-01 point is ineligible;
    # 2024-07-01 + 12 months is after the extract date
    assert rows.tolist() == [False, False, True, False, False]


def test_worse_lists_keep_the_champion():
    worse = Interval(-0.08, -0.15, -0.01)
    got = recommend({"precision_at_capacity": worse, "recall_at_capacity": SAME},
                    verdicts={"challenger": "met", "champion": "met"}, fairness=[],
                    drift_flags=["age_months: PSI 0.4"])  # fmt: skip
    assert got.decision == "keep the champion"
    assert "precision at capacity" in got.reasons[0] and "-0.150" in got.reasons[0]


def test_a_failed_verdict_where_the_champion_passed_keeps_the_champion():
    got = recommend({"precision_at_capacity": SAME},
                    verdicts={"challenger": "not met", "champion": "met"}, fairness=[],
                    drift_flags=[])  # fmt: skip
    assert got.decision == "keep the champion"


def test_lost_fairness_or_major_drift_needs_review():
    same = {"precision_at_capacity": SAME, "recall_at_capacity": SAME}
    verdicts = {"challenger": "met", "champion": "met"}
    lost = recommend(same, verdicts=verdicts, fairness=["sex 2: recall ratio"], drift_flags=[])
    assert lost.decision == "needs review" and lost.reasons == ("sex 2: recall ratio",)
    drifted = recommend(same, verdicts=verdicts, fairness=[], drift_flags=["score: PSI 0.3"])
    assert drifted.decision == "needs review" and "major drift" in drifted.reasons[0]


def test_no_worse_on_new_data_promotes_and_says_when_an_override_is_needed():
    better = {"precision_at_capacity": Interval(0.05, 0.01, 0.09), "recall_at_capacity": SAME}
    got = recommend(better, verdicts={"challenger": "met", "champion": "met"}, fairness=[],
                    drift_flags=[])  # fmt: skip
    assert got.decision == "promote" and len(got.reasons) == 2
    both_failed = recommend(better, verdicts={"challenger": "not met", "champion": "not met"},
                            fairness=[], drift_flags=[])  # fmt: skip
    assert both_failed.decision == "promote" and "override" in both_failed.reasons[-1]


def test_list_stability_by_hand():
    r12, s47, cp = "referrals_12m", "s47_36m", "cp_plans_ever"
    old = pd.DataFrame({"family": ["a", "b", "c", "d"], "locality": ["N", "N", "S", "S"],
                        "reason_features": [[r12], [r12], [s47], [s47, r12]]})  # fmt: skip
    new = pd.DataFrame({"family": ["a", "b", "e"], "locality": ["N", "N", "S"],
                        "reason_features": [[r12], [s47], [cp]]})  # fmt: skip
    s = stability("2025-04-01", old, new)
    # both: a, b; all: a b c d e -> 2 / 5
    assert (s.champion, s.challenger, s.jaccard, s.entering, s.leaving) == (4, 3, 0.4, 1, 2)
    assert s.by_locality == (("N", 2, 2, 1.0), ("S", 2, 1, 0.0))
    # c and d leave: s47_36m twice, referrals_12m once
    assert [n for _, n in s.leaving_reasons] == [2, 1]
    assert len(s.entering_reasons) == 1 and s.entering_reasons[0][1] == 1
    assert jaccard(set(), set()) == 1.0
