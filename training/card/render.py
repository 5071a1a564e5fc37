"""The model card (Markdown and one self-contained HTML file), the ATRS record and the audit.

``write_card`` renders ``templates/model_card.md.j2`` (package data) twice: once with
images as file names beside the card (``model_card.md``), once with images as base64
data URIs, converted to HTML and wrapped in ``model_card.html.j2`` with inline CSS
(``model_card.html``, which opens anywhere with no other file). It also writes
``atrs.json``, ``audit.json``, ``backtest.csv`` (what each test quarter's list would have
held) and the PNGs. Every file is first written under a
temporary name in the output folder and then moved into place
(:func:`stratify.core.files.write_files_atomic`), so a reader never sees a half-written
card.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import jinja2
from markdown_it import MarkdownIt

from stratify.core.files import write_files_atomic
from stratify.core.text import SUPPRESSED
from stratify.features.sources import describe
from stratify.training.audit.calibration import plot_calibration
from stratify.training.audit.report import AuditResult
from stratify.training.audit.serialise import plain
from stratify.training.card.atrs import atrs_record, todo
from stratify.training.card.fairness import (
    calibration_table,
    checks_table,
    help_table,
    proxy_tables,
    ratio_table,
    true_need_table,
    what_if_tables,
)
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
from stratify.training.evaluation import Evaluation, RegisteredRun
from stratify.training.policy import Policy

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
SECTIONS = (
    "Model details",
    "Intended use",
    "Out-of-scope uses",
    "Decision point and label",
    "Training and evaluation data",
    "Performance",
    "Fairness",
    "Reason catalogue",
    "Limitations",
    "Human oversight and contestability",
    "Sign-off",
)
PLOTS = {
    "roc": "ROC curves",
    "precision_recall": "Precision-recall curves",
    "calibration": "Reliability curve (calibration)",
    "capacity_over_time": "Precision at capacity per quarter",
    "importance": "Feature importance (gain)",
    "shap_summary": "SHAP summary",
}
CALIBRATION_BY_GROUP = "calibration_by_group"
DPO_CONTACT = todo("the data protection officer's contact details")
ERR_TEMPLATE = "card template {name} not found in {folder}"
Mode = Literal["markdown", "html"]


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(name: str, context: dict[str, Any]) -> str:
    try:
        return _env().get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        raise FileNotFoundError(ERR_TEMPLATE.format(name=name, folder=TEMPLATE_DIR)) from None


def _src(name: str, images: dict[str, bytes], mode: Mode) -> str | None:
    if name not in images:
        return None
    if mode == "markdown":
        return f"{name}.png"
    return "data:image/png;base64," + base64.b64encode(images[name]).decode("ascii")


def _fairness(audit: AuditResult, policy: Policy) -> dict[str, Any]:
    proxy = proxy_tables(audit)
    reference = (
        "the largest group of its dimension"
        if policy.fairness.reference == "largest"
        else "the overall figure"
    )
    return {
        "fairness": audit.verdict.to_dict(),
        "settings": audit.settings,
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


LABELS_NOT_MEASURED = (
    "The share of training labels touched by contacts from earlier outreach lists was not "
    "measured for this card."
)


def card_context(
    *,
    evaluation: Evaluation,
    run: RegisteredRun | None,
    audit: AuditResult,
    policy: Policy,
    metadata: dict[str, Any],
    images: dict[str, bytes],
    mode: Mode = "markdown",
) -> dict[str, Any]:
    """Return everything the card template needs (images as file names or data URIs)."""
    target = evaluation.target
    point, label = decision_point(target, evaluation.horizon_months)
    table, overall = criteria(evaluation)
    plots = [{"title": t, "src": _src(n, images, mode)} for n, t in PLOTS.items()]
    return {
        "model_name": evaluation.model_name,
        "version": "not registered" if run is None else run.version,
        "capacity": evaluation.capacity,
        "details": details(evaluation, run, metadata),
        "decision_point": point,
        "label": label,
        "splits": splits(evaluation, metadata),
        "base_rates": base_rates(audit),
        "n_boot": evaluation.n_boot,
        "has_ceiling": "ceiling" in evaluation.metrics,
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
        "plots": plots,
        "criteria": table,
        "performance_overall": overall,
        "calibration_src": _src(CALIBRATION_BY_GROUP, images, mode),
        "catalogue": catalogue(target, list(evaluation.features)),
        "unavailable": describe(metadata.get("unavailable", [])),
        "dpo_contact": DPO_CONTACT,
        "labels_touched": metadata.get("labels_touched", LABELS_NOT_MEASURED),
        **_fairness(audit, policy),
    }


def to_html(markdown_text: str) -> str:
    """Return the card's Markdown as one self-contained HTML page (CSS inline)."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    title = next((line[2:] for line in markdown_text.splitlines() if line.startswith("# ")), "")
    return _render("model_card.html.j2", {"title": title, "body": md.render(markdown_text)})


