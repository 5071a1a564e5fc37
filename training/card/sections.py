"""The model card's tables, built from the run's evaluation, the audit and the metadata.

Each function returns ready Markdown (tables through :mod:`stratify.training.card.formatting`,
figures through :mod:`stratify.core.text`), so the template holds the prose and the layout,
and every figure is formatted one way.
"""

from __future__ import annotations

from typing import Any

from stratify.core.targets import Target
from stratify.core.text import SUPPRESSED, fmt, fmt_ci
from stratify.features.catalogue import Feature, features_for, reason
from stratify.training.audit.report import AuditResult
from stratify.training.card.formatting import md_table
from stratify.training.evaluation import Evaluation, Interval, RegisteredRun

MODEL_NAMES = {
    "lightgbm": "LightGBM (calibrated)",
    "lightgbm_refit": "LightGBM (refitted before the quarter)",
    "rule": "prior-referral rule",
    "logreg": "logistic regression",
    "ceiling": "ceiling: the simulator's true probabilities",
    "lightgbm_on_truth_sample": "LightGBM on the same truth sample",
}
METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "average_precision": "average precision",
    "brier": "Brier score (lower is better)",
    "ece": "expected calibration error (lower is better)",
    "precision_at_capacity": "precision at capacity",
    "recall_at_capacity": "recall at capacity",
    "lift_at_capacity": "lift at capacity",
    "calibration_slope": "calibration slope (1 is ideal)",
    "calibration_intercept": "calibration intercept (0 is ideal)",
}
#: Metrics computed on listed families (the rest on eligible children).
FAMILY_METRICS = ("precision_at_capacity", "recall_at_capacity", "lift_at_capacity")
QUARTER_METRICS = ("roc_auc", "average_precision", "precision_at_capacity", "recall_at_capacity")
ELIGIBLE = (
    "Only families eligible for early help outreach on the date are scored, listed and "
    "evaluated: nobody in the household is open to statutory social care (a child in need "
    "plan, a child protection plan, looked after) and nobody in it has an open referral (an "
    "assessment or section 47 enquiry may be under way)"
)
TARGETS: dict[str, tuple[str, str]] = {
    "escalation": (
        "each quarterly snapshot date, for every child known to any service in the previous "
        "24 months who is not open to statutory social care on that date (no open child in "
        "need plan, child protection plan or care episode)",
        "a section 47 enquiry, a child protection plan or becoming looked after within "
        "{horizon} months after the date",
    ),
    "rereferral": (
        "the closure date of each referral closed with reason RC7, RC8 or RC9",
        "a new referral within {horizon} months after the closure",
    ),
}


def details(evaluation: Evaluation, run: RegisteredRun | None, metadata: dict[str, Any]) -> str:
    """Return the model details table: name, version, dates and lineage hashes.

    Without ``run`` (not registered) the dates and hashes come from ``metadata``.
    """
    lineage = None if run is None else run.lineage
    rows = [
        ("Model name", evaluation.model_name),
        ("Registered version", None if run is None else run.version),
        ("Target", evaluation.target),
        ("Training run", None if run is None else run.run_id),
        ("Trained", evaluation.created),
        (
            "Model type",
            "gradient-boosted trees (LightGBM), calibrated ("
            f"{evaluation.calibration}) on a later time slice",
        ),
        ("Operating point (outreach capacity)", evaluation.capacity),
        ("Extract date", metadata.get("extract_date") if lineage is None else lineage.extract_date),
        (
            "Warehouse content hash",
            metadata.get("warehouse_content_hash")
            if lineage is None
            else lineage.warehouse_content_hash,
        ),
        ("Feature table hash", None if lineage is None else lineage.feature_table_hash),
        (
            "Feature catalogue hash",
            metadata.get("catalogue_hash") if lineage is None else lineage.catalogue_hash,
        ),
        ("Run config hash", None if lineage is None else lineage.config_hash),
    ]
    return md_table(
        ("Field", "Value"), [(k, "not recorded" if v is None else fmt(v)) for k, v in rows]
    )


def decision_point(target: str, horizon: int) -> tuple[str, str]:
    """Return the decision point and the label of ``target`` in words."""
    point, label = TARGETS.get(target, ("not described", "not described"))
    return point, label.format(horizon=horizon)


def splits(evaluation: Evaluation, metadata: dict[str, Any]) -> str:
    """Return the periods, sizes and base rates of train, calibrate and test."""
    rows: list[tuple[Any, ...]] = []
    for name, part in evaluation.split.parts().items():
        rate = part.positives / part.rows if part.rows else None
        rows.append((name, part.start, part.end, part.rows, part.families, part.positives, rate))
    span = metadata.get("date_range") or {}
    rows.append(
        (
            "whole feature table",
            span.get("start"),
            span.get("end"),
            metadata.get("rows"),
            None,
            metadata.get("positives"),
            metadata.get("base_rate"),
        )
    )
    heads = (
        "Part",
        "First decision point",
        "Last decision point",
        "Rows",
        "Families",
        "Positives",
        "Base rate",
    )
    return md_table(heads, rows)


