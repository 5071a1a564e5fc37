"""The vectorised family bootstrap against weighted point estimates and a slow loop."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from stratify.training.metrics.boot import METRICS, ModelSums, replicates
from stratify.training.metrics.bootstrap import family_codes
from stratify.training.metrics.evaluate import (
    average_precision,
    brier,
    expected_calibration_error,
    lift_at_capacity,
    point_metrics,
    precision_at_capacity,
    recall_at_capacity,
    roc_auc,
)


@st.composite
def _rows(draw):
    n = draw(st.integers(2, 30))
    ys = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    ps = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))
    fams = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    sel = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    weights = draw(st.lists(st.integers(0, 3), min_size=7, max_size=7))
    return np.array(ys, float), np.array(ps) / 10, np.array(fams), np.array(sel), weights


@settings(max_examples=80, deadline=None)
@given(_rows())
def test_weighted_replicate_equals_point_estimate(rows):
    y, p, fams, sel, weights = rows
    codes, n = family_codes(fams)
    sums = ModelSums.build(y, p, sel, codes, n)
    ones = {k: v[0] for k, v in sums.metrics(np.ones((1, n))).items()}
    np.testing.assert_allclose(
        [ones[k] for k in METRICS], [point_metrics(y, p, sel)[k] for k in METRICS], equal_nan=True
    )
    # a replicate's family counts are sample weights on the rows
    w = np.array(weights[:n], float)
    got = {k: v[0] for k, v in sums.metrics(w[None]).items()}
    rw = w[codes]
    expected = {
        "roc_auc": roc_auc(y, p, sample_weight=rw),
        "average_precision": average_precision(y, p, sample_weight=rw),
        "brier": brier(y, p, sample_weight=rw),
        "ece": expected_calibration_error(y, p, sample_weight=rw),
        "precision_at_capacity": precision_at_capacity(y, sel, sample_weight=rw),
        "recall_at_capacity": recall_at_capacity(y, sel, sample_weight=rw),
        "lift_at_capacity": lift_at_capacity(y, sel, sample_weight=rw),
    }
    np.testing.assert_allclose(
        [got[k] for k in METRICS], [expected[k] for k in METRICS], equal_nan=True, atol=1e-12
    )


def _slow_ece(y, p, edges):
    """ECE over bins whose inner edges are fixed on the real sample (deciles of its scores)."""
    total = 0.0
    bin_of = [sum(p[i] >= e for e in edges) for i in range(len(p))]
    for b in range(len(edges) + 1):
        inside = [i for i in range(len(p)) if bin_of[i] == b]
        if inside:
            gap = sum(y[i] for i in inside) / len(inside) - sum(p[i] for i in inside) / len(inside)
            total += len(inside) / len(p) * abs(gap)
    return total


def _slow_metrics(y, p, sel, edges):
    both = 0 < y.sum() < len(y)
    chosen = y[sel]
    return {
        "roc_auc": roc_auc_score(y, p) if both else math.nan,
        "average_precision": average_precision_score(y, p) if y.sum() else math.nan,
        "brier": brier_score_loss(y, p),
        "ece": _slow_ece(y, p, edges),
        "precision_at_capacity": chosen.mean() if len(chosen) else math.nan,
        "recall_at_capacity": chosen.sum() / y.sum() if y.sum() else math.nan,
        "lift_at_capacity": chosen.mean() / y.mean() if len(chosen) and y.sum() else math.nan,
    }


def test_replicates_equal_a_slow_loop():
    rng = np.random.default_rng(5)
    n, n_boot, seed = 40, 25, 9
    fams = rng.choice(["f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", None], n)
    y = (rng.random(n) < 0.4).astype(float)
    p = np.round(rng.random(n), 1)
    sel = p >= 0.7
    codes, n_fam = family_codes(fams)
    fast = replicates(
        y, {"m": p}, {"m": sel}, codes=codes, n_families=n_fam, n_boot=n_boot, seed=seed, chunk=10
    )["m"]
    members = [np.flatnonzero(codes == f) for f in range(n_fam)]
    edges = sorted(np.percentile(p, [10 * k for k in range(1, 10)]))
    slow = {k: [] for k in METRICS}
    draws_rng = np.random.default_rng(seed)  # the same draws, chunk by chunk
    for k in (10, 10, 5):
        for draw in draws_rng.integers(0, n_fam, size=(k, n_fam)):
            rows = np.concatenate([members[f] for f in draw])
            for name, value in _slow_metrics(y[rows], p[rows], sel[rows], edges).items():
                slow[name].append(value)
    for name in METRICS:
        np.testing.assert_allclose(fast[name], slow[name], equal_nan=True, atol=1e-12)
