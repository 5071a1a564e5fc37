"""The workbook's "Decisions" sheet: one row per listed family with a drop-down, read back.

The sheet names its list at the top (list id, date, model version, locality), then has
one row per family: rank, family, locality, a decision chosen from a drop-down (Excel
data validation over the hidden "Choices" sheet, because the values contain commas) and
a free-text note that no model ever reads. The sheet is protected without a password
except the decision and note cells, so a rank or a family is not changed by accident;
:func:`read_sheet` checks them anyway, because protection is easily lifted.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from stratify.core.files import write_atomic
from stratify.features.decisions import DECISIONS, ListRecord
from stratify.serving.decisions.check import Submitted

SHEET = "Decisions"
CHOICES_SHEET = "Choices"
#: (row, label) of the list's details; the value is in column B.
ID_ROW, DATE_ROW, VERSION_ROW, LOCALITY_ROW = 2, 3, 4, 5
HEADER_ROW = 8
FIRST_ROW = HEADER_ROW + 1
#: field -> (column letter, header)
COLUMNS = {
    "rank": ("A", "Rank"),
    "family": ("B", "Family"),
    "locality": ("C", "Locality"),
    "decision": ("D", "Decision"),
    "note": ("E", "Note (never read into a model)"),
}
WIDTHS = {"A": 16, "B": 30, "C": 16, "D": 42, "E": 60}
INSTRUCTION = (
    "Choose what was done for each family from the drop-down in column D; write anything "
    "else in column E (it is kept with the decision and never used by a model). Keep the "
    "rows, ranks and families as they are, then return the file: "
    "stratify decisions import <this file>."
)
NOTE_HELP = (
    "Free text for the team's own record. It is stored with the decision and never "
    "read into a model. Do not write names or addresses."
)
ERR_NOT_WORKBOOK = "{path} is not an Excel workbook (.xlsx) stratify can read: {reason}"
ERR_NO_SHEET = "{path}: no sheet '{sheet}': is this an outreach workbook stratify wrote?"
ERR_NO_ID = "{path}: sheet '{sheet}', row {row}, column B (List id): no list id"
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")


@dataclass(frozen=True)
class ReadSheet:
    """What a returned workbook's Decisions sheet says (not yet checked)."""

    list_id: str
    as_of: object
    version: object
    rows: list[Submitted]
    row_numbers: list[int]


def where(path: Path, row: int, field: str) -> str:
    """Return ``<file>: sheet 'Decisions', row N, column X (Header)``."""
    letter, header = COLUMNS.get(field, ("B", field))
    return f"{path.name}: sheet '{SHEET}', row {row}, column {letter} ({header})"