def base_rates(audit: AuditResult) -> str:
    """Return the test window's people, positives and base rate by group."""
    g = audit.groups
    rows = [
        (
            r.dimension,
            r.group,
            r.people,
            r.positives,
            fmt_ci(r.base_rate, r.base_rate_low, r.base_rate_high),
        )
        for r in g.itertuples()
    ]
    return md_table(("Dimension", "Group", "People", "Positives", "Base rate (95 % CI)"), rows)


def performance(evaluation: Evaluation) -> str:
    """Return every metric of the three models (rows: metrics; columns: models) with CIs.

    The ceiling is compared on its own sample (:func:`ceiling`), not here.
    """
    metrics = evaluation.metrics
    models = [m for m in ("lightgbm", "rule", "logreg") if m in metrics]
    rows = []
    for key, words in METRIC_NAMES.items():
        unit = "families" if key in FAMILY_METRICS else "children"
        rows.append([words, unit, *(fmt_ci(metrics[m].get(key)) for m in models)])
    return md_table(["Metric", "Counted over", *(str(MODEL_NAMES.get(m, m)) for m in models)], rows)


def lift(evaluation: Evaluation) -> str:
    """Return LightGBM minus each baseline, per metric, with the paired bootstrap CI."""
    rows = []
    for base, per in evaluation.lift_over.items():
        for key, ci in per.items():
            rows.append(
                (
                    f"LightGBM minus {MODEL_NAMES.get(base, base)}",
                    METRIC_NAMES.get(key, key),
                    fmt_ci(ci),
                )
            )
    return md_table(("Comparison", "Metric", "Difference (95 % CI)"), rows)


def per_quarter(evaluation: Evaluation) -> str:
    """Return the point estimates per test quarter and model."""
    rows = [
        (
            q.period,
            MODEL_NAMES.get(f"{q.model}_refit", MODEL_NAMES.get(q.model, q.model)),
            q.rows,
            q.positives,
            q.families,
            q.families_with_outcome,
            q.roc_auc,
            q.average_precision,
            q.precision_at_capacity,
            q.recall_at_capacity,
        )
        for q in evaluation.per_quarter
    ]
    heads = ("Quarter", "Model", "Children", "Positives", "Families", "Families with the outcome",
             *(METRIC_NAMES[k] for k in QUARTER_METRICS))  # fmt: skip
    return md_table(heads, rows)


def headline(evaluation: Evaluation) -> str:
    """Return the list's figures in words: how many listed families went on to the outcome."""
    m = evaluation.metrics
    ours, rule = m["lightgbm"], m.get("rule", {})
    point = evaluation.operating_point
    quarters = len({row.quarter for row in evaluation.backtest}) or 1
    per_quarter = point.listed / quarters

    def share(ci: Any) -> str:
        return "not available" if ci is None else fmt_ci(ci)

    return (
        f"Over the test window the lists held {point.listed:,} families (about "
        f"{per_quarter:,.0f} a quarter) out of {point.families:,} eligible family decision "
        f"points, of which {point.families_with_outcome:,} went on to the outcome. "
        f"**Precision at capacity** (the share of listed families with at least one child "
        f"who went on to the outcome): {share(ours.get('precision_at_capacity'))}; the "
        f"prior-referral rule's lists: {share(rule.get('precision_at_capacity'))}. "
        f"**Recall at capacity** (the share of eligible families with the outcome who were "
        f"listed): {share(ours.get('recall_at_capacity'))}; the rule: "
        f"{share(rule.get('recall_at_capacity'))}."
    )


def operating_threshold(evaluation: Evaluation) -> str | None:
    """Return the threshold sentence of a threshold capacity, None for a ranked list."""
    evaluated, registered = evaluation.operating_point.threshold, evaluation.champion.threshold
    if evaluated is None:
        return None
    return (
        f"Families are selected one closure at a time, when their family score is at least "
        f"a threshold fixed on the calibration slice to select the intended share "
        f"({evaluation.capacity}): {evaluated:.3f} for the evaluated model; the registered "
        f"model's threshold, fixed on its own latest slice, is "
        f"{'not recorded' if registered is None else f'{registered:.3f}'}."
    )