def _images(plots: dict[str, Path], audit: AuditResult) -> dict[str, bytes]:
    out = {n: Path(p).read_bytes() for n, p in plots.items() if n in PLOTS and Path(p).is_file()}
    buf = io.BytesIO()
    plot_calibration(audit.calibration, buf, list(audit.settings.get("groups", [])))
    out[CALIBRATION_BY_GROUP] = buf.getvalue()
    return out


def _backtest_csv(evaluation: Evaluation) -> bytes:
    """Return the backtest (one row per test quarter and list), small counts suppressed."""
    out = io.StringIO()
    fields = ("quarter", "model", "listed", "listed_with_outcome", "eligible_families",
              "families_with_outcome")  # fmt: skip
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in evaluation.backtest:
        writer.writerow(row.as_dict())
    return out.getvalue().encode()


def _stepdown_csv(evaluation: Evaluation) -> bytes:
    """Return the monthly step-down backtest with each share and its interval as columns."""
    out = io.StringIO()
    fields = ("month", "listed", "listed_with_outcome", "listed_share", "listed_low",
              "listed_high", "not_listed", "not_listed_with_outcome", "not_listed_share",
              "not_listed_low", "not_listed_high")  # fmt: skip
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for r in evaluation.monthly_backtest:
        rates = [v for rate in (r.listed_rate, r.not_listed_rate)
                 for v in (rate or (SUPPRESSED,) * 3)]  # fmt: skip
        writer.writerow([r.month, r.listed, r.listed_with_outcome, *rates[:3], r.not_listed,
                         r.not_listed_with_outcome, *rates[3:]])  # fmt: skip
    return out.getvalue().encode()


def _writer(data: bytes) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    return write


def write_card(
    out_dir: Path,
    *,
    evaluation: Evaluation,
    run: RegisteredRun | None,
    audit: AuditResult,
    plots: dict[str, Path],
    policy: Policy,
    metadata: dict[str, Any],
) -> dict[str, Path]:
    """Write the model card, the ATRS record, the audit JSON and the PNGs into ``out_dir``.

    Parameters
    ----------
    out_dir : Path
        Created if missing; files of the same names are replaced atomically.
    evaluation : Evaluation
        The run's evaluation (as produced by training).
    run : RegisteredRun or None
        The run's id, registered version and lineage (None: not registered).
    audit : AuditResult
        The fairness audit (already suppressed).
    plots : dict of str to Path
        Training's PNGs by name (``roc``, ``precision_recall``, ``calibration``,
        ``capacity_over_time``, ``importance``, ``shap_summary``); any may be missing.
    policy : Policy
        The working group's bar.
    metadata : dict
        The feature table's ``metadata.json``.

    Returns
    -------
    dict of str to Path
        ``markdown``, ``html``, ``atrs``, ``audit`` and each PNG by its name.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = _images(plots, audit)
    pages = {
        mode: _render(
            "model_card.md.j2",
            card_context(
                evaluation=evaluation,
                run=run,
                audit=audit,
                policy=policy,
                metadata=metadata,
                images=images,
                mode=mode,
            ),
        )
        for mode in ("markdown", "html")
    }
    record = atrs_record(
        evaluation=evaluation, run=run, audit=audit, policy=policy, metadata=metadata
    )
    files = {
        "model_card.md": pages["markdown"].encode(),
        "model_card.html": to_html(pages["html"]).encode(),
        "atrs.json": json.dumps(plain(record), indent=2, allow_nan=False).encode(),
        "audit.json": audit.to_json().encode(),
        "backtest.csv": _backtest_csv(evaluation),
        **(
            {"stepdown_backtest.csv": _stepdown_csv(evaluation)}
            if evaluation.monthly_backtest
            else {}
        ),
        **{f"{name}.png": data for name, data in images.items()},
    }
    write_files_atomic({out_dir / name: _writer(data) for name, data in files.items()})
    keys = {
        "model_card.md": "markdown",
        "model_card.html": "html",
        "atrs.json": "atrs",
        "audit.json": "audit",
        "backtest.csv": "backtest",
        "stepdown_backtest.csv": "stepdown_backtest",
    }
    return {keys.get(name, name.removesuffix(".png")): out_dir / name for name in files}
