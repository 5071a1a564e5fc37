"""The fairness checks that can fail at low base rates, worked by hand.

Two groups, each child in a family of their own, every child of a group with the same
score (so the expected positives of a group are its size times that score):

=====  ========  =========  =====  ==================  ==========================
group  children  positives  score  expected positives  selected
=====  ========  =========  =====  ==================  ==========================
A      120       10         1/12   10                  2 positives, 10 negatives
B      100       10         c      100 c               r positives, 10 - r others
=====  ========  =========  =====  ==================  ==========================

A is the larger group, so it is the reference. Its recall at capacity is 2/10 = 0.2
(false negative rate 0.8), its selection rate 12/120 = 0.1 and its observed/expected
10/10 = 1.0.

With c = 0.1875 and r = 1 (the reviewer's case): B's observed/expected is
10 / 18.75 = 0.533 (over-predicted 1.9 times): not met; its recall 1/10 = 0.1, so the
recall ratio is 0.1/0.2 = 0.5: not met, although the false negative rate ratio
0.9/0.8 = 1.125 lies within 0.8 to 1.25. The selection ratio is (10/100)/(12/120) = 1.0:
met. With c = 0.1 and r = 2 every check is met.
"""

from __future__ import annotations

import pandas as pd
import pytest

from stratify.features.config import AuditConfig
from stratify.training.audit.checks import Check, verdict
from stratify.training.audit.report import audit
from stratify.training.policy import FairnessBar

CONFIG = AuditConfig(groups=("ethnic_group",), intersections=(), n_boot=200)
BAR = FairnessBar(dimensions=("ethnic_group",))


def _group(name: str, people: int, score: float, *, recalled: int, others: int) -> pd.DataFrame:
    """``people`` children, 10 of them positive; ``recalled`` positives and ``others`` selected."""
    negatives = people - 10
    return pd.DataFrame(
        {
            "person_id": [f"{name}{i}" for i in range(people)],
            "household_id": [f"H{name}{i}" for i in range(people)],
            "label": [1] * 10 + [0] * negatives,
            "score": score,
            "selected": [i < recalled for i in range(10)] + [i < others for i in range(negatives)],
            "ethnic_group": name,
        }
    )


def _frame(b_score: float, b_recalled: int) -> pd.DataFrame:
    a = _group("A", 120, 1 / 12, recalled=2, others=10)
    b = _group("B", 100, b_score, recalled=b_recalled, others=10 - b_recalled)
    return pd.concat([a, b], ignore_index=True)


def _checks(frame: pd.DataFrame, bar: FairnessBar = BAR) -> dict[tuple[str, str], Check]:
    result = audit(frame, config=CONFIG, policy=bar, seed=0)
    return {(c.group, c.criterion.split(" ")[0]): c for c in result.checks}


def test_over_prediction_and_low_recall_fail():
    frame = _frame(0.1875, 1)
    groups = audit(frame, config=CONFIG, policy=BAR, seed=0).groups.set_index("group")
    assert groups.loc["A", "recall"] == pytest.approx(0.2)
    assert groups.loc["B", "selection_rate"] == pytest.approx(0.1)
    checks = _checks(frame)
    oe = checks[("B", "calibration")]
    assert (oe.value, oe.outcome) == (pytest.approx(10 / 18.75), "not met")
    assert oe.low <= oe.value <= oe.high
    assert checks[("A", "calibration")].value == pytest.approx(1.0)
    assert checks[("A", "calibration")].outcome == "met"
    recall = checks[("B", "recall")]
    assert (recall.value, recall.outcome, recall.reference) == (pytest.approx(0.5), "not met", "A")
    assert checks[("B", "selection")].value == pytest.approx(1.0)
    assert checks[("B", "selection")].outcome == "met"


def test_false_negative_rate_ratio_would_have_passed():
    # the old criterion: FNR 0.9 against 0.8 gives 1.125, inside 0.8 to 1.25
    d = audit(_frame(0.1875, 1), config=CONFIG, policy=BAR, seed=0).disparities
    fnr = d[(d["metric"] == "false_negative_rate") & (d["versus"] == "reference")]
    assert fnr["ratio"].iloc[0] == pytest.approx(1.125)
    assert BAR.recall_ratio.contains(fnr["ratio"].iloc[0])


def test_calibrated_group_with_equal_recall_passes():
    checks = _checks(_frame(0.1, 2))
    assert checks[("B", "calibration")].value == pytest.approx(1.0)
    assert checks[("B", "recall")].value == pytest.approx(1.0)
    assert {c.outcome for c in checks.values()} == {"met"}
    assert [c.criterion for c in checks.values() if c.group == "B"] == [
        "recall at capacity ratio",
        "selection rate ratio",
        "calibration (observed/expected)",
    ]


def _check(outcome: str, required: bool = True) -> Check:
    return Check("d", "g", "r", "c", "l", 1.0, 1.0, 1.0, outcome, "", required)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([("met", True), ("met", True)], ("met", 0, 0)),
        ([("met", True), ("not assessable", True)], ("not assessable", 1, 1)),
        ([("met", True), ("not assessable", False)], ("met", 1, 0)),
        ([("not met", False), ("not assessable", True)], ("not met", 1, 1)),
        ([("not assessable", False)], ("not assessable", 1, 0)),
        ([], ("not assessable", 0, 0)),
    ],
)
def test_verdict_counts_unassessable_checks(outcomes, expected):
    v = verdict(tuple(_check(o, r) for o, r in outcomes))
    assert (v.overall, v.not_assessable, v.required_not_assessable) == expected
    assert v.met + v.not_met + v.not_assessable == len(outcomes)


def test_required_dimensions_decide_whether_met_is_possible():
    frame = _frame(0.1, 2)
    # locality is not audited, so its three checks are not assessable
    both = ("ethnic_group", "locality")
    v = audit(frame, config=CONFIG, policy=FairnessBar(dimensions=both)).verdict
    assert (v.overall, v.met, v.not_assessable, v.required_not_assessable) == (
        "not assessable", 4, 3, 3,
    )  # fmt: skip
    bar = FairnessBar(dimensions=both, required_dimensions=("ethnic_group",))
    v = audit(frame, config=CONFIG, policy=bar).verdict
    assert (v.overall, v.not_assessable, v.required_not_assessable) == ("met", 3, 0)
    checks = audit(frame, config=CONFIG, policy=bar).checks
    assert {c.required for c in checks if c.dimension == "locality"} == {False}