def eligibility(evaluation: Evaluation) -> str:
    """Return the test window's decision points before and after the eligibility rule."""
    e = evaluation.eligibility
    rows = [
        ("all decision points", e.test_rows, e.test_positives),
        ("eligible (scored, listed and evaluated)", e.eligible_rows, e.eligible_positives),
        ("left out", e.test_rows - e.eligible_rows, e.test_positives - e.eligible_positives),
    ]
    return md_table(("Test window", "Decision points", "Positives"), rows)


def champion(evaluation: Evaluation) -> str:
    """Return what the registered model learnt from, beside the evaluated procedure's periods."""
    c, split = evaluation.champion, evaluation.split
    rows = [
        ("evaluated: trees learnt from", split.train.start, split.train.end, split.train.rows,
         split.train.positives),
        ("evaluated: calibrated on", split.calibrate.start, split.calibrate.end,
         split.calibrate.rows, split.calibrate.positives),
        ("registered: trees learnt from", c.train.start, c.train.end, c.train.rows,
         c.train.positives),
        ("registered: early stopping and calibration (out of sample)", c.calibrate.start,
         c.calibrate.end, c.calibrate.rows, c.calibrate.positives),
    ]  # fmt: skip
    heads = ("Model and part", "First decision point", "Last decision point", "Rows", "Positives")
    return md_table(heads, rows)


def backtest(evaluation: Evaluation) -> str:
    """Return, per test quarter, each list and what became of its families."""
    rows = [
        (r.quarter, MODEL_NAMES.get(r.model, r.model), r.listed, r.listed_with_outcome,
         r.eligible_families, r.families_with_outcome)
        for r in evaluation.backtest
    ]  # fmt: skip
    heads = ("Quarter", "List drawn by", "Families listed", "Listed families with the outcome",
             "Eligible families", "Eligible families with the outcome")  # fmt: skip
    return md_table(heads, rows)


def _rate(rate: tuple[float, float, float] | None) -> str:
    return SUPPRESSED if rate is None else fmt_ci(Interval(*rate))


def stepdown_backtest(evaluation: Evaluation) -> str | None:
    """Return the monthly step-down backtest: listed and not-listed families' re-referrals."""
    if not evaluation.monthly_backtest:
        return None
    rows = [
        (r.month, r.listed, r.listed_with_outcome, _rate(r.listed_rate), r.not_listed,
         r.not_listed_with_outcome, _rate(r.not_listed_rate))
        for r in evaluation.monthly_backtest
    ]  # fmt: skip
    heads = ("Month", "Families listed", "Re-referred", "Share (95 % CI)", "Families not listed",
             "Re-referred", "Share (95 % CI)")  # fmt: skip
    return md_table(heads, rows)


def ceiling(evaluation: Evaluation) -> str | None:
    """Return the ceiling against LightGBM on the same truth sample, with its size."""
    gap = evaluation.ceiling_gap
    m = evaluation.metrics
    if gap is None or "ceiling" not in m:
        return None
    rows = []
    for key in ("roc_auc", "average_precision", "precision_at_capacity", "recall_at_capacity"):
        unit = "families" if key in FAMILY_METRICS else "children"
        size = (
            f"{gap.families:,} families, {gap.families_with_outcome:,} with the outcome"
            if unit == "families"
            else f"{gap.rows:,} children, {gap.positives:,} positives"
        )
        rows.append((METRIC_NAMES[key], size, fmt_ci(m["ceiling"].get(key)),
                     fmt_ci(m["lightgbm_on_truth_sample"].get(key)),
                     fmt_ci(gap.difference.get(key))))  # fmt: skip
    heads = ("Metric", "Sample", "Ceiling (true probabilities)", "LightGBM",
             "Ceiling minus LightGBM (paired)")  # fmt: skip
    return md_table(heads, rows)


def criteria(evaluation: Evaluation) -> tuple[str, str]:
    """Return the performance verdict table and the overall outcome."""
    verdict = evaluation.verdict
    rows = [(c.name, c.threshold, fmt_ci(c.ci), c.outcome) for c in verdict.criteria]
    table = md_table(("Criterion", "Threshold", "Value (95 % CI)", "Outcome"), rows)
    return table, str(verdict.overall)


def _example(f: Feature) -> str:
    if f.dtype == "bool":
        return reason(f, True)
    return reason(f, f"[{f.name}]" if f.dtype == "category" else "N")


def catalogue(target: Target, used: list[str]) -> str:
    """Return every feature of ``target``: meaning, reason text, expected direction."""
    rows = [
        (f.name, f.description, _example(f), f.direction, "yes" if f.name in used else "no")
        for f in features_for(target)
    ]
    heads = (
        "Feature",
        "What it means",
        "Reason shown to practitioners",
        "Expected direction",
        "Input to this model",
    )
    return md_table(heads, rows)
