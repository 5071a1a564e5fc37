"""The audit's group table and disparity table, before suppression.

The group table has one row per cell: its counts and every metric with a 95 % family
bootstrap interval. The disparity table compares each group with the overall figure and
with its dimension's reference group (the largest shown group, or ``Overall`` if the
policy says so): the difference and the ratio, each with an interval taken from the same
replicates, so the uncertainty of both groups is carried into the comparison.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from stratify.training.audit.stats import METRICS, QUANTITIES, Cells
from stratify.training.audit.suppress import OVERALL, Cell
from stratify.training.metrics.bootstrap import percentile_ci

COUNTS = ("people", "positives", "selected")
#: Metrics compared between groups; the calibration gap has a difference, not a ratio.
COMPARED = (
    "recall",
    "selection_rate",
    "false_negative_rate",
    "false_positive_rate",
    "precision",
    "calibration_gap",
    "roc_auc",
)
NO_RATIO = frozenset({"calibration_gap"})
Versus = Literal["overall", "reference"]


def _cis(replicates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [percentile_ci(replicates[:, i]) for i in range(replicates.shape[1])]
    low, high = zip(*pairs, strict=True) if pairs else ((), ())
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def group_table(
    cells: Cells, sums: np.ndarray, points: pd.DataFrame, replicates: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Return one row per cell: counts, then each metric with ``_low`` and ``_high``.

    Parameters
    ----------
    cells : Cells
    sums : ndarray
        Unweighted sums per cell, shape ``(cells, quantities)``.
    points : DataFrame
        Point estimates per cell (from MetricFrame), columns ``METRICS``.
    replicates : dict of str to ndarray
        Per metric, the bootstrap replicates, shape ``(k, cells)``.
    """
    out = cells.labels.copy()
    for name in COUNTS:
        out[name] = sums[:, QUANTITIES.index(name)].round().astype(int)
    for name in METRICS:
        low, high = _cis(replicates[name])
        out[name] = points[name].to_numpy(dtype=float)
        out[f"{name}_low"], out[f"{name}_high"] = low, high
    return out


def references(
    groups: pd.DataFrame, hidden: frozenset[Cell], reference: Literal["largest", "overall"]
) -> dict[str, int]:
    """Return each dimension's reference cell index (the largest shown group, or Overall).

    A dimension whose groups are all hidden has no reference and is left out.
    """
    out: dict[str, int] = {}
    for dim, part in groups.groupby("dimension", sort=False):
        if dim == OVERALL:
            continue
        if reference == "overall":
            out[str(dim)] = 0
            continue
        shown = part[[(str(dim), str(g)) not in hidden for g in part["group"]]]
        if len(shown):
            out[str(dim)] = int(shown.index[int(shown["people"].to_numpy().argmax())])
    return out


def _compare(
    point: np.ndarray, reps: np.ndarray, i: int, ref: int, ratio: bool
) -> dict[str, float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = reps[:, i] - reps[:, ref]
        row = {"difference": float(point[i] - point[ref])}
        row["difference_low"], row["difference_high"] = percentile_ci(diff)
        if not ratio or not np.isfinite(point[ref]) or point[ref] == 0:
            row.update(ratio=np.nan, ratio_low=np.nan, ratio_high=np.nan)
            return row
        row["ratio"] = float(point[i] / point[ref])
        row["ratio_low"], row["ratio_high"] = percentile_ci(reps[:, i] / reps[:, ref])
    return row


def disparity_table(
    groups: pd.DataFrame, replicates: dict[str, np.ndarray], refs: dict[str, int]
) -> pd.DataFrame:
    """Return each group against Overall and against its reference group, per metric.

    Columns: dimension, group, versus (``overall`` / ``reference``), reference (the
    group compared with), metric, difference, ratio, each with ``_low`` / ``_high``.
    """
    rows = []
    for i, (dim, group) in enumerate(groups[["dimension", "group"]].itertuples(False)):
        if dim == OVERALL:
            continue
        targets: list[tuple[Versus, int]] = [("overall", 0)]
        if dim in refs and refs[dim] != i and refs[dim] != 0:
            targets.append(("reference", refs[dim]))
        for versus, ref in targets:
            for metric in COMPARED:
                point = groups[metric].to_numpy(dtype=float)
                row = _compare(point, replicates[metric], i, ref, metric not in NO_RATIO)
                base = {"dimension": dim, "group": group, "versus": versus}
                base |= {"reference": groups.at[ref, "group"], "metric": metric}
                rows.append(base | row)
    return pd.DataFrame(rows)
