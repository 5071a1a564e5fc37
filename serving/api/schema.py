"""Request models generated from the feature catalogue, and their error reports.

One pydantic model per served model: a field per input column, typed and bounded as the
catalogue declares it (:func:`stratify.features.catalogue.request_schema`), codes restricted to
their lists (the catalogue's, else the model's recorded categories), plus a
pseudonymous ``record_id``. Validation is strict: no unknown fields, no coercion of
``"3"`` to 3 or of 1 to true (a whole number written ``3.0`` is 3, as JSON Schema reads
it). Ages are limited to childhood (0-18 years) even where the catalogue allows more;
counts the catalogue leaves unbounded stop at :data:`MAX_COUNT`. The per-target body
models (:func:`score_request_model`) put them in the OpenAPI document. Nothing here
echoes a submitted value back: an error names the record (by position), the field and
what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from stratify.features.catalogue import FEATURE_BY_NAME, Feature

#: The oldest a child can be, in months; tighter than the catalogue's ``age_months`` limit.
MAX_AGE_MONTHS = 18 * 12
#: The largest count accepted where the catalogue sets no upper bound (no family has
#: 100,000 referrals; an unbounded integer would overflow the model's arrays).
MAX_COUNT = 100_000
RECORD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
ERR_INVALID = "{n} invalid field(s); nothing was scored"
ERR_BATCH = "{n} records in one request; the limit is {limit}"
ERR_EMPTY = "records is empty; send at least one record"
ERR_TARGET = "target {target!r} is not served here; served: {served}"
ERR_BODY = "the request body must be a JSON object with target and records"

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True)
RecordId = Annotated[str, Field(pattern=RECORD_ID_PATTERN, description="pseudonymous id")]


class ScoreEnvelope(BaseModel):
    """The outside of a ``POST /score`` body: a target and its records (checked per record).

    The document describes the body precisely, per target
    (:func:`score_request_model`); the service checks this envelope first and then
    each record, so a problem is reported with its record's position.
    """

    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)

    target: str = Field(description="escalation or rereferral")
    records: list[Any] = Field(description="family-context records, one per child")


def _field(feature: Feature | None, name: str, allowed: Sequence[str] | None) -> tuple[Any, Any]:
    """Return (type, FieldInfo) of one input column."""
    if feature is None or feature.dtype == "category":
        codes = tuple(feature.categories if feature and feature.categories else allowed or ())
        kind: Any = Literal[codes] if codes else str
        nullable = feature is None or feature.nullable
        return (kind | None if nullable else kind), Field(description=_describe(feature, name))
    limits: dict[str, Any] = {}
    if feature.dtype == "int":
        if feature.minimum is not None:
            limits["ge"] = feature.minimum
        high = feature.maximum if feature.maximum is not None else MAX_COUNT
        if name == "age_months":
            high = MAX_AGE_MONTHS if high is None else min(high, MAX_AGE_MONTHS)
        if high is not None:
            limits["le"] = high
    # the bounds go on the integer itself, so they stay bounds when null is allowed too
    kind = bool if feature.dtype == "bool" else Annotated[int, Field(**limits)]
    info = Field(description=_describe(feature, name))
    return (kind | None if feature.nullable else kind), info


def _describe(feature: Feature | None, name: str) -> str:
    return feature.description if feature is not None else f"{name} (audit column)"


def record_model(
    target: str, columns: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> type[BaseModel]:
    """Return the pydantic model of one record of a model with these input columns.

    Parameters
    ----------
    target : str
        Used to name the model.
    columns : sequence of str
        The model's input columns (catalogue features, then any protected ones).
    categories : mapping
        The model's recorded category values, for codes the catalogue leaves open.
    """
    fields: dict[str, Any] = {"record_id": (RecordId, ...)}
    for c in columns:
        fields[c] = _field(FEATURE_BY_NAME.get(c), c, categories.get(c))
    name = f"{target.title()}Record"
    model: type[BaseModel] = create_model(name, __config__=_STRICT, **fields)
    return model


def score_request_model(target: str, record: type[BaseModel], max_batch: int) -> type[BaseModel]:
    """Return the model of a ``/score`` body for ``target``: 1 to ``max_batch`` records."""
    fields: dict[str, Any] = {
        "target": (Literal[target], Field(description=f"the prediction target: {target}")),
        "records": (
            list[record],  # type: ignore[valid-type]
            Field(min_length=1, max_length=max_batch,
                  description=f"family-context records, one per child (1 to {max_batch})"),
        ),
    }  # fmt: skip
    model: type[BaseModel] = create_model(
        f"{target.title()}ScoreRequest", __config__=_STRICT, __doc__=f"Score {target} records.",
        **fields,
    )  # fmt: skip
    return model


def problems(err: ValidationError, record: int | None = None) -> list[dict[str, Any]]:
    """Return pydantic's errors as ``{record, field, problem, type}`` (no input values)."""
    out = []
    for e in err.errors(include_input=False, include_context=False, include_url=False):
        loc = [str(p) for p in e["loc"]]
        out.append(
            {
                "record": record,
                "field": ".".join(loc) or None,
                "problem": e["msg"],
                "type": e["type"],
            }
        )
    return out


def validate_records(
    model: type[BaseModel], records: Sequence[Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Validate each record; return (valid records as dicts, every problem found).

    A record that is not an object is one problem; otherwise each bad field is one.
    """
    rows: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    for i, raw in enumerate(records):
        try:
            rows.append(model.model_validate(raw).__dict__)
        except ValidationError as err:
            whole = _whole_numbers(raw, err)
            try:
                if whole is None:
                    raise
                rows.append(model.model_validate(whole).__dict__)
            except ValidationError as again:
                found += problems(again, record=i)
    return rows, found


def _whole_numbers(raw: Any, err: ValidationError) -> dict[str, Any] | None:
    """Return ``raw`` with whole numbers written as ``3.0`` read as 3, if it had any.

    An integer as JSON Schema means it: ``3`` or ``3.0``, never ``"3"``, ``3.5`` or
    ``true``. Strict validation refuses ``3.0``; rather than run a converter on every
    field of every record, only a record refused for it is read again.
    """
    if not isinstance(raw, dict):
        return None
    fixes = {
        str(e["loc"][0]): int(e["input"])
        for e in err.errors(include_url=False, include_context=False)
        if e["type"] == "int_type" and e["loc"] and type(e["input"]) is float
        and e["input"].is_integer()
    }  # fmt: skip
    return {**raw, **fixes} if fixes else None


def record_ids(records: Sequence[Any]) -> list[str]:
    """Return the well-formed record ids of a batch (for the audit log, even when invalid)."""
    import re

    pattern = re.compile(RECORD_ID_PATTERN)
    return [
        r["record_id"]
        for r in records
        if isinstance(r, dict) and isinstance(r.get("record_id"), str)
        and pattern.match(r["record_id"])
    ]  # fmt: skip
