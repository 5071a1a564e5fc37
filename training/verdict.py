"""The verdict: each criterion of the working group's performance bar, met or not met.

A threshold is met when the point estimate reaches it (the CI is stated beside it, so
a reviewer sees how close it is); beating a baseline is met only when the whole paired
bootstrap 95 % CI of the difference lies above zero.
"""

from __future__ import annotations

from stratify.core.targets import Target
from stratify.training.evaluation import Criterion, MetricTable, PerformanceVerdict
from stratify.training.policy import Outcome, PerformanceBar

BASELINE_NAMES = {"rule": "the prior-referral rule", "logreg": "the logistic regression"}
METRIC_NAMES = {
    "average_precision": "average precision",
    "precision_at_capacity": "precision at capacity (families)",
    "recall_at_capacity": "recall at capacity (families)",
}


def _outcome(met: bool) -> Outcome:
    return "met" if met else "not met"


def performance_verdict(
    metrics: MetricTable, lift_over: MetricTable, bar: PerformanceBar, target: Target
) -> PerformanceVerdict:
    """Return every criterion of ``bar`` for ``target``, met or not, and the overall outcome.

    Parameters
    ----------
    metrics, lift_over : MetricTable
        As made by :func:`stratify.training.metrics.evaluate.evaluate`: ``metrics`` needs
        ``lightgbm``; ``lift_over`` needs each baseline (when the bar asks to beat them).
    bar : PerformanceBar
        The working group's thresholds.
    target : Target
        Whose thresholds apply.
    """
    ours = metrics["lightgbm"]
    criteria = []
    for metric, limits in (
        ("average_precision", bar.min_average_precision),
        ("precision_at_capacity", bar.min_precision_at_capacity),
        ("recall_at_capacity", bar.min_recall_at_capacity),
    ):
        minimum = getattr(limits, target)
        ci = ours[metric]
        criteria.append(
            Criterion(
                f"{METRIC_NAMES[metric]} of LightGBM",
                f">= {minimum:.3f}",
                ci,
                _outcome(ci.value >= minimum),
            )
        )
    if bar.must_beat_baselines:
        for base, words in BASELINE_NAMES.items():
            for metric in ("average_precision", "precision_at_capacity"):
                ci = lift_over[base][metric]
                criteria.append(
                    Criterion(
                        f"{METRIC_NAMES[metric]}: LightGBM minus {words}",
                        "95 % CI above 0",
                        ci,
                        _outcome(ci.low > 0),
                    )
                )
    overall = _outcome(all(c.outcome == "met" for c in criteria))
    return PerformanceVerdict(tuple(criteria), overall)
