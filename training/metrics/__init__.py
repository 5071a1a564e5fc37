"""stratify.training.metrics: metrics, the operating point at capacity, family bootstrap.

:mod:`.evaluate` holds the metrics (ROC AUC, average precision, Brier, calibration,
precision, recall and lift at capacity) and :func:`evaluate`; :mod:`.bootstrap`
resamples families (not rows) for confidence intervals and :mod:`.boot` computes the
metrics on every replicate at once.
"""

from stratify.training.metrics.bootstrap import percentile_ci
from stratify.training.metrics.evaluate import evaluate, per_period

__all__ = ["evaluate", "per_period", "percentile_ci"]
