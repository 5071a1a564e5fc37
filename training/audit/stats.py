"""Per-group figures at the operating point, with family-bootstrap confidence intervals.

Every audit *cell* (one group of one dimension, plus ``Overall``) gets a column. Point
estimates come from Fairlearn's :class:`~fairlearn.metrics.MetricFrame`; the intervals
come from resampling families (``stratify.training.metrics.bootstrap``): per replicate, each cell's
counts are one sparse matrix product of the family weights with per-family sums, and
its ROC AUC is a weighted rank statistic over rows sorted once by (cell, score). Every
cell sees the same replicates, so ratios and differences between cells get intervals.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from scipy import sparse
from sklearn.metrics import roc_auc_score

from stratify.training.audit.suppress import OVERALL, SEP
from stratify.training.metrics.bootstrap import resample_weights

MISSING = "Missing"
#: Row-level quantities summed per cell; every rate is a ratio of sums of them.
QUANTITIES = ("people", "positives", "selected", "true_positives", "score_sum")
#: rate -> (numerator, denominator), each a signed combination of quantities.
RATES: dict[str, tuple[dict[str, int], dict[str, int]]] = {
    "base_rate": ({"positives": 1}, {"people": 1}),
    "selection_rate": ({"selected": 1}, {"people": 1}),
    "recall": ({"true_positives": 1}, {"positives": 1}),
    "false_negative_rate": ({"positives": 1, "true_positives": -1}, {"positives": 1}),
    "false_positive_rate": ({"selected": 1, "true_positives": -1}, {"people": 1, "positives": -1}),
    "precision": ({"true_positives": 1}, {"selected": 1}),
    "mean_score": ({"score_sum": 1}, {"people": 1}),
    # calibration in the large as a ratio: observed positives over expected (sum of scores)
    "observed_expected": ({"positives": 1}, {"score_sum": 1}),
}
#: Scores are ranked into this many bins for the bootstrap AUC (see ``_auc_matrix``).
AUC_BINS = 256
#: Above this many (families x cells x quantities), sums use a sparse product instead.
DENSE_LIMIT = 50_000_000
METRICS = (*RATES, "calibration_gap", "roc_auc")


def dimension_name(dim: str | tuple[str, str]) -> str:
    """Return a dimension's name: the column, or ``"a x b"`` for an intersection."""
    return dim if isinstance(dim, str) else SEP.join(dim)


def _label(values: pd.Series) -> pd.Series:
    out = values.astype(object).where(values.notna(), MISSING)
    return out.map(lambda v: str(v))


def group_labels(frame: pd.DataFrame, dim: str | tuple[str, str]) -> pd.Series:
    """Return each row's group in ``dim`` as text (intersections as ``"Black x 2"``)."""
    if isinstance(dim, str):
        return _label(frame[dim])
    return _label(frame[dim[0]]) + SEP + _label(frame[dim[1]])


def order_key(label: str) -> tuple[float, str]:
    """Sort key of group labels: ages and codes by number, words alphabetically."""
    # "<1", "1-4", "5-9", "10-15", "16+" sort by age; codes by number; words alphabetically
    m = re.match(r"^<?(\d+(\.\d+)?)", label)
    if m is None:
        return float("inf"), label
    return float(m.group(1)) - (0.5 if label.startswith("<") else 0.0), label


@dataclass(frozen=True)
class Cells:
    """The audit's cells and each row's cell in every dimension.

    Attributes
    ----------
    labels : DataFrame
        One row per cell (``dimension``, ``group``); row ``i`` is cell ``i``.
    members : tuple of ndarray
        Per dimension (``Overall`` first), each row's cell index.
    """

    labels: pd.DataFrame
    members: tuple[np.ndarray, ...]


def make_cells(frame: pd.DataFrame, dims: Sequence[str | tuple[str, str]]) -> Cells:
    """Return the numbered cells of ``Overall`` and of every dimension in ``dims``."""
    names, groups = [OVERALL], [OVERALL]
    members = [np.zeros(len(frame), dtype=np.int64)]
    for dim in dims:
        labels = group_labels(frame, dim)
        uniques = sorted(labels.unique(), key=order_key)
        codes = pd.Categorical(labels, categories=uniques).codes.astype(np.int64)
        members.append(codes + len(names))
        names += [dimension_name(dim)] * len(uniques)
        groups += uniques
    return Cells(pd.DataFrame({"dimension": names, "group": groups}), tuple(members))


