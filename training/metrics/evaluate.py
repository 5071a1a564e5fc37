"""Evaluation metrics and family-bootstrap intervals.

Ranking (ROC AUC, average precision), calibration (Brier, expected calibration error,
reliability curve) and the metrics at capacity (precision, recall and lift of a
selection: which rows, or which families, are on the list is decided by
:mod:`stratify.features.listing` and :mod:`stratify.training.operating`). Undefined
metrics (one class only, nothing selected) are NaN, not errors. ``evaluate`` adds
percentile intervals from a family bootstrap (``stratify.training.metrics.boot``) and
paired differences between models.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from stratify.training.metrics.boot import (
    METRICS,
    PAIRED,
    bin_edges,
    calibration_bin,
    is_probability,
    quantile_bin,
    rank_metrics,
    ratio,
    replicates,
)
from stratify.training.metrics.bootstrap import family_codes, percentile_ci

ERR_NOT_BINARY = "y must hold only 0 and 1 (or booleans)"
ERR_LENGTH = "every array must have one entry per row of y"
ERR_NOT_FINITE = "scores must be finite"
ERR_NOT_PROBABILITY = "predicted probabilities must lie in [0, 1]"
ERR_WEIGHTS = "sample_weight must be finite and non-negative"
ERR_MODELS = "selected must name the same models as scores"
_PERIOD_COLUMNS = ("period", "model", "rows", "positives", *PAIRED)


def _binary(y: Any) -> np.ndarray:
    arr = np.asarray(y, dtype=float)
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError(ERR_NOT_BINARY)
    return arr


def _inputs(y: Any, p: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``y`` (0/1), scores ``p`` and weights; return them as float arrays."""
    yy, pp = _binary(y), np.asarray(p, dtype=float)
    w = np.ones(len(yy)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if not len(pp) == len(w) == len(yy):
        raise ValueError(ERR_LENGTH)
    if not np.isfinite(pp).all():
        raise ValueError(ERR_NOT_FINITE)
    if not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError(ERR_WEIGHTS)
    return yy, pp, w


def _probabilities(y: Any, p: Any, sample_weight: Any) -> tuple[np.ndarray, ...]:
    yy, pp, w = _inputs(y, p, sample_weight)
    if not is_probability(pp):
        raise ValueError(ERR_NOT_PROBABILITY)
    return yy, pp, w


def _rank(y: Any, p: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray]:
    """Weighted (AUC, AP) from positives and negatives per distinct score."""
    yy, pp, w = _inputs(y, p, sample_weight)
    levels, inverse = np.unique(pp, return_inverse=True)
    desc = len(levels) - 1 - inverse
    pos = np.bincount(desc, w * yy, minlength=len(levels))
    neg = np.bincount(desc, w * (1 - yy), minlength=len(levels))
    return rank_metrics(pos[None], neg[None])


def roc_auc(y: Any, p: Any, *, sample_weight: Any = None) -> float:
    """Return the area under the ROC curve (ties count half); NaN with one class only."""
    return float(_rank(y, p, sample_weight)[0][0])


def average_precision(y: Any, p: Any, *, sample_weight: Any = None) -> float:
    """Return average precision, as scikit-learn computes it; NaN without positives."""
    return float(_rank(y, p, sample_weight)[1][0])


def brier(y: Any, p: Any, *, sample_weight: Any = None) -> float:
    """Return the (weighted) mean squared difference of probability and outcome."""
    yy, pp, w = _probabilities(y, p, sample_weight)
    return float(ratio(np.sum(w * (pp - yy) ** 2), w.sum()))


def reliability_curve(y: Any, p: Any, *, bins: int = 10, sample_weight: Any = None) -> pd.DataFrame:
    """Return mean predicted probability and observed rate in equal-width bins on [0, 1].

    Returns
    -------
    DataFrame
        One row per bin (empty bins included, their means NaN): ``bin``, ``lower``,
        ``upper``, ``n`` (the weighted count), ``mean_predicted``, ``observed``. Bins
        are closed on the left; the last also holds 1.
    """
    yy, pp, w = _probabilities(y, p, sample_weight)
    b = calibration_bin(pp, bins)
    n = np.bincount(b, w, minlength=bins)
    edges = bin_edges(bins)
    return pd.DataFrame(
        {
            "bin": np.arange(bins),
            "lower": edges[:-1],
            "upper": edges[1:],
            "n": n,
            "mean_predicted": ratio(np.bincount(b, w * pp, minlength=bins), n),
            "observed": ratio(np.bincount(b, w * yy, minlength=bins), n),
        }
    )


def expected_calibration_error(
    y: Any, p: Any, *, bins: int = 10, sample_weight: Any = None
) -> float:
    """Return ``sum_b (n_b / N) |observed_b - mean_predicted_b|`` over equal-count bins.

    The bins are the scores' deciles (:func:`~stratify.training.metrics.boot.quantile_bin`):
    with rare outcomes almost every score lies below 0.1, and equal-width bins would
    leave one bin holding nearly everything, where over- and under-prediction cancel.
    """
    yy, pp, w = _probabilities(y, p, sample_weight)
    b = quantile_bin(pp, bins)
    gap = np.abs(np.bincount(b, w * (yy - pp), minlength=bins))
    return float(ratio(gap.sum(), w.sum()))


def _capacity(y: Any, selected: Any, sample_weight: Any) -> tuple[float, float, float, float]:
    """Weighted rows, positives, selected rows and selected positives."""
    yy, sel, w = _inputs(y, np.asarray(selected, dtype=bool), sample_weight)
    return w.sum(), np.sum(w * yy), np.sum(w * sel), np.sum(w * sel * yy)


def precision_at_capacity(y: Any, selected: Any, *, sample_weight: Any = None) -> float:
    """Return the share of selected rows that are positive; NaN if none is selected."""
    _, _, sel, hits = _capacity(y, selected, sample_weight)
    return float(ratio(hits, sel))


def recall_at_capacity(y: Any, selected: Any, *, sample_weight: Any = None) -> float:
    """Return the share of positive rows that are selected; NaN without positives."""
    _, pos, _, hits = _capacity(y, selected, sample_weight)
    return float(ratio(hits, pos))


def lift_at_capacity(y: Any, selected: Any, *, sample_weight: Any = None) -> float:
    """Return precision at capacity over the base rate; NaN when either is undefined."""
    rows, pos, sel, hits = _capacity(y, selected, sample_weight)
    return float(ratio(ratio(hits, sel), ratio(pos, rows)))


def point_metrics(y: Any, score: Any, selected: Any) -> dict[str, float]:
    """Return every metric ``evaluate`` reports, on the rows as given (no resampling).

    Brier and ECE are NaN when the scores are not probabilities (e.g. a points rule).
    """
    calibrated = is_probability(np.asarray(score, dtype=float))
    return {
        "roc_auc": roc_auc(y, score),
        "average_precision": average_precision(y, score),
        "brier": brier(y, score) if calibrated else math.nan,
        "ece": expected_calibration_error(y, score) if calibrated else math.nan,
        "precision_at_capacity": precision_at_capacity(y, selected),
        "recall_at_capacity": recall_at_capacity(y, selected),
        "lift_at_capacity": lift_at_capacity(y, selected),
    }


def _interval(value: float, reps: np.ndarray, level: float) -> dict[str, float]:
    low, high = percentile_ci(reps, level)
    return {"value": float(value), "low": low, "high": high}


def evaluate(
    y: Any,
    scores: dict[str, Any],
    selected: dict[str, Any],
    *,
    family: Any,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    compare_to: str | None = "lightgbm",
) -> dict[str, Any]:
    """Return every metric of every model with family-bootstrap percentile intervals.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes, one per row.
    scores, selected : dict of model name to array
        Each model's scores, and its rows selected at capacity (held fixed across
        replicates: the operating point is a policy, only the family weights vary).
    family : array-like
        Family identifier per row; families are resampled, not rows.
    n_boot, seed, level
        Replicates, their seed and the interval's coverage.
    compare_to : str or None
        The model whose paired difference ``metric(compare_to) - metric(baseline)`` is
        reported against every other model under ``lift_over`` (empty if None or absent).

    Returns
    -------
    dict
        JSON-ready: ``n_boot``, ``level``, ``rows``, ``families``, ``positives``,
        ``base_rate``, ``compare_to``, ``metrics[model][metric]`` and
        ``lift_over[baseline][metric]``, each ``{"value", "low", "high"}`` where
        ``value`` is the estimate on the real rows. Undefined values are NaN (as the
        point metrics; ``json.dumps`` writes them as ``NaN``).
    """
    yy = _binary(y)
    if set(selected) != set(scores):
        raise ValueError(ERR_MODELS)
    arrays = {m: _inputs(yy, s, None)[1] for m, s in scores.items()}
    chosen = {m: _inputs(yy, selected[m], None)[1] for m in scores}
    codes, n_families = family_codes(family)
    if len(codes) != len(yy):
        raise ValueError(ERR_LENGTH)
    reps = replicates(
        yy, arrays, chosen, codes=codes, n_families=n_families, n_boot=n_boot, seed=seed
    )
    points = {m: point_metrics(yy, arrays[m], chosen[m]) for m in arrays}
    metrics = {m: {k: _interval(points[m][k], reps[m][k], level) for k in METRICS} for m in arrays}
    lift_over: dict[str, dict[str, dict[str, float]]] = {}
    if compare_to is not None and compare_to in arrays:
        best, pb, rb = compare_to, points[compare_to], reps[compare_to]
        for base in (m for m in arrays if m != best):
            lift_over[base] = {
                k: _interval(pb[k] - points[base][k], rb[k] - reps[base][k], level) for k in PAIRED
            }
    positives = int(yy.sum())
    return {
        "n_boot": n_boot,
        "level": level,
        "rows": len(yy),
        "families": n_families,
        "positives": positives,
        "base_rate": float(ratio(positives, len(yy))),
        "compare_to": compare_to if compare_to in arrays else None,
        "metrics": metrics,
        "lift_over": lift_over,
    }


def per_period(
    y: Any, scores: dict[str, Any], selected: dict[str, Any], *, period: Any
) -> pd.DataFrame:
    """Return point estimates per period and model, one row each (long format).

    Columns: ``period``, ``model``, ``rows``, ``positives``, ``roc_auc``,
    ``average_precision``, ``precision_at_capacity``, ``recall_at_capacity``.
    """
    yy = _binary(y)
    codes, labels = pd.factorize(np.asarray(period, dtype=object), sort=True)
    if len(codes) != len(yy):
        raise ValueError(ERR_LENGTH)
    records = []
    for i, label in enumerate(labels):
        rows = codes == i
        for model, score in scores.items():
            s, sel = np.asarray(score, dtype=float)[rows], np.asarray(selected[model])[rows]
            records.append(
                {
                    "period": label,
                    "model": model,
                    "rows": int(rows.sum()),
                    "positives": int(yy[rows].sum()),
                    "roc_auc": roc_auc(yy[rows], s),
                    "average_precision": average_precision(yy[rows], s),
                    "precision_at_capacity": precision_at_capacity(yy[rows], sel),
                    "recall_at_capacity": recall_at_capacity(yy[rows], sel),
                }
            )
    return pd.DataFrame.from_records(records, columns=_PERIOD_COLUMNS)
