"""The step-down list as a workbook and a self-contained web page, in the outreach style.

Sheets: "Step-down list" (one row per closed child, grouped by family), "How to read
this list", "Fairness check" (the list against all eligible closures by group) and
"Audit sample" (the stratified sample, its design and seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from stratify.core.files import write_files_atomic
from stratify.core.targets import model_name
from stratify.features.labels import group_label
from stratify.serving.outreach.excel import _finish, _table
from stratify.serving.outreach.fairness import DIMENSION_NAMES
from stratify.serving.outreach.guide import FAIRNESS_COLUMNS, Column
from stratify.serving.outreach.html import _CSS
from stratify.serving.outreach.ranking import REASON_COLUMNS
from stratify.serving.stepdown.listing import StepDownList

LIST_SHEET, GUIDE_SHEET = "Step-down list", "How to read this list"
FAIRNESS_SHEET, SAMPLE_SHEET = "Fairness check", "Audit sample"
NOT_A_FINDING = (
    "This list supports a step-down conversation; it is not a finding about any family "
    "and not a decision. A practitioner decides what support to put in place."
)

LIST_COLUMNS = (
    Column("rank", "Rank", "The family's place on the list (1 = highest family score).",
           7, "int", True),
    Column("family", "Family", "The household's pseudonym.", 27, family=True),
    Column("family_score", "Family score", "The highest score of the family's closed "
           "referrals: the estimated chance (0 to 1) of a new referral within 12 months "
           "of the closure, given the records before it.", 13, "score", True),
    Column("band", "Band", "1 to 10: where the score falls among the closures the model "
           "learnt from (10 = the highest tenth).", 7, "int", True),
    Column("early_help_open", "Early help open", "Whether the family had an early help "
           "episode open before the closure.", 12, family=True),
    Column("child", "Child", "The child's pseudonym.", 27),
    Column("closure_date", "Closed on", "The date the child's referral was closed.", 12),
    Column("age_band", "Age", "The child's age band at closure.", 12),
    Column("child_score", "Child score", "The score of this closure.", 12, "score"),
    Column("locality", "Locality", "Where the family lives.", 13, family=True),
    *(Column(c, f"Reason {i + 1}", "A fact in the records that raised the score (statistical "
             "association, not a finding).", 46, family=True)
      for i, c in enumerate(REASON_COLUMNS)),
    Column("council_reference", "Council reference", "Left empty: for the council's own "
           "case reference.", 20),
)  # fmt: skip

SAMPLE_COLUMNS = (
    Column("stratum", "Stratum", "high, middle or low third of the month's family scores.", 10),
    Column("stratum_size", "Families in stratum", "", 12, "int"),
    Column("family", "Family", "The household's pseudonym.", 27),
    Column("family_score", "Family score", "", 13, "score"),
    Column("listed", "On the list", "", 10),
    Column("locality", "Locality", "", 13),
    Column("council_reference", "Council reference", "", 20),
)  # fmt: skip


def scope(lst: StepDownList) -> str:
    """Return where the list is for, in words."""
    return f"locality {lst.locality}" if lst.locality else "all localities"


def month_label(lst: StepDownList) -> str:
    """Return the month as ``YYYY-MM``."""
    return lst.month.strftime("%Y-%m")


def list_rows(lst: StepDownList) -> list[dict[str, Any]]:
    """Return one row per listed closure (family columns on each), by rank."""
    fams = {str(f["family"]): f for f in lst.families.to_dict("records")}
    rows, previous = [], None
    for child in lst.children.to_dict("records"):
        fam = fams[str(child["family"])]
        rows.append({
            "rank": int(child["rank"]), "family": fam["family"],
            "family_score": round(float(fam["family_score"]), 3), "band": int(fam["band"]),
            "early_help_open": "yes" if fam["early_help_open"] else "no",
            "child": child["child"], "closure_date": str(child["closure_date"])[:10],
            "age_band": group_label("age_band", child["age_band"]),
            "child_score": round(float(child["child_score"]), 3),
            "locality": fam["locality"], **{c: fam[c] for c in REASON_COLUMNS},
            "council_reference": "", "first": fam["family"] != previous,
        })  # fmt: skip
        previous = fam["family"]
    return rows


def sample_rows(sample: Any, listed: set[str]) -> list[dict[str, Any]]:
    """Return the audit sample's rows."""
    return [{"stratum": r["stratum"], "stratum_size": int(r["stratum_size"]),
             "family": r["family"], "family_score": round(float(r["family_score"]), 3),
             "listed": "yes" if r["family"] in listed else "no", "locality": r["locality"],
             "council_reference": ""} for r in sample.to_dict("records")]  # fmt: skip


def fairness_rows(lst: StepDownList) -> list[dict[str, Any]]:
    """Return the fairness rows with the characteristics named in words."""
    rows = [{str(k): v for k, v in r.items()} for r in lst.fairness.to_dict("records")]
    for r in rows:
        r["dimension"] = DIMENSION_NAMES.get(str(r["dimension"]), str(r["dimension"]))
    return rows


