"""The outreach list as an Excel workbook (openpyxl).

Four sheets: "Outreach list" (one row per child, grouped by family: the family's
columns are repeated on each of its rows so that sorting and filtering never separate a
child from its family, but shown in grey after the first row, and families are shaded
alternately), "Decisions" (a drop-down and a note per family, returned with
``stratify decisions import``: :mod:`stratify.serving.decisions.sheet`), "How to read
this list" and "Fairness check". Both tables have a frozen
header, filters, set widths, a description of each column on its header (a comment)
and print on one page wide with the header repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from stratify.serving.decisions import list_record
from stratify.serving.decisions.sheet import add_sheet
from stratify.serving.outreach.guide import (
    FAIRNESS_COLUMNS,
    LIST_COLUMNS,
    Column,
    fairness_rows,
    guide,
    list_rows,
    model_label,
)
from stratify.serving.outreach.ranking import OutreachList

LIST_SHEET, GUIDE_SHEET, FAIRNESS_SHEET = "Outreach list", "How to read this list", "Fairness check"
NUMBER_FORMATS = {"int": "0", "score": "0.000", "share": "0.0%", "ratio": "0.00"}
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_SHADE = PatternFill("solid", fgColor="EAF1F8")
_REPEAT = Font(color="8C8C8C")
_GUIDE_WIDTH = 100
#: Columns at least this wide hold sentences (reasons): wrapped, never cut off in print.
WRAP_WIDTH = 30
#: Points a line of 11-point Calibri takes in a row.
LINE_HEIGHT = 15


def _header(ws: Worksheet, columns: Sequence[Column]) -> None:
    for j, col in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j, value=col.header)
        cell.fill, cell.font = _HEADER_FILL, _HEADER_FONT
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        if col.description:
            cell.comment = Comment(col.description, "stratify", width=300, height=110)
        ws.column_dimensions[get_column_letter(j)].width = col.width
    ws.row_dimensions[1].height = 32


def _finish(ws: Worksheet, columns: Sequence[Column], rows: int, freeze: str) -> None:
    """Freeze the header (and the first columns), add filters and print settings.

    Printing as a manager would for a team meeting: A4 landscape, narrow margins, the
    header row on every page, long text (reasons) wrapped in narrow columns, so that one
    page wide stays readable (about 70 % scale; see ``tests/serving/outreach``), and as
    many pages long as needed.
    """
    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(rows + 1, 2)}"
    ws.print_title_rows = "1:1"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.print_options.gridLines = True
    wrap = Alignment(wrap_text=True, vertical="top")
    wrapped = [j for j, col in enumerate(columns, start=1) if col.wrap or col.width >= WRAP_WIDTH]
    for j in wrapped:
        for (cell,) in ws.iter_rows(min_row=2, max_row=rows + 1, min_col=j, max_col=j):
            cell.alignment = wrap
    for i in range(2, rows + 2):  # rows as tall as their longest wrapped text, in any viewer
        lines = max((wrapped_lines(ws.cell(row=i, column=j).value, columns[j - 1].width)
                     for j in wrapped), default=1)  # fmt: skip
        if lines > 1:
            ws.row_dimensions[i].height = LINE_HEIGHT * lines + 2


def wrapped_lines(value: object, width: int) -> int:
    """Return how many lines ``value`` takes wrapped at word breaks in a column ``width`` wide.

    A column ``width`` characters wide holds at least ``width - 1`` characters of text a
    line (Excel's width counts the widest digit; most letters are narrower), so the count
    errs towards a taller row, never a cut-off one.
    """
    per_line = max(width - 1, 1)
    lines, used = 1, 0
    for word in str(value or "").split():
        if used and used + 1 + len(word) > per_line:
            lines, used = lines + 1, 0
        used += (1 if used else 0) + len(word)
        while used > per_line:  # a word longer than the line breaks anywhere
            lines, used = lines + 1, used - per_line
    return lines


def _table(
    ws: Worksheet, columns: Sequence[Column], rows: Sequence[dict[str, Any]], *, grouped: bool
) -> None:
    _header(ws, columns)
    shade = False
    for i, row in enumerate(rows, start=2):
        if grouped and row["first"]:
            shade = not shade
        for j, col in enumerate(columns, start=1):
            cell = ws.cell(row=i, column=j, value=row[col.key])
            if col.format != "text" and not isinstance(row[col.key], str):
                cell.number_format = NUMBER_FORMATS[col.format]
            if grouped and shade:
                cell.fill = _SHADE
            if grouped and col.family and not row["first"]:
                cell.font = _REPEAT


def _guide_sheet(ws: Worksheet, paragraphs: Sequence[tuple[str, str]]) -> None:
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = _GUIDE_WIDTH
    ws.cell(row=1, column=1, value="How to read this list").font = Font(bold=True, size=14)
    r = 3
    items = [*paragraphs, ("", ""), ("What each column means", "")]
    items += [(c.header, c.description) for c in LIST_COLUMNS]
    for heading, text in items:
        ws.cell(row=r, column=1, value=heading).font = Font(bold=True)
        cell = ws.cell(row=r, column=2, value=text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(row=r, column=1).alignment = Alignment(vertical="top")
        lines = max(1, -(-len(text) // (_GUIDE_WIDTH - 10)))
        ws.row_dimensions[r].height = 15 * lines + 3
        r += 1


def workbook(lst: OutreachList, card: Path, min_people: int) -> Workbook:
    """Return the outreach workbook of ``lst`` (not yet saved)."""
    wb = Workbook()
    ws = wb.worksheets[0]
    ws.title = LIST_SHEET
    rows = list_rows(lst)
    _table(ws, LIST_COLUMNS, rows, grouped=True)
    _finish(ws, LIST_COLUMNS, len(rows), "C2")
    _guide_sheet(wb.create_sheet(GUIDE_SHEET), guide(lst, card, min_people))
    fair = wb.create_sheet(FAIRNESS_SHEET)
    frows = fairness_rows(lst)
    _table(fair, FAIRNESS_COLUMNS, frows, grouped=False)
    _finish(fair, FAIRNESS_COLUMNS, len(frows), "C2")
    record = list_record(lst.as_of, lst.locality, lst.model_version, lst.families)
    add_sheet(wb, record, model_label(lst.model_version), index=1)  # decisions, after the list
    wb.properties.title = f"Outreach list {lst.as_of.isoformat()}"
    wb.properties.identifier = record.list_id
    wb.properties.creator = "stratify"
    return wb


def write_workbook(lst: OutreachList, path: Path, card: Path, min_people: int) -> None:
    """Save the workbook of ``lst`` at ``path`` (the caller makes it atomic)."""
    workbook(lst, card, min_people).save(path)