def add_sheet(
    wb: Workbook, record: ListRecord, version_label: str, index: int | None = None
) -> Worksheet:
    """Add the Decisions sheet (at ``index``) and its hidden Choices sheet to ``wb``."""
    ws = wb.create_sheet(SHEET, index)
    ws["A1"] = "Decisions on this list"
    ws["A1"].font = Font(bold=True, size=14)
    details = ((ID_ROW, "List id", record.list_id), (DATE_ROW, "List date", record.as_of),
               (VERSION_ROW, "Model version", version_label),
               (LOCALITY_ROW, "Locality", record.locality or "all localities"))  # fmt: skip
    for row, label, value in details:
        ws.cell(row=row, column=1, value=label).font = Font(bold=True)
        ws.cell(row=row, column=2, value=value)
    ws.cell(row=DATE_ROW, column=2).number_format = "yyyy-mm-dd"
    ws.cell(row=6, column=1, value=INSTRUCTION).alignment = Alignment(wrap_text=True)
    ws.merge_cells(start_row=6, start_column=1, end_row=6, end_column=5)
    ws.row_dimensions[6].height = 45
    for letter, header in COLUMNS.values():
        cell = ws[f"{letter}{HEADER_ROW}"]
        cell.value, cell.fill, cell.font = header, _HEADER_FILL, Font(bold=True, color="FFFFFF")
        ws.column_dimensions[letter].width = WIDTHS[letter]
    ws[f"E{HEADER_ROW}"].comment = Comment(NOTE_HELP, "stratify", width=300, height=80)
    for i, (rank, family, locality) in enumerate(record.families):
        r = FIRST_ROW + i
        ws[f"A{r}"], ws[f"B{r}"], ws[f"C{r}"] = rank, family, locality
        for letter in ("D", "E"):
            ws[f"{letter}{r}"].protection = Protection(locked=False)
            ws[f"{letter}{r}"].fill = _INPUT_FILL
    choices = wb.create_sheet(CHOICES_SHEET)
    for i, value in enumerate(DECISIONS, start=1):
        choices.cell(row=i, column=1, value=value)
    choices.sheet_state = "hidden"
    last = FIRST_ROW + max(len(record.families), 1) - 1
    dv = DataValidation(type="list", formula1=f"'{CHOICES_SHEET}'!$A$1:$A${len(DECISIONS)}",
                        allow_blank=True, showErrorMessage=True, errorStyle="stop",
                        errorTitle="Decision", error="Choose one of the drop-down's values.",
                        promptTitle="Decision", prompt="What was done for this family?",
                        showInputMessage=True)  # fmt: skip
    dv.add(f"D{FIRST_ROW}:D{last}")
    ws.add_data_validation(dv)
    ws.freeze_panes = f"C{FIRST_ROW}"
    ws.protection.sheet = True
    ws.protection.autoFilter = ws.protection.sort = False  # filtering and sorting stay allowed
    ws.auto_filter.ref = f"A{HEADER_ROW}:E{last}"
    return ws


def _text(value: object) -> str:
    return "" if value is None else str(value)


def read_sheet(path: Path) -> ReadSheet:
    """Read a returned workbook's Decisions sheet.

    Raises
    ------
    ValueError
        If the file is not a readable workbook, has no Decisions sheet or no list id.
    """
    path = Path(path)
    try:
        wb = load_workbook(path, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as err:
        reason = " ".join(str(err).split())[:120] or type(err).__name__
        raise ValueError(ERR_NOT_WORKBOOK.format(path=path.name, reason=reason)) from None
    try:
        if SHEET not in wb.sheetnames:
            raise ValueError(ERR_NO_SHEET.format(path=path.name, sheet=SHEET))
        ws = wb[SHEET]
        list_id = _text(ws.cell(row=ID_ROW, column=2).value).strip()
        if not list_id:
            raise ValueError(ERR_NO_ID.format(path=path.name, sheet=SHEET, row=ID_ROW))
        rows: list[Submitted] = []
        numbers: list[int] = []
        for r, values in enumerate(
            ws.iter_rows(min_row=FIRST_ROW, max_col=5, values_only=True), start=FIRST_ROW
        ):
            rank, family, _, decision, note = values
            if all(v is None or _text(v).strip() == "" for v in values):
                continue
            rows.append(Submitted(rank, _text(family), _text(decision) or None, _text(note)))
            numbers.append(r)
        return ReadSheet(list_id, ws.cell(row=DATE_ROW, column=2).value,
                         ws.cell(row=VERSION_ROW, column=2).value, rows, numbers)  # fmt: skip
    finally:
        wb.close()


def fill(path: Path, decisions: Sequence[tuple[str, str, str]], out: Path | None = None) -> Path:
    """Write ``(family, decision, note)`` into a workbook's Decisions sheet, as a manager would.

    Used by the simulated managers of the demo and by tests; families not given keep
    their cells. Returns the path written (``out`` or ``path``).
    """
    wb = load_workbook(path)
    ws = wb[SHEET]
    row_of = {_text(ws[f"B{r}"].value): r for r in range(FIRST_ROW, ws.max_row + 1)}
    for family, decision, note in decisions:
        r = row_of[family]
        ws[f"D{r}"], ws[f"E{r}"] = decision, note or None
    return write_atomic(out or path, wb.save)
