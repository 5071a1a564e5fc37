"""``POST /decisions``: case-management systems record managers' decisions on a list.

The same checks as a returned workbook (:mod:`stratify.serving.decisions.check`): the
list must be one stratify wrote, the model version its own, every family on it with its
rank, every decision one of the drop-down's values, no family twice. Unlike a workbook,
a call may carry only some of the list's families (a case-management system sends
decisions as they are made). The call is all or nothing: any problem (each named by its
field, e.g. ``decisions[3].rank``) records nothing. A decision equal to the family's
current one is not written again. Needs the ``decisions`` role; the guard audits every
call with the list id, the pseudonymous families and the model version.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stratify.features.decisions import Decision, DecisionStore, StoreError
from stratify.serving.decisions.check import MAX_NOTE, Submitted, check_header, check_rows

SOURCE_API = "api"
MAX_DECISIONS = 5_000
ERR_INVALID = "{n} problem(s) in the decisions; nothing was recorded"
ERR_BUSY = "the decisions database is busy; try again"


class DecisionIn(BaseModel):
    """One family's decision."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    family: str = Field(min_length=1, max_length=100, description="the family's pseudonym")
    rank: int = Field(ge=1, description="the family's rank on the list, as written")
    decision: Decision = Field(description="what was done (the workbook's drop-down values)")
    note: str = Field("", max_length=MAX_NOTE, description="free text; never read into a model")


class DecisionsRequest(BaseModel):
    """The body of ``POST /decisions``."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    list_id: str = Field(min_length=1, max_length=80, description="the list's id")
    model_version: int = Field(ge=1, description="the model version that ranked the list")
    decisions: list[DecisionIn] = Field(min_length=1, max_length=MAX_DECISIONS)


class DecisionsResponse(BaseModel):
    """What ``POST /decisions`` recorded."""

    list_id: str
    families_on_list: int
    received: int
    recorded: int = Field(description="new or changed decisions appended")
    unchanged: int = Field(description="equal to the family's current decision: not written")


class Problem(BaseModel):
    """One problem, named by its field."""

    field: str
    problem: str


class DecisionsError(BaseModel):
    """The body of a refused ``POST /decisions``."""

    error: str
    detail: list[Problem] = []


def _refuse(status: int, error: str, problems: list[Problem]) -> tuple[int, dict[str, Any]]:
    return status, DecisionsError(error=error, detail=problems).model_dump()


def _problem(text: str) -> Problem:
    field, _, problem = text.partition(": ")
    return Problem(field=field, problem=problem)


def record_decisions(
    work_dir: Path, request: DecisionsRequest, *, submitted_by: str,
    audit: MutableMapping[str, Any],
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """Check and record a request's decisions; return (HTTP status, body).

    404 for an unknown list id, 400 for any other problem, 503 if the database stays
    locked, 200 with a :class:`DecisionsResponse` otherwise.
    """
    audit.update(list_id=request.list_id, model_version=request.model_version,
                 record_ids=[d.family for d in request.decisions])  # fmt: skip
    store = DecisionStore.in_work(work_dir)
    try:
        record = store.get_list(request.list_id)
    except LookupError as err:
        return _refuse(404, str(err), [Problem(field="list_id", problem=str(err))])
    found = check_header(record, record.as_of, request.model_version,
                         where_date="list_id", where_version="model_version")  # fmt: skip
    rows = [Submitted(d.rank, d.family, d.decision, d.note) for d in request.decisions]
    decided, problems = check_rows(
        record, rows, lambda i, field: f"decisions[{i}].{field}", complete=False
    )
    found += problems
    if found:
        return _refuse(400, ERR_INVALID.format(n=len(found)), [_problem(p) for p in found])
    try:
        added = store.append(record.list_id, decided, source=SOURCE_API, submitted_by=submitted_by)
    except StoreError:
        return _refuse(503, ERR_BUSY, [])
    body = DecisionsResponse(list_id=record.list_id, families_on_list=len(record.families),
                             received=len(decided), recorded=added,
                             unchanged=len(decided) - added)  # fmt: skip
    return 200, body.model_dump()