def guide(lst: StepDownList, min_people: int) -> list[tuple[str, str]]:
    """Return the "How to read this list" text."""
    return [
        ("What this list is", f"Families in {scope(lst)} whose referral was closed in "
         f"{month_label(lst)} (closure reasons RC7-RC9) and who are most likely, given the "
         "records before the closure, to be referred again within 12 months. " + NOT_A_FINDING),
        ("Who is on it", f"Families whose score is at least {lst.threshold:.3f}, the "
         "operating threshold fixed when the model was trained. The list holds "
         f"{len(lst.families):,} of {lst.eligible_families:,} eligible closing families."),
        ("Who is not on it", "Families in which anyone is still open to children's social "
         "care or has an open referral on the family's latest closure date are left out: "
         f"{lst.excluded_families:,} families."),
        ("The reasons", "Up to three facts from the records that raised the score the most, "
         "across the family's closures: statistical associations, not findings or causes."),
        ("Early help open", "Whether an early help episode was already open with the family "
         "or child before the closure (an episode started on the closure day is not yet shown)."),
        ("Model", f"{model_name('rereferral')} v{lst.model_version}."),
        ("Fairness check", "Who is on the list compared with all eligible closures, by group: "
         "a ratio well below 1 is a prompt to look, not proof of bias. Groups with fewer "
         f"than {min_people} children are suppressed."),
        ("Audit sample", "The \"Audit sample\" sheet is a random sample of all the month's "
         "closures by score third, for the case audit; its design and seed are on the sheet."),
    ]  # fmt: skip


def _text_rows(ws: Any, start: int, items: list[tuple[str, str]]) -> int:
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 24, 100
    for heading, text in items:
        ws.cell(row=start, column=1, value=heading).font = Font(bold=True)
        ws.cell(row=start, column=2, value=text).alignment = Alignment(wrap_text=True)
        start += 1
    return start


def workbook(lst: StepDownList, sample: Any, design: list[tuple[str, str]],
             min_people: int) -> Workbook:  # fmt: skip
    """Return the step-down workbook (not yet saved)."""
    wb = Workbook()
    ws = wb.worksheets[0]
    ws.title = LIST_SHEET
    rows = list_rows(lst)
    _table(ws, LIST_COLUMNS, rows, grouped=True)
    _finish(ws, LIST_COLUMNS, len(rows), "C2")
    g = wb.create_sheet(GUIDE_SHEET)
    g.cell(row=1, column=1, value="How to read this list").font = Font(bold=True, size=14)
    _text_rows(g, 3, guide(lst, min_people))
    fair = wb.create_sheet(FAIRNESS_SHEET)
    frows = fairness_rows(lst)
    _table(fair, FAIRNESS_COLUMNS, frows, grouped=False)
    _finish(fair, FAIRNESS_COLUMNS, len(frows), "C2")
    s = wb.create_sheet(SAMPLE_SHEET)
    srows = sample_rows(sample, set(lst.families["family"]))
    _table(s, SAMPLE_COLUMNS, srows, grouped=False)
    _finish(s, SAMPLE_COLUMNS, len(srows), "A2")
    d = wb.create_sheet("Audit sample design")
    _text_rows(d, 1, design)
    wb.properties.title = f"Step-down list {month_label(lst)}"
    wb.properties.creator = "stratify"
    return wb


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Step-down list {{ month }} ({{ scope }})
</title><style>{{ css }}</style></head><body>
<h1>Step-down list: {{ scope }}, {{ month }}</h1>
<div class="notice"><strong>{{ notice }}</strong></div>
<h2>The list</h2>
<table><thead><tr>{% for c in columns %}<th>{{ c.header }}</th>{% endfor %}</tr></thead><tbody>
{% for r in rows %}<tr>{% for c in columns %}<td>{{ r[c.key] }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
<h2>How to read this list</h2>
<dl>{% for h, t in guide %}<dt>{{ h }}</dt><dd>{{ t }}</dd>{% endfor %}</dl>
<h2>Fairness check</h2>
<table><thead><tr>{% for c in fair_columns %}<th>{{ c.header }}</th>{% endfor %}</tr></thead>
<tbody>{% for r in fairness %}<tr>{% for c in fair_columns %}<td>{{ r[c.key] }}</td>
{% endfor %}</tr>{% endfor %}</tbody></table>
<h2>Audit sample</h2>
<dl>{% for h, t in design %}<dt>{{ h }}</dt><dd>{{ t }}</dd>{% endfor %}</dl>
<table><thead><tr>{% for c in sample_columns %}<th>{{ c.header }}</th>{% endfor %}</tr></thead>
<tbody>{% for r in sample %}<tr>{% for c in sample_columns %}<td>{{ r[c.key] }}</td>
{% endfor %}</tr>{% endfor %}</tbody></table>
</body></html>
"""


def page(lst: StepDownList, sample: Any, design: list[tuple[str, str]], min_people: int) -> str:
    """Return the step-down web page (self-contained; every value escaped)."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(_TEMPLATE).render(
        css=_CSS, month=month_label(lst), scope=scope(lst), notice=NOT_A_FINDING,
        columns=LIST_COLUMNS, rows=list_rows(lst), guide=guide(lst, min_people),
        fair_columns=FAIRNESS_COLUMNS, fairness=fairness_rows(lst), design=design,
        sample_columns=SAMPLE_COLUMNS,
        sample=sample_rows(sample, set(lst.families["family"])),
    )  # fmt: skip


def write(lst: StepDownList, sample: Any, design: list[tuple[str, str]], min_people: int, *,
          xlsx: Path, html: Path) -> None:  # fmt: skip
    """Write both files atomically (nothing is moved into place unless both succeed)."""
    write_files_atomic({
        xlsx: lambda p: workbook(lst, sample, design, min_people).save(p),
        html: lambda p: p.write_text(page(lst, sample, design, min_people), encoding="utf-8"),
    })  # fmt: skip
