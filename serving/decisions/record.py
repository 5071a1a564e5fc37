"""Record each written list, and import the decisions of a returned workbook.

:func:`register_list` is called by the outreach job before it writes a list's files,
so every workbook stratify hands out names a list the decisions database knows.
:func:`import_workbook` is ``stratify decisions import``: read the Decisions sheet,
check it against the recorded list (:mod:`.check`), and append the decisions that
changed, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stratify.features.decisions import DecisionStore, ListRecord
from stratify.features.decisions.store import CHILD_ATTRIBUTES
from stratify.serving.decisions.check import DecisionsInvalid, check_header, check_rows
from stratify.serving.decisions.sheet import DATE_ROW, ID_ROW, SHEET, VERSION_ROW, read_sheet, where

SOURCE_WORKBOOK = "workbook"


@dataclass(frozen=True)
class ImportOutcome:
    """What an import recorded."""

    list_id: str
    families: int
    decided: int
    appended: int

    @property
    def unchanged(self) -> int:
        """Decisions equal to the ones already recorded (not written again)."""
        return self.decided - self.appended


def list_record(
    as_of: dt.date, locality: str | None, model_version: int, families: pd.DataFrame
) -> ListRecord:
    """Return the record of a list (``families``: ``rank``, ``family``, ``locality``).

    Its id is derived from its content.
    """
    fams = families[["rank", "family", "locality"]].itertuples(index=False, name=None)
    return ListRecord.build(as_of, locality, model_version, list(fams))


def list_children(children: pd.DataFrame, audit: pd.DataFrame) -> pd.DataFrame:
    """Return the listed children (``family``, ``child``) with their audit attributes."""
    attrs = audit.drop_duplicates("person_id").set_index("person_id")
    kids = children[["family", "child"]].copy()
    for col in CHILD_ATTRIBUTES:
        values = attrs[col] if col in attrs.columns else pd.Series(dtype=object)
        kids[col] = kids["child"].map(values).to_numpy()
    kids["has_disability"] = kids["has_disability"].astype("boolean")
    kids["imd_quintile"] = pd.to_numeric(kids["imd_quintile"], errors="coerce").astype("Int64")
    for col in ("ethnic_group", "sex", "age_band", "locality"):
        kids[col] = kids[col].astype(object).where(kids[col].notna(), None)
    return kids


def register_list(
    work_dir: Path, record: ListRecord, children: pd.DataFrame, audit: pd.DataFrame
) -> ListRecord:
    """Record a list in the working directory's decisions database; return its record.

    ``children`` are the listed children (``family``, ``child``); ``audit`` the cohort's
    audit table (``person_id`` and the attributes).
    """
    DecisionStore.in_work(work_dir).register(record, list_children(children, audit))
    return record


def import_workbook(
    path: Path, store: DecisionStore, *, submitted_by: str, allow_blank: bool = False
) -> ImportOutcome:
    """Check a returned workbook against its list and record its decisions.

    Raises
    ------
    ValueError
        The file is not a readable outreach workbook.
    DecisionsInvalid
        The workbook does not match its list (each problem named by sheet, row, column);
        nothing was recorded.
    """
    path = Path(path)
    sheet = read_sheet(path)
    try:
        record = store.get_list(sheet.list_id)
    except LookupError as err:
        raise DecisionsInvalid(path.name, [f"{where(path, ID_ROW, 'List id')}: {err}"]) from None
    problems = check_header(
        record, sheet.as_of, sheet.version,
        where_date=where(path, DATE_ROW, "List date"),
        where_version=where(path, VERSION_ROW, "Model version"),
    )  # fmt: skip
    numbers = sheet.row_numbers

    def locate(i: int, field: str) -> str:
        if i < 0:
            return f"{path.name}: sheet '{SHEET}', column B (Family)"
        return where(path, numbers[i], field)

    rows, found = check_rows(record, sheet.rows, locate, complete=True, allow_blank=allow_blank)
    problems += found
    if problems:
        raise DecisionsInvalid(path.name, problems)
    appended = store.append(record.list_id, rows, source=SOURCE_WORKBOOK, submitted_by=submitted_by)
    return ImportOutcome(record.list_id, len(record.families), len(rows), appended)
