"""What the card template is given: the first page, the six layers' tables and pictures.

:func:`card_context` reads the evaluation, the audit (whose dimensions and groups it
puts into words first, :func:`stratify.training.card.labelled.labelled`) and the run, and
returns the template's variables; images are file names (Markdown) or data URIs (HTML).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any, Literal

from stratify.core.text import fmt, is_suppressed
from stratify.features.labels import dimension_label, group_label
from stratify.features.sources import describe
from stratify.training.audit.report import AuditResult
from stratify.training.audit.suppress import SEP
from stratify.training.card.atrs import todo
from stratify.training.card.fairness import (
    calibration_table,
    checks_table,
    help_table,
    proxy_tables,
    ratio_table,
    true_need_table,
    what_if_tables,
)
from stratify.training.card.formatting import md_table
from stratify.training.card.labelled import labelled
from stratify.training.card.pictures import Picture
from stratify.training.card.sections import (
    ELIGIBLE,
    backtest,
    base_rates,
    catalogue,
    ceiling,
    champion,
    criteria,
    decision_point,
    details,
    eligibility,
    headline,
    lift,
    operating_threshold,
    per_quarter,
    performance,
    splits,
    stepdown_backtest,
)
from stratify.training.card.summary import (
    Approval,
    approval_words,
    bar_words,
    how_good,
    summary,
)
from stratify.training.evaluation import Evaluation, RegisteredRun
from stratify.training.policy import Policy

Mode = Literal["markdown", "html"]
DPO_CONTACT = todo("the data protection officer's contact details")
#: Names of the card's own pictures (beside training's plots).
GROUPS, BACKTEST = "groups_chart", "backtest_chart"
CALIBRATION_BY_GROUP = "calibration_by_group"
CALIBRATION_ALT = (
    "One panel per dimension: mean score against observed rate in score bins for each "
    "group, with the everyone line and the diagonal; suppressed bins are not drawn."
)


LABELS_NOT_MEASURED = (
    "The share of training labels touched by contacts from earlier outreach lists was not "
    "measured for this card."
)


@dataclass(frozen=True)
class Artwork:
    """The card's images: PNG bytes by name, its own pictures, training's plot titles."""

    images: dict[str, bytes]
    pictures: dict[str, Picture | None]
    #: Training's plots: name -> (title, alt text).
    plots: dict[str, tuple[str, str]]


@dataclass(frozen=True)
class History:
    """What the first page says about approval and the previous version."""

    approval: Approval | None = None
    previous: Evaluation | None = None
    previous_version: str = "the previous version"


def src(name: str, images: dict[str, bytes], mode: Mode) -> str | None:
    """Return an image's file name (Markdown) or data URI (HTML); None if missing."""
    if name not in images:
        return None
    if mode == "markdown":
        return f"{name}.png"
    return "data:image/png;base64," + base64.b64encode(images[name]).decode("ascii")


def _positive(value: Any) -> float | None:
    if value is None or is_suppressed(value):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def calibration_reading(audit: AuditResult) -> str:
    """Return which whole group's observed/expected is furthest from 1, in words."""
    rows: list[tuple[float, dict[str, Any]]] = []
    for r in audit.groups.to_dict("records"):
        ratio = _positive(r["observed_expected"])
        if r["dimension"] != "Overall" and SEP not in str(r["dimension"]) and ratio:
            rows.append((abs(math.log(ratio)), {str(k): v for k, v in r.items()}))
    if not rows:
        return "Too few children in each group to compare calibration."
    _, worst = max(rows, key=lambda t: t[0])
    dim = str(worst["dimension"])
    return (
        f"Points near the diagonal mean a score reads as the same likelihood in every group; "
        f"the group furthest from it is {dimension_label(dim)}: "
        f"{group_label(dim, worst['group'])}, with {float(worst['observed_expected']):.2f} "
        f"times the outcomes its scores imply."
    )


def _picture(name: str, pic: Picture | None, images: dict[str, bytes], mode: Mode) -> Any:
    if pic is None or name not in images:
        return None
    return {"src": src(name, images, mode), "alt": pic.alt, "reading": pic.reading}


