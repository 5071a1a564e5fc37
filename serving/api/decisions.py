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

import json
import re
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stratify.features.decisions import Decision, DecisionStore, StoreError
from stratify.serving.api.contract import Invalid, Operation, Reply, errors
from stratify.serving.api.schema import problems
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


ERR_JSON = "the body is not valid JSON (UTF-8)"
ERR_BODY = "the body is not a decisions request"
_INDEX = re.compile(r"^decisions(?:\[|\.)(\d+)")


def _problem(field: str | None, problem: str, kind: str = "value_error") -> dict[str, Any]:
    """One problem in the contract's shape (:class:`~.contract.Problem`)."""
    at = _INDEX.match(field or "")
    record = int(at.group(1)) if at else None
    return {"record": record, "field": field, "problem": problem, "type": kind}


def _refuse(status: int, error: str, found: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    return status, {"error": error, "detail": found}


def _named(text: str) -> dict[str, Any]:
    field, _, problem = text.partition(": ")
    return _problem(field, problem)


def parse_body(body: bytes) -> DecisionsRequest | tuple[int, dict[str, Any]]:
    """Parse a ``/decisions`` body, or return (400, the problems)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _refuse(400, ERR_JSON, [_problem(None, ERR_JSON, "json_invalid")])
    try:
        return DecisionsRequest.model_validate(data)
    except ValidationError as err:
        found = [{**p, "record": _problem(p["field"], "")["record"]} for p in problems(err)]
        return _refuse(400, ERR_BODY, found)


def operation() -> Operation:
    """Declare ``POST /decisions`` for the service's OpenAPI document."""
    return Operation(
        "post", "/decisions", "Record managers' decisions on an outreach list",
        "What was done with each listed family (the workbook's drop-down values), for "
        "case-management systems. All or nothing: any problem records nothing. A decision "
        "equal to the family's current one is not written again.",
        role="decisions", body=[DecisionsRequest], tags=["decisions"],
        replies={200: Reply("What was recorded.", DecisionsResponse),
                 404: Reply("No list with this id was written by stratify.", Invalid),
                 **errors(400, 401, 403, 413, 415, 429, 503)},
    )  # fmt: skip


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
        return _refuse(404, str(err), [_problem("list_id", str(err), "not_found")])
    found = check_header(record, record.as_of, request.model_version,
                         where_date="list_id", where_version="model_version")  # fmt: skip
    rows = [Submitted(d.rank, d.family, d.decision, d.note) for d in request.decisions]
    decided, problems = check_rows(
        record, rows, lambda i, field: f"decisions[{i}].{field}", complete=False
    )
    found += problems
    if found:
        return _refuse(400, ERR_INVALID.format(n=len(found)), [_named(p) for p in found])
    try:
        added = store.append(record.list_id, decided, source=SOURCE_API, submitted_by=submitted_by)
    except StoreError:
        return 503, {"error": ERR_BUSY}
    body = DecisionsResponse(list_id=record.list_id, families_on_list=len(record.families),
                             received=len(decided), recorded=added,
                             unchanged=len(decided) - added)  # fmt: skip
    return 200, body.model_dump()
