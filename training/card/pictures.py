"""The card's pictures, each with a one-sentence reading and alt text.

* :func:`groups_picture`: recall at capacity and selection rate by group, as dots with
  95 % interval whiskers (groups in words; suppressed groups are left out and said so).
* :func:`backtest_picture`: per test quarter, how many listed families went on to the
  outcome, the model's list beside the current way of choosing.

Each returns a :class:`Picture`: the PNG bytes, the alt text (what is drawn) and the
reading (what it shows), worked out from the same figures the tables hold.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from stratify.core.text import is_suppressed
from stratify.features.labels import dimension_label, group_label
from stratify.training.audit.suppress import SEP
from stratify.training.evaluation import Evaluation

#: Colour-blind-safe pair (Okabe-Ito blue and vermilion), both >= 4.5:1 on white.
OURS, THEIRS = "#0072B2", "#B34700"
#: Which group-table columns are drawn, and their titles.
PANELS = {"recall": "Recall at capacity", "selection_rate": "Selection rate"}


@dataclass(frozen=True)
class Picture:
    """One picture: PNG bytes, alt text and a one-sentence reading."""

    png: bytes
    alt: str
    reading: str


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _shown(groups: pd.DataFrame) -> pd.DataFrame:
    """Whole dimensions' groups with every drawn figure shown, named in words."""
    single = groups[~groups["dimension"].astype(str).str.contains(SEP, regex=False)]
    cols = [f"{m}{s}" for m in PANELS for s in ("", "_low", "_high")]
    ok = single[cols].map(lambda v: not is_suppressed(v) and v is not None).all(axis=1)
    out = single[ok].copy()
    out[cols] = out[cols].astype(float)
    dims = out["dimension"].astype(str)
    out["group"] = [group_label(d, g) for d, g in zip(dims, out["group"], strict=True)]
    out["dimension"] = [d if d == "Overall" else dimension_label(d) for d in dims]
    return out


def groups_picture(groups: pd.DataFrame) -> Picture | None:
    """Return recall and selection rate by group as dot-and-whisker panels.

    ``groups`` is the audit's group table (codes; ``Overall`` first): whole dimensions
    only are drawn, named in words.
    """
    shown = _shown(groups)
    rows = shown[shown["dimension"] != "Overall"]
    if rows.empty:
        return None
    overall = shown[shown["dimension"] == "Overall"]
    labels = [f"{d}: {g}" for d, g in zip(rows["dimension"], rows["group"], strict=True)]
    fig = Figure(figsize=(10, 0.32 * len(rows) + 1.4))
    FigureCanvasAgg(fig)
    y = list(range(len(rows)))[::-1]
    for k, (metric, title) in enumerate(PANELS.items()):
        ax = fig.add_subplot(1, 2, k + 1)
        v = rows[metric].to_numpy()
        err = [v - rows[f"{metric}_low"].to_numpy(), rows[f"{metric}_high"].to_numpy() - v]
        ax.errorbar(v, y, xerr=err, fmt="o", color=OURS, ecolor=OURS, capsize=2, markersize=4)
        if len(overall):
            ax.axvline(float(overall[metric].iloc[0]), color="#505a5f", linestyle="--",
                       linewidth=1, label="everyone")  # fmt: skip
            ax.legend(fontsize=8, loc="lower right")
        ax.set_yticks(y, labels if k == 0 else [""] * len(y), fontsize=8)
        ax.set_title(f"{title} (95 % interval)", fontsize=10)
        ax.grid(axis="x", color="#dddddd")
    ordered = rows.sort_values("recall")
    low, high = ordered.iloc[0], ordered.iloc[-1]
    hidden = len(groups[groups["dimension"] != "Overall"]) - len(rows)
    alt = (
        f"Two dot-and-whisker charts, one row per group ({len(rows)} groups), showing "
        f"recall at capacity and selection rate with 95 % intervals and a dashed line for "
        f"everyone." + (f" {hidden} small or intersecting groups are not drawn." if hidden else "")
    )
    reading = (
        f"Recall at capacity runs from {low['recall']:.0%} ({low['dimension']}: "
        f"{low['group']}) to {high['recall']:.0%} ({high['dimension']}: {high['group']}); "
        f"where whiskers overlap the everyone line the difference may be chance."
    )
    return Picture(_png(fig), alt, reading)


def _count(v: object) -> float:
    return math.nan if is_suppressed(v) or v is None else float(v)  # type: ignore[arg-type]


def backtest_picture(evaluation: Evaluation) -> Picture | None:
    """Return the backtest as bars by quarter: the model's list against the rule's."""
    rows = evaluation.backtest
    quarters = list(dict.fromkeys(r.quarter for r in rows))
    if not quarters:
        return None
    by = {(r.quarter, r.model): _count(r.listed_with_outcome) for r in rows}
    ours = [by.get((q, "lightgbm"), math.nan) for q in quarters]
    theirs = [by.get((q, "rule"), math.nan) for q in quarters]
    fig = Figure(figsize=(8, 3.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = range(len(quarters))
    ax.bar([i - 0.2 for i in x], [0 if math.isnan(v) else v for v in ours], 0.4, color=OURS,
           label="the model's list")  # fmt: skip
    ax.bar([i + 0.2 for i in x], [0 if math.isnan(v) else v for v in theirs], 0.4,
           color=THEIRS, label="the current way of choosing", hatch="//")  # fmt: skip
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for dx, v in ((-0.2, a), (0.2, b)):
            ax.annotate("suppressed" if math.isnan(v) else f"{v:.0f}", (i + dx, 0 if
                        math.isnan(v) else v), ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.set_xticks(list(x), quarters)
    ax.set_ylabel("listed families who went on\nto the outcome", fontsize=9)
    ax.legend(fontsize=8)
    both = [
        (a, b) for a, b in zip(ours, theirs, strict=True) if not (math.isnan(a) or math.isnan(b))
    ]
    more = sum(a > b for a, b in both)
    alt = (
        f"Bar chart of {len(quarters)} test quarters: for each, the number of listed families "
        f"who went on to the outcome on the model's list (solid) and on the current way's "
        f"list (hatched); suppressed counts are marked."
    )
    reading = (
        f"In {more} of the {len(both)} quarters with both counts shown, the model's list held "
        f"more families who went on to the outcome than the current way of choosing."
        if both
        else "Too few families to compare the two lists quarter by quarter (counts suppressed)."
    )
    return Picture(_png(fig), alt, reading)
