"""The verdict against the bar and the policy file."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratify.features.config import ConfigError
from stratify.training.evaluation import Interval
from stratify.training.policy import Policy, load_policy
from stratify.training.verdict import performance_verdict

ROOT = Path(__file__).resolve().parents[2]


def _verdict(ap, precision, lift_low, target="escalation", policy=None, recall=0.35):
    lift = {"average_precision": Interval(0.05, lift_low, 0.1),
            "precision_at_capacity": Interval(0.05, 0.01, 0.1)}  # fmt: skip
    metrics = {"lightgbm": {"average_precision": Interval(ap, ap - 0.02, ap + 0.02),
                            "precision_at_capacity": Interval(precision, 0.1, 0.3),
                            "recall_at_capacity": Interval(recall, 0.2, 0.5)}}  # fmt: skip
    bar = (policy or Policy()).performance
    return performance_verdict(metrics, {"rule": lift, "logreg": lift}, bar, target)


def test_every_criterion_met():
    v = _verdict(0.2, 0.2, 0.01)
    assert [c.outcome for c in v.criteria] == ["met"] * 7 and v.overall == "met"
    # each criterion carries the interval it was judged on
    assert v.criteria[0].ci == Interval(0.2, 0.2 - 0.02, 0.2 + 0.02)
    assert v.criteria[2].ci == Interval(0.35, 0.2, 0.5)
    assert v.criteria[3].ci == Interval(0.05, 0.01, 0.1)


def test_recall_at_capacity_below_the_bar_is_not_met():
    # escalation's bar: 0.10 of the eligible families with the outcome; rereferral's: 0.30
    v = _verdict(0.2, 0.2, 0.01, recall=0.099)
    outcomes = {c.name: c.outcome for c in v.criteria}
    assert outcomes["recall at capacity (families) of LightGBM"] == "not met"
    assert v.overall == "not met"
    assert _verdict(0.5, 0.6, 0.01, target="rereferral", recall=0.29).overall == "not met"
    assert _verdict(0.5, 0.6, 0.01, target="rereferral", recall=0.31).overall == "met"


def test_threshold_below_and_lift_touching_zero_are_not_met():
    # AP 0.079 < 0.08; the AP lift's CI starts at 0.0, which is not above zero
    v = _verdict(0.079, 0.2, 0.0)
    outcomes = {c.name: c.outcome for c in v.criteria}
    assert outcomes["average precision of LightGBM"] == "not met"
    assert outcomes["average precision: LightGBM minus the prior-referral rule"] == "not met"
    assert outcomes["precision at capacity (families) of LightGBM"] == "met"
    assert v.overall == "not met"


def test_rereferral_has_its_own_thresholds():
    v = _verdict(0.4, 0.6, 0.01, target="rereferral")
    assert v.criteria[0].outcome == "not met" and v.criteria[0].threshold == ">= 0.450"


def test_undefined_figure_is_not_met_and_baselines_can_be_waived():
    v = _verdict(float("nan"), 0.2, 0.01)
    assert v.criteria[0].outcome == "not met" and v.overall == "not met"
    waived = Policy().model_copy(
        update={
            "performance": Policy().performance.model_copy(update={"must_beat_baselines": False})
        }
    )
    v = _verdict(0.2, 0.2, -0.5, policy=waived)
    assert len(v.criteria) == 3 and v.overall == "met"


def test_the_documented_example_policy_equals_the_defaults():
    assert load_policy(ROOT / "config" / "policy.yaml") == Policy()


def test_unknown_policy_key_is_named(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("performance:\n  min_average_precisoin: {escalation: 0.1, rereferral: 0.1}\n")
    with pytest.raises(ConfigError, match="min_average_precisoin: unknown key"):
        load_policy(bad)
