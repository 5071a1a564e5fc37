"""The model card's fairness tables, from an (already suppressed) :class:`AuditResult`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from stratify.core.text import fmt, fmt_ci
from stratify.training.audit.report import AuditResult
from stratify.training.card.formatting import md_table


def _ci(row: Any, name: str) -> str:
    """Return a row's ``name`` with its ``name_low`` and ``name_high`` as interval text."""
    return fmt_ci(getattr(row, name), getattr(row, f"{name}_low"), getattr(row, f"{name}_high"))


def help_table(audit: AuditResult) -> str:
    """Return who is offered help and who is missed, per group, with 95 % CIs."""
    rows = [
        (
            r.dimension,
            r.group,
            r.people,
            r.positives,
            _ci(r, "recall"),
            _ci(r, "selection_rate"),
            _ci(r, "false_negative_rate"),
            _ci(r, "false_positive_rate"),
            _ci(r, "precision"),
        )
        for r in audit.groups.itertuples()
    ]
    heads = (
        "Dimension",
        "Group",
        "People",
        "Positives",
        "Recall at capacity",
        "Selection rate",
        "False negative rate",
        "False positive rate",
        "Precision",
    )
    return md_table(heads, rows)


def calibration_table(audit: AuditResult) -> str:
    """Return calibration in the large (observed/expected) and ROC AUC per group, with CIs."""
    rows = [
        (
            r.dimension,
            r.group,
            _ci(r, "mean_score"),
            _ci(r, "base_rate"),
            _ci(r, "observed_expected"),
            _ci(r, "roc_auc"),
        )
        for r in audit.groups.itertuples()
    ]
    heads = (
        "Dimension",
        "Group",
        "Mean score",
        "Observed rate",
        "Observed/expected",
        "ROC AUC",
    )
    return md_table(heads, rows)


#: Ratios shown against the reference: metric -> column heading (recall first).
RATIOS = {
    "recall": "Recall ratio",
    "selection_rate": "Selection rate ratio",
    "false_negative_rate": "False negative rate ratio",
}


def ratio_table(audit: AuditResult) -> str:
    """Return each group's recall, selection-rate and FNR ratios to its reference group."""
    d = audit.disparities
    versus = "overall" if audit.settings.get("reference") == "overall" else "reference"
    d = d[(d["versus"] == versus) & d["metric"].isin(list(RATIOS))]
    rows = []
    for (dim, group), part in d.groupby(["dimension", "group"], sort=False):
        by = {r.metric: fmt_ci(r.ratio, r.ratio_low, r.ratio_high) for r in part.itertuples()}
        ratios = tuple(by.get(m, "n/a") for m in RATIOS)
        rows.append((dim, group, part["reference"].iloc[0], *ratios))
    return md_table(("Dimension", "Group", "Compared with", *RATIOS.values()), rows)


def checks_table(audit: AuditResult) -> str:
    """Return every fairness check with its value, CI, outcome and whether it is required."""
    rows = [
        (
            c.dimension,
            c.group,
            c.reference,
            c.criterion,
            c.limit,
            fmt_ci(c.value, c.low, c.high),
            c.outcome,
            "yes" if c.required else "no",
            c.note,
        )
        for c in audit.checks
    ]
    heads = (
        "Dimension",
        "Group",
        "Compared with",
        "Criterion",
        "Limit",
        "Value (95 % CI)",
        "Outcome",
        "Required",
        "Note",
    )
    return md_table(heads, rows)


def true_need_table(audit: AuditResult) -> str | None:
    """Return the true-need view per group, or None without ground truth."""
    t = audit.true_need
    if t is None:
        return None
    rows = [
        (
            r.dimension,
            r.group,
            r.people,
            r.in_need,
            r.share_in_need,
            r.label_rate_in_need,
            r.label_rate_not_in_need,
            r.selection_rate_in_need,
            r.false_negative_rate_true_need,
        )
        for r in t.itertuples()
    ]
    heads = (
        "Dimension",
        "Group",
        "People with known need",
        "Truly in need",
        "Share in need",
        "Label rate when in need",
        "Label rate when not in need",
        "Selected when in need",
        "False negative rate against true need",
    )
    return md_table(heads, rows)


def proxy_tables(audit: AuditResult) -> tuple[str, str] | None:
    """Return the proxy AUC table and the most associated features, or None without X."""
    if audit.proxy is None or audit.proxy_features is None:
        return None
    auc = md_table(
        ("Characteristic", "ROC AUC from the model's inputs", "Groups tested"),
        [(r.dimension, r.roc_auc, r.groups) for r in audit.proxy.itertuples()],
    )
    tops = audit.proxy_features.groupby("dimension", sort=False)
    lines = [
        (dim, ", ".join(f"{r.feature} ({fmt(r.association)})" for r in part.itertuples()))
        for dim, part in tops
    ]
    return auc, md_table(("Characteristic", "Most associated inputs (correlation ratio)"), lines)


def what_if_tables(audit: AuditResult) -> dict[str, Any] | None:
    """Return the what-if per group and its summary, or None if it could not be run."""
    w = audit.what_if
    if w is None:
        return None
    g: pd.DataFrame = w.groups
    rows = [
        (r.group, r.actual_fnr, r.actual_selected, r.threshold, r.whatif_fnr, r.whatif_selected)
        for r in g.itertuples()
    ]
    heads = (
        "Group",
        "False negative rate now",
        "Selected now",
        "Group threshold",
        "False negative rate with it",
        "Selected with it",
    )
    s = w.summary
    summary = md_table(
        ("", "At the operating point", "With group thresholds"),
        [
            ("Children selected", s["actual_selected"], s["whatif_selected"]),
            (
                "Precision (share selected who had the outcome)",
                s["actual_precision"],
                s["whatif_precision"],
            ),
        ],
    )
    return {
        "dimension": w.dimension,
        "reference": w.reference,
        "target": fmt(w.target_fnr),
        "table": md_table(heads, rows),
        "summary": summary,
    }
