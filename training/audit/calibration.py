"""Calibration by group: whether a score of 0.2 means the same in every group.

Scores are binned at the overall score quantiles (so each bin holds enough people even
when the base rate is low); per group and bin, the mean score is set against the
observed rate. Bins with too few people or positives are suppressed like any cell, and
the plot draws only what survived.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from stratify.core.text import is_suppressed
from stratify.training.audit.stats import dimension_name, group_labels, order_key
from stratify.training.audit.suppress import OVERALL, Cell, apply_suppression, hidden_cells

BINS = 10
BIN_KEYS = ("dimension", "group", "bin")


def _bins(score: np.ndarray, bins: int) -> np.ndarray:
    edges = np.unique(np.quantile(score, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, score, side="right")


def calibration_curves(
    frame: pd.DataFrame,
    dims: Sequence[str],
    *,
    hidden: frozenset[Cell],
    min_people: int,
    min_positives: int,
    bins: int = BINS,
) -> pd.DataFrame:
    """Return mean score against observed rate per group and score bin (suppressed).

    Columns: dimension, group, bin, people, positives, mean_score, observed_rate. Every
    bin of a hidden group is withheld, as is any bin below the thresholds.
    """
    score, label = frame["score"].to_numpy(dtype=float), frame["label"].to_numpy(dtype=float)
    b = _bins(score, bins)
    parts = []
    for dim in [None, *dims]:
        labels = np.full(len(frame), OVERALL) if dim is None else group_labels(frame, dim)
        g = pd.DataFrame({"group": np.asarray(labels), "bin": b, "s": score, "y": label})
        agg = g.groupby(["group", "bin"], sort=True).agg(
            people=("y", "size"),
            positives=("y", "sum"),
            mean_score=("s", "mean"),
            observed_rate=("y", "mean"),
        )
        agg = agg.reset_index()
        keys = [
            (order_key(str(g)), int(bn)) for g, bn in zip(agg["group"], agg["bin"], strict=True)
        ]
        agg = agg.iloc[sorted(range(len(agg)), key=keys.__getitem__)]
        agg.insert(0, "dimension", OVERALL if dim is None else dimension_name(dim))
        parts.append(agg)
    table = pd.concat(parts, ignore_index=True)
    table["positives"] = table["positives"].astype(int)
    small = hidden_cells(table, min_people=min_people, min_positives=min_positives, keys=BIN_KEYS)
    whole = {
        (d, g, str(bn))
        for d, g, bn in table[list(BIN_KEYS)].astype(str).itertuples(False)
        if (d, g) in hidden
    }
    return apply_suppression(table, small | whole, keys=BIN_KEYS)


def plot_calibration(curves: pd.DataFrame, out: Path | BinaryIO, dims: Sequence[str]) -> None:
    """Draw one panel per dimension (shown bins only) as a PNG into ``out`` (path or file)."""
    dims = [d for d in dims if (curves["dimension"] == d).any()] or [OVERALL]
    cols = min(3, len(dims))
    rows = -(-len(dims) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.6 * rows), dpi=100)
    FigureCanvasAgg(fig)
    shown = curves[~curves["mean_score"].map(is_suppressed)]
    overall = shown[shown["dimension"] == OVERALL]
    for k, dim in enumerate(dims):
        ax = fig.add_subplot(rows, cols, k + 1)
        top = float(pd.to_numeric(shown["mean_score"]).max()) if len(shown) else 1.0
        top = max(top, float(pd.to_numeric(shown["observed_rate"]).max()) if len(shown) else 1.0)
        ax.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1)
        ax.plot(overall["mean_score"], overall["observed_rate"], color="black", label=OVERALL)
        for group, part in shown[shown["dimension"] == dim].groupby("group", sort=False):
            ax.plot(part["mean_score"], part["observed_rate"], marker="o", label=str(group))
        ax.set_title(dim)
        ax.set_xlabel("mean score in bin")
        ax.set_ylabel("observed rate in bin")
        ax.legend(fontsize=7)
    fig.suptitle("Calibration by group (suppressed bins not drawn)")
    fig.tight_layout()
    fig.savefig(out, format="png")