def _fairness(audit: AuditResult, policy: Policy) -> dict[str, Any]:
    proxy = proxy_tables(audit)
    reference = (
        "the largest group of its dimension"
        if policy.fairness.reference == "largest"
        else "the overall figure"
    )
    bar = audit.settings.get("fairness_bar", {})
    required = bar.get("required_dimensions")
    required = bar.get("dimensions", ()) if required is None else required
    return {
        "fairness": audit.verdict.to_dict(),
        "settings": audit.settings,
        "required_words": ", ".join(dimension_label(str(d)) for d in required),
        "reference_words": reference,
        "help_table": help_table(audit),
        "calibration_table": calibration_table(audit),
        "ratio_table": ratio_table(audit),
        "checks_table": checks_table(audit),
        "true_need_table": true_need_table(audit),
        "proxy": None if proxy is None else {"auc": proxy[0], "features": proxy[1]},
        "what_if": what_if_tables(audit),
        "synthetic": audit.true_need is not None,
    }


def _brief(evaluation: Evaluation, audit: AuditResult, history: History) -> dict[str, Any]:
    s = summary(
        evaluation,
        audit,
        approval=history.approval,
        previous=history.previous,
        previous_version=history.previous_version,
    )
    return {
        "summary": s,
        "how_good": how_good(s, evaluation.horizon_months),
        "disparities": s.disparities,
        "bar": bar_words(s),
        "failing_checks": s.failing_checks,
        "approval": approval_words(s.approval),
        "changes": s.changes,
    }


def card_context(
    *,
    evaluation: Evaluation,
    run: RegisteredRun | None,
    audit: AuditResult,
    policy: Policy,
    metadata: dict[str, Any],
    art: Artwork,
    mode: Mode = "markdown",
    history: History = History(),  # noqa: B008 (frozen, so one shared default is safe)
) -> dict[str, Any]:
    """Return everything the card template needs (images as file names or data URIs)."""
    target = evaluation.target
    images, pictures = art.images, art.pictures
    words = labelled(audit)
    point, label = decision_point(target, evaluation.horizon_months)
    table, overall = criteria(evaluation)
    shown = [{"name": n, "title": t, "alt": a, "src": src(n, images, mode)}
             for n, (t, a) in art.plots.items()]  # fmt: skip
    test = evaluation.split.test
    calibration = Picture(b"", CALIBRATION_ALT, calibration_reading(audit))
    return {
        "model_name": evaluation.model_name,
        "version": "not registered" if run is None else run.version,
        "capacity": evaluation.capacity,
        "brief": _brief(evaluation, audit, history),
        "test_window": f"decision points from {test.start} to {test.end}",
        "model_type": (
            "Gradient-boosted trees (LightGBM), monotone in the directions the feature "
            f"catalogue declares, calibrated ({evaluation.calibration}) on a later time slice"
        ),
        "details": details(evaluation, run, metadata),
        "search": md_table(
            ("Setting", "Value"), [(str(k), fmt(v)) for k, v in evaluation.search.chosen.items()]
        ),  # fmt: skip
        "decision_point": point,
        "label": label,
        "splits": splits(evaluation, metadata),
        "base_rates": base_rates(words),
        "n_boot": evaluation.n_boot,
        "ceiling": ceiling(evaluation),
        "headline": headline(evaluation),
        "threshold": operating_threshold(evaluation),
        "eligible_rule": ELIGIBLE,
        "eligibility": eligibility(evaluation),
        "learn_from": evaluation.eligibility.learn_from,
        "champion": champion(evaluation),
        "backtest": backtest(evaluation),
        "stepdown": stepdown_backtest(evaluation),
        "horizon": evaluation.horizon_months,
        "performance": performance(evaluation),
        "lift": lift(evaluation),
        "per_quarter": per_quarter(evaluation),
        "plots": [p for p in shown if p["name"] not in ("importance", "shap_summary")],
        "rationale_plots": [p for p in shown if p["name"] in ("importance", "shap_summary")],
        "groups_picture": _picture(GROUPS, pictures.get(GROUPS), images, mode),
        "backtest_picture": _picture(BACKTEST, pictures.get(BACKTEST), images, mode),
        "calibration_picture": _picture(CALIBRATION_BY_GROUP, calibration, images, mode),
        "criteria": table,
        "performance_overall": overall,
        "catalogue": catalogue(target, list(evaluation.features)),
        "dpo_contact": DPO_CONTACT,
        "unavailable": describe(metadata.get("unavailable", [])),
        "labels_touched": metadata.get("labels_touched", LABELS_NOT_MEASURED),
        **_fairness(words, policy),
    }
