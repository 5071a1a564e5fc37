"""Vectorised family-bootstrap replicates of the evaluation metrics.

Every metric is a function of per-family sums, so a replicate (a family weight vector)
needs only matrix products: ``weights @ per_family_sums`` for Brier, calibration and the
capacity metrics, and ``ranks @ weights.T`` (sparse, families x score levels) for the
weighted positives and negatives at each score level, from which AUC and average
precision follow by cumulative sums along the levels. No loop runs over replicates or
rows, only over chunks of replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from stratify.training.metrics.bootstrap import CHUNK, resample_weights

#: Every metric ``evaluate`` reports, in order.
METRICS = (
    "roc_auc",
    "average_precision",
    "brier",
    "ece",
    "precision_at_capacity",
    "recall_at_capacity",
    "lift_at_capacity",
)
#: The metrics compared between models by a paired bootstrap.
PAIRED = ("roc_auc", "average_precision", "precision_at_capacity", "recall_at_capacity")
#: Calibration bins: equal-width on [0, 1] for reliability curves; equal-count (quantile)
#: bins of the scores for the expected calibration error, because with a 2 % base rate
#: nearly every score falls in the first equal-width bin and ECE would see one bin.
BINS = 10


def ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    """Return ``num / den`` elementwise, NaN where ``den`` is zero (no warning)."""
    n, d = np.broadcast_arrays(np.asarray(num, dtype=float), np.asarray(den, dtype=float))
    out = np.full(n.shape, np.nan)
    np.divide(n, d, out=out, where=d != 0)
    return out


def rank_metrics(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ROC AUC and average precision for each row of level counts.

    Parameters
    ----------
    pos, neg : ndarray of shape (k, levels)
        Weighted positives and negatives at each score level, highest score first.

    Returns
    -------
    auc, ap : ndarray of shape (k,)
        Ties count half a concordant pair (AUC); a tied level is one threshold (AP,
        as scikit-learn: the sum over levels of ``pos / P * cumpos / cumall``). NaN
        where a class is absent (AP needs only positives).
    """
    cumpos = np.cumsum(pos, axis=1)
    cumall = cumpos + np.cumsum(neg, axis=1)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    # a negative at a level beats every positive above it and ties those beside it
    concordant = (neg * (cumpos - 0.5 * pos)).sum(axis=1)
    auc = ratio(concordant, n_pos * n_neg)
    precision = np.divide(cumpos, cumall, out=np.zeros_like(cumpos), where=pos > 0)
    ap = ratio((pos * precision).sum(axis=1), n_pos)
    return auc, ap


def bin_edges(bins: int = BINS) -> np.ndarray:
    """Return the ``bins + 1`` edges of equal-width bins on [0, 1]."""
    # k / bins, not linspace: linspace's 0.30000000000000004 would put 0.3 in [0.2, 0.3)
    return np.arange(bins + 1) / bins