def quantities(label: np.ndarray, selected: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Return the row-level quantities (rows x ``QUANTITIES``) as float32."""
    y, s = np.asarray(label).astype(bool), np.asarray(selected).astype(bool)
    cols = [np.ones(len(y)), y, s, y & s, score]
    return np.column_stack([np.asarray(c, dtype=np.float32) for c in cols])


def point_sums(cells: Cells, q: np.ndarray) -> np.ndarray:
    """Return the unweighted sums per cell, shape ``(cells, quantities)``."""
    out = np.zeros((len(cells.labels), q.shape[1]))
    for member in cells.members:
        np.add.at(out, member, q.astype(np.float64))
    return out


def _combine(sums: np.ndarray, terms: dict[str, int]) -> np.ndarray:
    return sum(c * sums[..., QUANTITIES.index(name)] for name, c in terms.items())  # type: ignore[return-value]


def rates(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Return every rate and the calibration gap from sums shaped ``(..., quantities)``."""
    out: dict[str, np.ndarray] = {}
    for name, (num, den) in RATES.items():
        d = _combine(sums, den)
        safe = np.where(d > 0, d, 1.0)
        out[name] = np.where(d > 0, _combine(sums, num) / safe, np.nan)
    out["calibration_gap"] = out["mean_score"] - out["base_rate"]
    return out


def _per_family(
    cols: np.ndarray,
    vals: np.ndarray,
    fam: np.ndarray,
    n_fam: int,
    width: int,
) -> sparse.csr_matrix:
    """Return the (columns x families) matrix of per-family sums (duplicates added)."""
    return sparse.coo_matrix((vals, (cols, fam)), shape=(width, n_fam)).tocsr()


class _Summer:
    """Per-replicate cell sums: ``weights @ per_family_sums``, dense when it fits."""

    def __init__(self, cells: Cells, q: np.ndarray, fam: np.ndarray, n_fam: int) -> None:
        n_q, n_cells = q.shape[1], len(cells.labels)
        cols = np.concatenate([(m[:, None] * n_q + np.arange(n_q)).ravel() for m in cells.members])
        fams = np.tile(np.repeat(fam, n_q), len(cells.members))
        vals = np.tile(q.ravel(), len(cells.members))
        matrix = _per_family(cols, vals, fams, n_fam, n_cells * n_q)
        self.shape = (n_cells, n_q)
        self.dense = (
            matrix.T.toarray().astype(np.float32)
            if matrix.size and (n_fam * n_cells * n_q <= DENSE_LIMIT)
            else None
        )
        self.sparse = matrix

    def __call__(self, w: np.ndarray) -> np.ndarray:
        if self.dense is not None:
            out = w @ self.dense
        else:
            out = (self.sparse @ np.ascontiguousarray(w.T)).T
        return np.asarray(out, dtype=np.float64).reshape(len(w), *self.shape)


def _score_bins(score: np.ndarray) -> np.ndarray:
    edges = np.unique(np.quantile(score, np.linspace(0, 1, AUC_BINS + 1)[1:-1]))
    return np.searchsorted(edges, score, side="right")


def _binned_auc(counts: np.ndarray) -> np.ndarray:
    """Return the AUC from (..., cells, bins, 2) counts of negatives [0] and positives [1].

    Pairs in the same bin count one half, like tied scores.
    """
    neg, pos = counts[..., 0], counts[..., 1]
    below = np.cumsum(neg, axis=-1) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=-1)
    den = pos.sum(axis=-1) * neg.sum(axis=-1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def bootstrap(
    cells: Cells,
    q: np.ndarray,
    label: np.ndarray,
    families: np.ndarray,
    *,
    auc_point: np.ndarray,
    n_families: int,
    n_boot: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Return replicate sums ``(k, cells, quantities)`` and AUCs ``(k, cells)``.

    Both use the same family weights (:func:`stratify.training.metrics.bootstrap.resample_weights`).
    The replicate AUC ranks scores into ``AUC_BINS`` quantile bins, so it is a matrix
    product too; it is shifted by the exact AUC (``auc_point``) minus the binned AUC on
    the data itself, which removes the small bias of binning.
    """
    n_cells = len(cells.labels)
    summer = _Summer(cells, q, families, n_families)
    bins = _score_bins(q[:, QUANTITIES.index("score_sum")])
    y = np.asarray(label).astype(np.int64)
    width = n_cells * AUC_BINS * 2
    cols = np.concatenate([(m * AUC_BINS + bins) * 2 + y for m in cells.members])
    ranks = _per_family(
        cols,
        np.ones(len(cols), dtype=np.float32),
        np.tile(families, len(cells.members)),
        n_families,
        width,
    )
    shape = (n_cells, AUC_BINS, 2)
    own = np.asarray(ranks.sum(axis=1), dtype=np.float64).reshape(shape)
    shift = np.asarray(auc_point, dtype=float) - _binned_auc(own)
    sums = np.empty((n_boot, *summer.shape))
    auc = np.empty((n_boot, n_cells))
    done = 0
    for w in resample_weights(n_families, n_boot, seed):
        k = len(w)
        sums[done : done + k] = summer(w)
        counts = np.asarray(ranks @ np.ascontiguousarray(w.T), dtype=np.float64)
        auc[done : done + k] = _binned_auc(counts.T.reshape(k, *shape)) + shift
        done += k
    return sums, auc


def _figures(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """All of a group's ``METRICS`` at once; ``y_pred`` holds (selected, score) per row."""
    selected, score = y_pred[:, 0].astype(bool), y_pred[:, 1].astype(float)
    s = quantities(y_true, selected, score).sum(axis=0, dtype=np.float64)
    values = rates(s)
    auc = float(roc_auc_score(y_true, score)) if len(np.unique(y_true)) == 2 else np.nan
    return np.array([float(values[m]) for m in METRICS[:-1]] + [auc])


def point_metrics(frame: pd.DataFrame, cells: Cells) -> pd.DataFrame:
    """Return each cell's ``METRICS`` from Fairlearn's MetricFrame (one call per dimension)."""
    y_pred = np.column_stack(
        [frame["selected"].to_numpy(dtype=float), frame["score"].to_numpy(dtype=float)]
    )
    parts = []
    for member in cells.members:
        mf = MetricFrame(
            metrics={"figures": _figures},
            y_true=frame["label"].to_numpy(dtype=int),
            y_pred=y_pred,
            sensitive_features=pd.Series(member, name="cell"),
        )
        by = mf.by_group["figures"]
        parts.append(pd.DataFrame(np.stack(by.to_numpy()), index=by.index, columns=list(METRICS)))
    table = pd.concat(parts).sort_index()
    return table.reindex(range(len(cells.labels))).reset_index(drop=True)
