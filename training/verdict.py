"""The verdict: each criterion of the working group's performance bar, met or not met.

A threshold is met when the point estimate reaches it (the CI is stated beside it, so
a reviewer sees how close it is); beating a baseline is met only when the whole paired
bootstrap 95 % CI of the difference lies above zero.
"""

from __future__ import annotations

from typing import Any

from stratify.features.catalogue import Target
from stratify.training.policy import Outcome, PerformanceBar

BASELINE_NAMES = {"rule": "the prior-referral rule", "logreg": "the logistic regression"}
METRIC_NAMES = {
    "average_precision": "average precision",
    "precision_at_capacity": "precision at capacity",
}


def _criterion(name: str, threshold: str, ci: dict[str, float], met: bool) -> dict[str, Any]:
    outcome: Outcome = "met" if met else "not met"
    return {"name": name, "threshold": threshold, **ci, "outcome": outcome}


def performance_verdict(
    evaluation: dict[str, Any], bar: PerformanceBar, target: Target
) -> dict[str, Any]:
    """Return ``{"criteria": [...], "overall": "met" | "not met"}`` for ``evaluation``.

    ``evaluation`` needs ``metrics["lightgbm"]`` and ``lift_over`` as made by
    :func:`stratify.training.metrics.evaluate.evaluate`.
    """
    ours = evaluation["metrics"]["lightgbm"]
    criteria = []
    for metric, limits in (
        ("average_precision", bar.min_average_precision),
        ("precision_at_capacity", bar.min_precision_at_capacity),
    ):
        minimum = getattr(limits, target)
        ci = ours[metric]
        criteria.append(
            _criterion(
                f"{METRIC_NAMES[metric]} of LightGBM",
                f">= {minimum:.3f}",
                ci,
                ci["value"] >= minimum,
            )
        )
    if bar.must_beat_baselines:
        for base, words in BASELINE_NAMES.items():
            for metric in ("average_precision", "precision_at_capacity"):
                ci = evaluation["lift_over"][base][metric]
                criteria.append(
                    _criterion(
                        f"{METRIC_NAMES[metric]}: LightGBM minus {words}",
                        "95 % CI above 0",
                        ci,
                        ci["low"] > 0,
                    )
                )
    overall: Outcome = "met" if all(c["outcome"] == "met" for c in criteria) else "not met"
    return {"criteria": criteria, "overall": overall}
