"""The follow-up report of one list: CSV tables and a self-contained HTML page.

Three files under ``<work>/follow-up/<list id>/``, written together atomically:
``outcomes.csv`` (families and outcomes by decision), ``rates.csv`` (contact and
"not appropriate" rates by group) and ``follow-up.html``. Counts only; no family or
child is named.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from stratify.core.files import write_files_atomic
from stratify.core.text import SUPPRESSED, fmt_ci
from stratify.training.followup.outcomes import OUTCOME_NAMES, OUTCOMES

FOLLOW_UP_DIR = "follow-up"
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:right}th{background:#1f4e79;color:#fff}td:first-child,td:nth-child(2)"
    "{text-align:left}.flag{background:#fde2e1}"
)


def paths(work_dir: Path, list_id: str) -> dict[str, Path]:
    """Return the report's file paths."""
    base = work_dir / FOLLOW_UP_DIR / list_id
    return {"outcomes": base / "outcomes.csv", "rates": base / "rates.csv",
            "html": base / "follow-up.html"}  # fmt: skip


def _suppress_outcomes(table: pd.DataFrame, min_people: int) -> pd.DataFrame:
    out = table.astype(object).copy()
    small = table["families"] < min_people
    cols = [c for c in out.columns if c != "decision"]
    out.loc[small, cols] = SUPPRESSED
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1%}" if abs(value) <= 1 else f"{value:,.1f}"
    return html.escape(str(value))


def _outcomes_html(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(OUTCOME_NAMES[o])}</th>" for o in OUTCOMES)
    rows = []
    for r in table.to_dict("records"):
        cells = "".join(
            f"<td>{_cell(r[o])}"
            + ("" if r[o] == SUPPRESSED else f" ({_cell(r[o + '_share'])})")
            + "</td>"
            for o in OUTCOMES
        )
        rows.append(
            f"<tr><td>{html.escape(r['decision'])}</td><td>{_cell(r['families'])}</td>{cells}</tr>"
        )
    return f"<table><tr><th>Decision</th><th>Families</th>{head}</tr>{''.join(rows)}</table>"


def _rates_html(table: pd.DataFrame) -> str:
    rows = []
    for r in table.to_dict("records"):
        ci = {k: fmt_ci(r[k], r[f"{k}_low"], r[f"{k}_high"])
              for k in ("contacted", "not_appropriate", "difference")}  # fmt: skip
        flag = ' class="flag"' if r["flagged"] else ""
        rows.append(
            f"<tr{flag}><td>{html.escape(str(r['dimension']))}</td><td>{html.escape(str(r['group']))}"
            f"</td><td>{_cell(r['children'])}</td><td>{_cell(r['families'])}</td>"
            f"<td>{ci['contacted']}</td><td>{ci['not_appropriate']}</td><td>{ci['difference']}</td>"
            f"<td>{'yes' if r['flagged'] else ''}</td></tr>"
        )
    head = ("<tr><th>Characteristic</th><th>Group</th><th>Children</th><th>Families</th>"
            "<th>Contacted (95% CI)</th><th>Not appropriate (95% CI)</th>"
            "<th>Not appropriate, minus the rest (95% CI)</th><th>Flagged</th></tr>")  # fmt: skip
    return f"<table>{head}{''.join(rows)}</table>"


def page(summary: list[str], outcomes: pd.DataFrame, rates: pd.DataFrame, labels: str) -> str:
    """Return the follow-up page."""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in summary)
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>Follow-up</title>"
        f"<style>{_STYLE}</style><h1>Follow-up of an outreach list</h1><ul>{items}</ul>"
        "<h2>What happened, by decision</h2><p>Families with each outcome (share of the "
        "decision's families). Outcomes follow the decision and the help given: they "
        "describe what happened, not whether the decision was right.</p>"
        f"{_outcomes_html(outcomes)}<h2>Decisions by group</h2><p>Listed children whose "
        "family has a decision, by their family's decision; intervals from a family "
        "bootstrap. Flagged: the 'not appropriate' rate is above the rest of the list's "
        "(interval above zero). Small groups are suppressed.</p>"
        f"{_rates_html(rates)}<h2>What this means for training labels</h2>"
        f"<p>{html.escape(labels)}</p></html>"
    )


def write_report(
    work_dir: Path, list_id: str, *, summary: list[str], outcomes: pd.DataFrame,
    rates: pd.DataFrame, labels: str, min_people: int,
) -> dict[str, Path]:  # fmt: skip
    """Write the three files atomically; return their paths."""
    where = paths(work_dir, list_id)
    shown = _suppress_outcomes(outcomes, min_people)
    write_files_atomic({
        where["outcomes"]: lambda p: shown.to_csv(p, index=False),
        where["rates"]: lambda p: rates.to_csv(p, index=False),
        where["html"]: lambda p: p.write_text(page(summary, shown, rates, labels), "utf-8"),
    })  # fmt: skip
    return where
