"""Check submitted decisions against the list stratify wrote (workbook and API alike).

A submission names a list (its id and model version) and gives, per family, its rank,
its decision and a note. It is accepted only whole: every problem is collected, each
named by where it is (a workbook's sheet, row and column, or an API field), and if there
is any, nothing is recorded.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from stratify.features.decisions import DECISIONS, DecisionRow, ListRecord

MAX_NOTE = 2000
MAX_SHOWN = 20
ERR_INVALID = "{source}: {count} problem(s); nothing was recorded:\n{lines}"
ERR_OTHER_DATE = "the list is dated {expected}, not {found}: this is another list"
ERR_OTHER_VERSION = "the list was ranked by model version {expected}, not {found}"
ERR_NOT_LISTED = "family {family} is not on list {list_id}"
ERR_RANK = "family {family} is rank {expected} on the list, not {found}: ranks must not change"
ERR_DUPLICATE = "family {family} appears again (first at {first})"
ERR_VALUE = "{value!r} is not one of the drop-down's values: " + "; ".join(DECISIONS)
ERR_BLANK = (
    "no decision chosen for rank {rank} (choose 'not contacted, no capacity' if the team "
    "could not reach the family)"
)
ERR_MISSING = "families of rank {ranks} are missing: a returned list must keep every family"
ERR_NOTE = "the note is {n} characters; at most {limit}"
ERR_RANK_TYPE = "the rank must be a whole number, got {value!r}"

#: A location of a field of the i-th submitted family ("sheet 'Decisions', row 9, ...").
Locate = Callable[[int, str], str]


@dataclass(frozen=True)
class Submitted:
    """One family's submitted decision, as read (not yet checked)."""

    rank: object
    family: str
    decision: str | None
    note: str = ""


class DecisionsInvalid(ValueError):
    """The submission breaks the list; ``problems`` name each place and what was expected."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source, self.problems = source, list(problems)
        shown = [f"  - {p}" for p in self.problems[:MAX_SHOWN]]
        if len(self.problems) > MAX_SHOWN:
            shown.append(f"  - ... and {len(self.problems) - MAX_SHOWN} more")
        super().__init__(
            ERR_INVALID.format(source=source, count=len(self.problems), lines="\n".join(shown))
        )


def check_header(
    record: ListRecord, as_of: object, version: object, *, where_date: str, where_version: str
) -> list[str]:
    """Return the problems of a submission's list date and model version."""
    problems = []
    if isinstance(as_of, dt.datetime):  # a date cell reads back as a datetime
        as_of = as_of.date()
    found_date = as_of.isoformat() if isinstance(as_of, dt.date) else str(as_of).strip()
    if found_date != record.as_of.isoformat():
        problems.append(f"{where_date}: " + ERR_OTHER_DATE.format(
            expected=record.as_of.isoformat(), found=found_date))  # fmt: skip
    found = str(version).strip()
    if not re.fullmatch(rf"(?:.*\s)?v?{record.model_version}", found):
        problems.append(f"{where_version}: " + ERR_OTHER_VERSION.format(
            expected=record.model_version, found=found[:40]))  # fmt: skip
    return problems


def _rank(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _check_one(
    record: ListRecord, row: Submitted, at: Callable[[str], str], allow_blank: bool
) -> tuple[DecisionRow | None, list[str]]:
    """Check one submitted family already known to be on the list, once."""
    family = str(row.family).strip()
    expected = record.rank_of[family]
    problems = []
    rank = _rank(row.rank)
    if rank is None:
        problems.append(f"{at('rank')}: " + ERR_RANK_TYPE.format(value=row.rank))
    elif rank != expected:
        problems.append(f"{at('rank')}: " + ERR_RANK.format(family=family, expected=expected,
                                                            found=rank))  # fmt: skip
    note = "" if row.note is None else str(row.note).strip()
    if len(note) > MAX_NOTE:
        problems.append(f"{at('note')}: " + ERR_NOTE.format(n=len(note), limit=MAX_NOTE))
    decision = "" if row.decision is None else str(row.decision).strip()
    if not decision:
        if not allow_blank:
            problems.append(f"{at('decision')}: " + ERR_BLANK.format(rank=expected))
        return None, problems
    if decision not in DECISIONS:
        problems.append(f"{at('decision')}: " + ERR_VALUE.format(value=decision[:60]))
        return None, problems
    return DecisionRow(family, decision, note), problems


def check_rows(
    record: ListRecord,
    rows: Sequence[Submitted],
    locate: Locate,
    *,
    complete: bool,
    allow_blank: bool = False,
) -> tuple[list[DecisionRow], list[str]]:
    """Return the decisions to record and the problems found (record only if none).

    Parameters
    ----------
    record : ListRecord
        The list as written.
    rows : sequence of Submitted
        The submitted families.
    locate : callable
        ``locate(i, field)`` names where field ``rank``, ``family``, ``decision`` or
        ``note`` of the ``i``-th row is (``i = -1``: the family column as a whole).
    complete : bool
        Whether every family of the list must be there (a returned workbook: yes; an
        API call may send a few families).
    allow_blank : bool
        Skip families with no decision yet instead of refusing them.
    """
    ranks = record.rank_of
    problems: list[str] = []
    seen: dict[str, int] = {}
    out: list[DecisionRow] = []
    for i, row in enumerate(rows):
        family = str(row.family).strip()
        if family not in ranks:
            problems.append(f"{locate(i, 'family')}: " + ERR_NOT_LISTED.format(
                family=family[:60] or "(empty)", list_id=record.list_id))  # fmt: skip
        elif family in seen:
            problems.append(f"{locate(i, 'family')}: " + ERR_DUPLICATE.format(
                family=family, first=locate(seen[family], "family")))  # fmt: skip
        else:
            seen[family] = i
            decided, found = _check_one(record, row, partial(locate, i), allow_blank)
            problems += found
            if decided is not None:
                out.append(decided)
    missing = sorted(r for f, r in ranks.items() if f not in seen)
    if complete and missing:
        shown = ", ".join(map(str, missing[:15])) + (", ..." if len(missing) > 15 else "")
        problems.append(f"{locate(-1, 'family')}: " + ERR_MISSING.format(ranks=shown))
    return out, problems
