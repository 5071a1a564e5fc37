"""Two views beyond the labels: true need (simulated data only) and a what-if.

True need: the recorded label is the system's *response* (a section 47 enquiry, a plan,
care), which depends on who gets noticed. On synthetic data the simulator knows each
child's true need, so the audit shows, per group, how much need is present, how often
need is recorded as the label, and how often the model misses a child truly in need.

What-if: the per-group score thresholds that would bring each group's false negative
rate down (or up) to the reference group's. It is reported so reviewers can see the
trade-off; it is never applied, because treating groups differently by a protected
characteristic raises Equality Act 2010 issues (positive action needs legal advice).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stratify.training.audit.serialise import records
from stratify.training.audit.stats import dimension_name, group_labels, order_key
from stratify.training.audit.suppress import OVERALL, Cell, apply_suppression, hidden_cells

NEED_COLUMNS = (
    "people",
    "in_need",
    "share_in_need",
    "label_rate_in_need",
    "label_rate_not_in_need",
    "selection_rate_in_need",
    "false_negative_rate_true_need",
)


def _rate(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(float)


def _need_rows(
    labels: pd.Series, need: pd.Series, label: pd.Series, sel: pd.Series
) -> pd.DataFrame:
    g = pd.DataFrame(
        {"g": labels.to_numpy(), "n": need.to_numpy(), "y": label.to_numpy(), "s": sel.to_numpy()}
    )
    g["ny"], g["oy"], g["ns"] = g.n & g.y, ~g.n & g.y, g.n & g.s
    agg = g.groupby("g", sort=True).agg(
        people=("n", "size"),
        in_need=("n", "sum"),
        ny=("ny", "sum"),
        oy=("oy", "sum"),
        ns=("ns", "sum"),
    )
    out = pd.DataFrame({"people": agg.people, "in_need": agg.in_need})
    out["share_in_need"] = _rate(agg.in_need, agg.people)
    out["label_rate_in_need"] = _rate(agg.ny, agg.in_need)
    out["label_rate_not_in_need"] = _rate(agg.oy, agg.people - agg.in_need)
    out["selection_rate_in_need"] = _rate(agg.ns, agg.in_need)
    out["false_negative_rate_true_need"] = 1 - out["selection_rate_in_need"]
    out = out.rename_axis("group").reset_index()
    return out.iloc[sorted(range(len(out)), key=lambda i: order_key(str(out["group"].iat[i])))]


def true_need_table(
    frame: pd.DataFrame,
    dims: Sequence[str | tuple[str, str]],
    *,
    hidden: frozenset[Cell],
    min_people: int,
    min_positives: int,
) -> pd.DataFrame | None:
    """Return the true-need view per group (suppressed), or None without ground truth.

    Only rows whose ``in_need`` is known count. A cell is withheld if it is hidden in
    the main audit, or has fewer than ``min_people`` people or ``min_positives`` children
    in need among those rows.
    """
    known = frame["in_need"].notna().to_numpy()
    if not known.any():
        return None
    sub = frame.loc[known]
    need = sub["in_need"].astype(bool)
    label, sel = sub["label"].astype(bool), sub["selected"].astype(bool)
    parts = []
    all_dims: list[str | tuple[str, str] | None] = [None, *dims]
    for dim in all_dims:
        labels = pd.Series(OVERALL, index=sub.index) if dim is None else group_labels(sub, dim)
        rows = _need_rows(labels, need, label, sel)
        rows.insert(0, "dimension", OVERALL if dim is None else dimension_name(dim))
        parts.append(rows)
    table = pd.concat(parts, ignore_index=True)
    small = hidden_cells(
        table, min_people=min_people, min_positives=min_positives, positives="in_need", given=hidden
    )
    return apply_suppression(table, small)


@dataclass(frozen=True)
class WhatIf:
    """Group-specific thresholds equalising false negative rates (reported, never applied).

    Attributes
    ----------
    dimension, reference : str
        The dimension and the group whose false negative rate the others are brought to.
    target_fnr : float
        The reference group's false negative rate at the operating point.
    groups : DataFrame
        Per group: actual FNR and number selected, the threshold, and the what-if FNR
        and number selected (suppressed groups keep their actual selection).
    summary : dict
        Selected and precision overall, actual against what-if.
    """

    dimension: str
    reference: str
    target_fnr: float
    groups: pd.DataFrame
    summary: dict[str, float | int]

    def to_dict(self) -> dict[str, Any]:
        """Return the what-if as a JSON-ready mapping (tables as records)."""
        return {
            "dimension": self.dimension,
            "reference": self.reference,
            "target_fnr": self.target_fnr,
            "groups": records(self.groups),
            "summary": self.summary,
        }


def _threshold(score: np.ndarray, label: np.ndarray, target_fnr: float) -> float:
    pos = np.sort(score[label])[::-1]
    m = math.ceil((1 - target_fnr) * len(pos) - 1e-9)
    return float(pos[m - 1]) if m > 0 else float("inf")


def what_if(
    frame: pd.DataFrame, dim: str, reference: str, hidden: frozenset[Cell]
) -> WhatIf | None:
    """Return the what-if for ``dim``, each group brought to ``reference``'s FNR.

    A group's threshold is the highest score that selects at least ``1 - target`` of its
    positives; it applies over the whole test window (not quarter by quarter).
    """
    labels = group_labels(frame, dim).to_numpy()
    score, y = frame["score"].to_numpy(dtype=float), frame["label"].to_numpy(dtype=bool)
    actual = frame["selected"].to_numpy(dtype=bool)
    ref = labels == reference
    if not (ref & y).any():
        return None
    target = float(1 - actual[ref & y].mean())
    new, rows = actual.copy(), []
    for group in sorted(set(labels)):
        mine = labels == group
        row: dict[str, Any] = {
            "dimension": dim,
            "group": group,
            "actual_fnr": float(1 - actual[mine & y].mean()) if (mine & y).any() else np.nan,
            "actual_selected": int(actual[mine].sum()),
        }
        if group != reference and (dim, group) not in hidden and (mine & y).any():
            t = _threshold(score[mine], y[mine], target)
            new[mine] = score[mine] >= t
            row["threshold"] = t
        else:
            row["threshold"] = np.nan
        row["whatif_fnr"] = float(1 - new[mine & y].mean()) if (mine & y).any() else np.nan
        row["whatif_selected"] = int(new[mine].sum())
        rows.append(row)
    summary: dict[str, float | int] = {
        "actual_selected": int(actual.sum()),
        "actual_precision": float(y[actual].mean()) if actual.any() else float("nan"),
        "whatif_selected": int(new.sum()),
        "whatif_precision": float(y[new].mean()) if new.any() else float("nan"),
    }
    table = apply_suppression(pd.DataFrame(rows), hidden)
    return WhatIf(dim, reference, target, table, summary)
