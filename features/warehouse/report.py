"""The validation report of a council's own records, as analysts read validator output.

Every issue names the file and line, the table (CIN census module or warehouse table),
the child, the field, the value, a rule code and a message, and is an ``error`` (the
child cannot load), a ``query`` (worth checking; it loads) or a ``note`` (what stratify
did with something it does not use). Rule codes are the DfE CIN census validation rule
numbers where one exists (as the DfE's and Data to Insight's CIN validators print them)
and stratify's own ``STR-...`` codes otherwise.

The report holds raw identifiers (LA child ids), so it is written beside the raw
extract, never into the warehouse. CSV and self-contained HTML are written atomically.
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Literal

from stratify.core.files import write_files_atomic

Severity = Literal["error", "query", "note"]

#: The report's file names, written in the folder of the raw extract.
REPORT_CSV = "stratify-validation-report.csv"
REPORT_HTML = "stratify-validation-report.html"

#: Rule code -> (severity, message). DfE CIN census validation rule numbers first
#: (messages as the DfE's rules state them), then stratify's own checks.
RULES: dict[str, tuple[Severity, str]] = {
    "8500": ("error", "LA Child ID must be present"),
    "8510": ("error", "More than one child record with the same LA Child ID"),
    "8590": ("error", "Child does not have a recorded CIN episode"),
    "8600": ("error", "Child referral date missing or after data collection period"),
    "8610": ("error", "Primary Need code is missing for a referral which led to further action"),
    "8650": ("error", "Primary Need Code invalid (see Primary Need table in CIN census code set)"),
    "4015": ("error", "The CIN Plan start date cannot be before the referral date"),
    "STR-XML": ("error", "not a well-formed XML document"),
    "STR-NS": ("error", "the root element is in a namespace; CIN census returns have none"),
    "STR-ROOT": ("error", "the root element must be Message (a CIN census return)"),
    "STR-YEAR": ("error", "the census year is missing or not a supported schema year"),
    "STR-RETURN": ("error", "two returns for the same census year"),
    "STR-XSD": ("error", "breaks the census year's XML schema"),
    "STR-REQUIRED": ("error", "a required element is missing or empty"),
    "STR-CODE": ("error", "not a code in the CIN census code set"),
    "STR-DATE": ("error", "not a date (expected YYYY-MM-DD)"),
    "STR-PERIOD": ("error", "dated after the end of the census period"),
    "STR-DUPLICATE": ("error", "the same episode twice in one child's record"),
    "STR-SSD-TABLE": ("error", "a table the SSD mapping reads is missing from the folder"),
    "STR-SSD-COLUMN": ("error", "a field the SSD mapping reads is missing from the table"),
    "STR-CSV": ("error", "malformed CSV line"),
    "STR-WAREHOUSE": ("error", "breaks a warehouse rule"),
    "STR-CONFLICT": ("query", "a later return records a different value; the later one is used"),
    "STR-SKIPPED": ("note", "not used by stratify: read and skipped"),
}


@dataclass(frozen=True)
class Issue:
    """One finding about one value (or one file) of the raw extract."""

    file: str
    line: int | None
    table: str
    child: str
    field: str
    value: str
    rule: str
    severity: Severity
    message: str


def issue(  # noqa: PLR0913, PLR0917 - the report's columns
    file: str | Path,
    line: int | None,
    table: str,
    child: str,
    field: str,
    value: str,
    rule: str,
    detail: str = "",
) -> Issue:
    """Return an :class:`Issue` whose severity and message come from ``RULES[rule]``."""
    severity, message = RULES[rule]
    text = f"{message}: {detail}" if detail else message
    return Issue(str(file), line, table, child, field, value, rule, severity, text)


def errors_by_child(issues: Iterable[Issue]) -> dict[str, list[Issue]]:
    """Return each child's errors (issues about no child are not included)."""
    out: dict[str, list[Issue]] = {}
    for i in issues:
        if i.severity == "error" and i.child:
            out.setdefault(i.child, []).append(i)
    return out


def to_csv(issues: Sequence[Issue]) -> str:
    """Return the issues as CSV text with a header row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([f.name for f in fields(Issue)])
    for i in issues:
        writer.writerow(["" if v is None else v for v in astuple(i)])
    return buf.getvalue()


def to_html(issues: Sequence[Issue], *, title: str, quarantined: Sequence[str] = ()) -> str:
    """Return a self-contained HTML page: counts by rule, quarantined children, every issue."""
    esc = html.escape
    counts = Counter((i.severity, i.rule, RULES[i.rule][1]) for i in issues)
    summary = "".join(
        f"<tr><td>{esc(s)}</td><td>{esc(r)}</td><td>{esc(m)}</td><td>{n}</td></tr>"
        for (s, r, m), n in sorted(counts.items())
    )
    rows = "".join(
        "<tr class='{}'>{}</tr>".format(
            esc(i.severity),
            "".join(f"<td>{esc('' if v is None else str(v))}</td>" for v in astuple(i)),
        )
        for i in issues
    )
    head = "".join(f"<th>{esc(f.name)}</th>" for f in fields(Issue))
    held = (
        f"<h2>Quarantined children ({len(quarantined)})</h2><p>Not loaded; their errors are "
        f"listed below.</p><p>{esc(', '.join(quarantined))}</p>"
        if quarantined
        else ""
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif}}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
        ".error{background:#fdd}.query{background:#ffd}</style></head><body>"
        f"<h1>{esc(title)}</h1><p>This report holds raw identifiers: keep it with the raw "
        "extract, under the same protection.</p>"
        f"<h2>Summary</h2><table><tr><th>severity</th><th>rule</th><th>message</th>"
        f"<th>count</th></tr>{summary}</table>{held}"
        f"<h2>Every issue ({len(issues)})</h2><table><tr>{head}</tr>{rows}</table>"
        "</body></html>\n"
    )


def write_report(
    issues: Sequence[Issue], folder: Path, *, title: str, quarantined: Sequence[str] = ()
) -> tuple[Path, Path]:
    """Write ``REPORT_CSV`` and ``REPORT_HTML`` into ``folder`` (beside the raw extract).

    Returns
    -------
    csv_path, html_path : Path
    """
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = folder / REPORT_CSV, folder / REPORT_HTML
    page = to_html(issues, title=title, quarantined=quarantined)
    write_files_atomic(
        {
            csv_path: lambda tmp: tmp.write_text(to_csv(issues), encoding="utf-8"),
            html_path: lambda tmp: tmp.write_text(page, encoding="utf-8"),
        }
    )
    return csv_path, html_path
