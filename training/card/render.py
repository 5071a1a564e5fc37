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

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt

from stratify.core.files import write_files_atomic
from stratify.core.html import accessible
from stratify.core.text import SUPPRESSED
from stratify.training.audit.calibration import plot_calibration
from stratify.training.audit.report import AuditResult
from stratify.training.audit.serialise import plain
from stratify.training.card.atrs import atrs_record
from stratify.training.card.context import (
    BACKTEST,
    CALIBRATION_BY_GROUP,
    GROUPS,
    Artwork,
    History,
    card_context,
)
from stratify.training.card.labelled import labelled
from stratify.training.card.pictures import Picture, backtest_picture, groups_picture
from stratify.training.evaluation import Evaluation, RegisteredRun
from stratify.training.policy import Policy

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
#: The card's layers: the first page, the six kinds of explanation of the ICO and Alan
#: Turing Institute's "Explaining decisions made with AI", and the appendix.
SECTIONS = (
    "In brief",
    "Rationale",
    "Responsibility",
    "Data",
    "Fairness",
    "Safety and performance",
    "Impact",
    "Appendix: technical identifiers",
)
#: Training's plots: name -> (title, alt text).
PLOTS = {
    "roc": ("ROC curves", "ROC curves of LightGBM and the two baselines on the test window."),
    "precision_recall": (
        "Precision-recall curves",
        "Precision-recall curves of LightGBM and the two baselines on the test window.",
    ),
    "calibration": (
        "Reliability curve (calibration)",
        "Mean predicted probability against observed rate in score bins, with the diagonal.",
    ),
    "capacity_over_time": (
        "Precision at capacity per quarter",
        "Line chart of precision at capacity per test quarter for each model.",
    ),
    "importance": (
        "Feature importance (gain)",
        "Horizontal bars: the inputs that contributed most to the trees' splits.",
    ),
    "shap_summary": (
        "SHAP summary",
        "Each input's SHAP values for the test window's children, coloured by value.",
    ),
}
RATIONALE_PLOTS = ("importance", "shap_summary")
ERR_TEMPLATE = "card template {name} not found in {folder}"


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


def to_html(markdown_text: str) -> str:
    """Return the card's Markdown as one self-contained HTML page (CSS inline)."""
    # raw HTML is the template's own (<section>, <details>): every figure and word in
    # the tables is written by stratify itself, never taken from the records
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    title = next((line[2:] for line in markdown_text.splitlines() if line.startswith("# ")), "")
    body = accessible(md.render(markdown_text))
    return _render("model_card.html.j2", {"title": title, "body": body})


def _images(
    plots: dict[str, Path], audit: AuditResult, evaluation: Evaluation
) -> tuple[dict[str, bytes], dict[str, Picture | None]]:
    """Return every image's PNG bytes by name, and the card's own pictures."""
    out = {n: Path(p).read_bytes() for n, p in plots.items() if n in PLOTS and Path(p).is_file()}
    words = labelled(audit)
    buf = io.BytesIO()
    plot_calibration(words.calibration, buf, list(words.settings.get("groups", [])))
    out[CALIBRATION_BY_GROUP] = buf.getvalue()
    pictures = {GROUPS: groups_picture(audit.groups), BACKTEST: backtest_picture(evaluation)}
    out |= {name: pic.png for name, pic in pictures.items() if pic is not None}
    return out, pictures


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
    history: History | None = None,
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
    history : History, optional
        The approval (if any) and the previous version's evaluation, for the first page.

    Returns
    -------
    dict of str to Path
        ``markdown``, ``html``, ``atrs``, ``audit`` and each PNG by its name.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images, pictures = _images(plots, audit, evaluation)
    pages = {
        mode: _render(
            "model_card.md.j2",
            card_context(
                evaluation=evaluation,
                run=run,
                audit=audit,
                policy=policy,
                metadata=metadata,
                art=Artwork(images, pictures, PLOTS),
                mode=mode,
                history=history or History(),
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
