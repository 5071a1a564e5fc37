"""The run's performance plots (PNG, drawn with Agg): no identifiers, no records.

ROC and precision-recall curves of LightGBM and the baselines, the reliability curve,
precision at capacity per test quarter, feature importance (gain) and a SHAP summary
of a sample of the test window (LightGBM's own TreeSHAP, ``pred_contrib``).

Figures are :class:`matplotlib.figure.Figure` objects on an Agg canvas, so importing
or calling this module never changes pyplot's backend; only the SHAP summary, which
shap draws through pyplot, selects Agg, and only if nothing has chosen a backend yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from stratify.training.evaluation import QuarterRow
from stratify.training.metrics.evaluate import reliability_curve

LABELS = {
    "lightgbm": "LightGBM (calibrated)",
    "rule": "prior-referral rule",
    "logreg": "logistic regression",
}
SHAP_SAMPLE = 2_000


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    """Return a new figure on its own Agg canvas (not known to pyplot) and its axes."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def curves(y: np.ndarray, scores: dict[str, np.ndarray], out: Path) -> dict[str, Path]:
    """Write ``roc.png`` and ``precision_recall.png``."""
    fig, ax = _figure(5.5, 4.5)
    for m, s in scores.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=LABELS.get(m, m))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    ax.set(
        xlabel="false positive rate", ylabel="true positive rate (recall)", title="ROC, test window"
    )
    ax.legend(loc="lower right")
    roc = _save(fig, out / "roc.png")
    fig, ax = _figure(5.5, 4.5)
    for m, s in scores.items():
        precision, recall, _ = precision_recall_curve(y, s)
        ax.plot(recall, precision, label=LABELS.get(m, m))
    ax.axhline(float(np.mean(y)), ls=":", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, test window")
    ax.legend(loc="upper right")
    return {"roc": roc, "precision_recall": _save(fig, out / "precision_recall.png")}


def calibration(y: np.ndarray, p: np.ndarray, out: Path) -> Path:
    """Write ``calibration.png``: observed rate against mean predicted probability per bin."""
    rel = reliability_curve(y, p, bins=10)
    rel = rel[rel["n"] > 0]
    fig, ax = _figure(5.5, 4.5)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    ax.plot(rel["mean_predicted"], rel["observed"], "o-", label="LightGBM (calibrated)")
    ax.set(
        xlabel="mean predicted probability",
        ylabel="observed rate",
        title="Reliability, test window",
    )
    ax.legend(loc="upper left")
    return _save(fig, out / "calibration.png")


def capacity_over_time(per_quarter: Sequence[QuarterRow], out: Path) -> Path:
    """Write ``capacity_over_time.png``: precision at capacity per rolling-origin quarter."""
    frame = pd.DataFrame(
        {
            "period": [q.period for q in per_quarter],
            "model": [q.model for q in per_quarter],
            "precision_at_capacity": [q.precision_at_capacity for q in per_quarter],
        }
    )
    fig, ax = _figure(6, 4)
    for m, part in frame.groupby("model", sort=False):
        ax.plot(part["period"], part["precision_at_capacity"], "o-", label=LABELS.get(str(m), m))
    ax.set(
        xlabel="test quarter (model refitted before each)",
        ylabel="precision at capacity",
        title="Precision at capacity over time",
    )
    ax.set_ylim(bottom=0)
    ax.legend()
    return _save(fig, out / "capacity_over_time.png")


def importance(names: Sequence[str], gain: np.ndarray, out: Path, top: int = 20) -> Path:
    """Write ``importance.png``: the ``top`` features by total gain."""
    order = np.argsort(gain)[::-1][:top][::-1]
    fig, ax = _figure(6, 0.3 * top + 1)
    total = gain.sum()  # zero for trees that never split (nothing met the split bar)
    ax.barh([names[i] for i in order], gain[order] / total if total > 0 else gain[order] * 0)
    ax.set(xlabel="share of total gain", title="LightGBM feature importance")
    return _save(fig, out / "importance.png")


def shap_summary(contrib: np.ndarray, X: pd.DataFrame, out: Path) -> Path:
    """Write ``shap_summary.png`` from TreeSHAP values (no bias column) of a sample."""
    import shap  # imported here: it is slow to import and only this plot needs it

    if matplotlib.get_backend(auto_select=False) is None:
        matplotlib.use("Agg")  # nothing chose a backend: never open a window for a file
    import matplotlib.pyplot as plt  # shap draws on pyplot's current figure

    rng = np.random.default_rng(0)  # shap warns when it would use the global NumPy seed
    shap.summary_plot(contrib, X, show=False, max_display=15, plot_size=(7, 6), rng=rng)
    fig = plt.gcf()
    fig.suptitle("SHAP values (log-odds), sample of the test window")
    try:
        return _save(fig, out / "shap_summary.png")
    finally:
        plt.close(fig)