def calibration_bin(p: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Return each probability's equal-width bin: closed on the left, the last on both."""
    return np.searchsorted(bin_edges(bins)[1:-1], p, side="right")


def quantile_bin(p: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Return each score's equal-count bin (0 .. bins-1) by the scores' own quantiles.

    Edges are the scores' ``k / bins`` quantiles; tied scores share a bin, so a bin may
    hold more than its share when many scores are equal.
    """
    p = np.asarray(p, dtype=float)
    if not len(p):
        return np.zeros(0, dtype=np.int64)
    edges = np.quantile(p, np.arange(1, bins) / bins)
    return np.searchsorted(edges, p, side="right").astype(np.int64)


def is_probability(p: np.ndarray) -> bool:
    """Whether every score lies in [0, 1] (Brier and calibration need probabilities)."""
    return bool(np.all((p >= 0.0) & (p <= 1.0)))


def score_groups(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, int]:
    """Return each row's rank group (0 = highest score) and the number of groups.

    A group is one distinct score level, except that a run of adjacent levels holding
    only negatives is one group: every positive ranks above or below the whole run, so
    merging it changes neither AUC nor AP for any family weights, and it shrinks the
    levels from about the number of rows to about twice the number of positives.
    """
    levels, inverse = np.unique(score, return_inverse=True)
    desc = len(levels) - 1 - inverse
    has_pos = np.bincount(desc, weights=y, minlength=len(levels)) > 0
    start = has_pos | np.r_[True, has_pos[:-1]]
    group = np.cumsum(start) - 1
    return group[desc], int(group[-1]) + 1 if len(levels) else 0


@dataclass(frozen=True)
class ModelSums:
    """Per-family sufficient statistics of one model's scores and selection."""

    ranks: sparse.csr_matrix  # (2 * groups, families): positives, then negatives
    groups: int
    dense: np.ndarray  # (families, 5 + BINS): rows, pos, sel, sel_pos, sq_err, gaps
    probabilities: bool

    @classmethod
    def build(
        cls, y: np.ndarray, score: np.ndarray, selected: np.ndarray, codes: np.ndarray, n: int
    ) -> ModelSums:
        """Summarise rows (``y`` 0/1, family ``codes`` in ``[0, n)``) by family."""
        group, groups = score_groups(y, score)
        ranks = sparse.coo_matrix(
            (np.ones(len(y)), (group + groups * (1 - y).astype(np.int64), codes)),
            shape=(2 * groups, n),
        ).tocsr()
        probabilities = is_probability(score)
        sel = np.asarray(selected, dtype=np.float64)
        columns = [np.ones(len(y)), y, sel, sel * y, (score - y) ** 2]
        dense = np.column_stack([np.bincount(codes, c, minlength=n) for c in columns])
        gaps = np.zeros((n, BINS))
        if probabilities:
            cell = codes * BINS + quantile_bin(score)
            gaps = np.bincount(cell, y - score, minlength=n * BINS).reshape(n, BINS)
        return cls(ranks, groups, np.hstack([dense, gaps]), probabilities)

    def metrics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Return every metric (arrays of shape ``(k,)``) for family ``weights`` (k, n)."""
        w = np.asarray(weights, dtype=np.float64)
        counts = np.asarray(self.ranks @ w.T).T
        auc, ap = rank_metrics(counts[:, : self.groups], counts[:, self.groups :])
        d = w @ self.dense
        rows, pos, sel, sel_pos, sq_err = d[:, :5].T
        nan = np.full(len(w), np.nan)
        precision = ratio(sel_pos, sel)
        return {
            "roc_auc": auc,
            "average_precision": ap,
            "brier": ratio(sq_err, rows) if self.probabilities else nan,
            "ece": ratio(np.abs(d[:, 5:]).sum(axis=1), rows) if self.probabilities else nan,
            "precision_at_capacity": precision,
            "recall_at_capacity": ratio(sel_pos, pos),
            "lift_at_capacity": ratio(precision, ratio(pos, rows)),
        }


def replicates(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    selected: dict[str, np.ndarray],
    *,
    codes: np.ndarray,
    n_families: int,
    n_boot: int,
    seed: int,
    chunk: int = CHUNK,
) -> dict[str, dict[str, np.ndarray]]:
    """Return ``n_boot`` family-bootstrap replicates of every metric of every model.

    All models see the same replicate weights (drawn once per chunk), so differences
    between models replicate by replicate form a paired bootstrap. The selection at
    capacity is held fixed: only the family weights vary.
    """
    sums = {m: ModelSums.build(y, s, selected[m], codes, n_families) for m, s in scores.items()}
    parts: dict[str, dict[str, list[np.ndarray]]] = {m: {k: [] for k in METRICS} for m in sums}
    for w in resample_weights(n_families, n_boot, seed, chunk):
        # families-major, so the sparse product reads ``w64.T`` without another copy
        w64 = np.ascontiguousarray(w.T, dtype=np.float64).T
        for model, s in sums.items():
            for name, values in s.metrics(w64).items():
                parts[model][name].append(values)
    return {m: {k: np.concatenate(v) for k, v in d.items()} for m, d in parts.items()}
