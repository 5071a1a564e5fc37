"""The service's OpenAPI contract, built from declared operations and pydantic models.

Each endpoint declares one :class:`Operation`: its method and path, the role it needs,
its request body (one or several pydantic models, told apart by a discriminating
field), its query parameters, and every response it can give, with the model of its
body. :func:`openapi` turns a list of them into an OpenAPI 3.1 document; the JSON
Schemas come from the same pydantic models the service validates with, so the
document cannot say one thing while the service checks another. A new endpoint (a
new module) declares its own :class:`Operation` the same way and is added to the list
the service documents.

The error responses every guarded endpoint can give are declared once here
(:func:`errors`): 400 with a typed list of problems, 401, 403, 413, 415, 429 and 503,
each with a JSON body ``{"error": ...}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

JSON = "application/json"
OPENAPI_VERSION = "3.1.0"
SECURITY_SCHEME = "bearer"
REF = "#/components/schemas/{model}"


class Problem(BaseModel):
    """One thing wrong with a request: which record (by position), which field, what."""

    model_config = ConfigDict(extra="forbid")

    record: int | None = Field(description="position of the record in records (null: the body)")
    field: str | None = Field(description="the field, dotted for nested ones (null: the whole)")
    problem: str = Field(description="what is wrong (never the submitted value)")
    type: str = Field(description="a stable code for the kind of problem")


class Invalid(BaseModel):
    """400: the request was not valid; nothing was processed."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="a one-line summary")
    detail: list[Problem] = Field(description="every problem found")


class Error(BaseModel):
    """Any other error: a one-line message."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="what went wrong and what to do")


@dataclass(frozen=True)
class Reply:
    """One documented response: its description, body model (or media type) and headers."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str = JSON
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    """One query parameter, its allowed values and whether it is required."""

    name: str
    description: str
    enum: Sequence[str] = ()
    required: bool = True


@dataclass(frozen=True)
class Operation:
    """One endpoint as the document describes it.

    Attributes
    ----------
    method, path : str
        ``get`` or ``post``, and the route.
    summary, description : str
        What it is for.
    role : str or None
        The token role it needs (None: any valid token).
    replies : mapping
        HTTP status -> :class:`Reply` (use :func:`errors` for the standard ones).
    body : sequence of pydantic models
        The request body: one of these models (empty: no body).
    discriminator : str or None
        The field whose constant value tells the body models apart.
    query : sequence of Query
    tags : sequence of str
    """

    method: Literal["get", "post"]
    path: str
    summary: str
    description: str
    role: str | None
    replies: Mapping[int, Reply]
    body: Sequence[type[BaseModel]] = ()
    discriminator: str | None = None
    query: Sequence[Query] = ()
    tags: Sequence[str] = ()

    @property
    def operation_id(self) -> str:
        """``post_score``, ``get_model_card``: unique per method and path."""
        return f"{self.method}_{self.path.strip('/').replace('/', '_').replace('.', '_')}"


#: the errors a guarded endpoint can give, with what each means
_ERRORS: dict[int, Reply] = {
    400: Reply("The request is not valid (each problem listed); nothing was processed.", Invalid),
    401: Reply(
        "No valid bearer token (missing, unknown, expired or revoked).",
        Error,
        headers={"WWW-Authenticate": "Bearer"},
    ),  # fmt: skip
    403: Reply("The token lacks the role this endpoint needs.", Error),
    404: Reply("Not found.", Error),
    413: Reply("The body or the batch is larger than the service accepts.", Error),
    415: Reply("The body is not application/json.", Error),
    429: Reply(
        "This token has sent more requests than its rate limit allows; retry later.",
        Error,
        headers={"Retry-After": "Seconds to wait before retrying."},
    ),  # fmt: skip
    503: Reply(
        "The service cannot serve the request safely now (e.g. its audit log cannot be "
        "written); nothing was scored.",
        Error,
        headers={"Retry-After": "Seconds to wait before retrying."},
    ),  # fmt: skip
}


def errors(*codes: int) -> dict[int, Reply]:
    """Return the standard error replies with these status codes."""
    return {code: _ERRORS[code] for code in codes}


def _models(operations: Iterable[Operation]) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for op in operations:
        for model in [*op.body, *(r.model for r in op.replies.values() if r.model)]:
            seen.setdefault(model.__name__, model)
    return list(seen.values())


def _body(op: Operation) -> dict[str, Any]:
    refs = [{"$ref": REF.format(model=m.__name__)} for m in op.body]
    schema: dict[str, Any] = refs[0] if len(refs) == 1 else {"oneOf": refs}
    if op.discriminator and len(refs) > 1:
        mapping = {}
        for m in op.body:
            value = m.model_fields[op.discriminator].annotation.__args__[0]  # type: ignore[union-attr]
            mapping[str(value)] = REF.format(model=m.__name__)
        schema["discriminator"] = {"propertyName": op.discriminator, "mapping": mapping}
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _reply(reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    if reply.model is not None:
        out["content"] = {
            reply.media_type: {"schema": {"$ref": REF.format(model=reply.model.__name__)}}
        }
    else:
        out["content"] = {reply.media_type: {"schema": {"type": "string"}}}
    if reply.headers:
        out["headers"] = {
            name: {"description": text, "required": True, "schema": {"type": "string"}}
            for name, text in reply.headers.items()
        }  # fmt: skip
    return out


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.operation_id, "summary": op.summary, "description": op.description,
        "tags": list(op.tags), "security": [{SECURITY_SCHEME: []}],
        "responses": {str(code): _reply(r) for code, r in sorted(op.replies.items())},
    }  # fmt: skip
    if op.role is not None:
        out["description"] += f"\n\nNeeds a token with the `{op.role}` role."
    if op.query:
        out["parameters"] = [
            {"name": q.name, "in": "query", "required": q.required, "description": q.description,
             "schema": {"type": "string", **({"enum": list(q.enum)} if q.enum else {})}}
            for q in op.query
        ]  # fmt: skip
    if op.body:
        out["requestBody"] = _body(op)
    return out


def openapi(
    operations: Sequence[Operation], *, title: str, version: str, description: str
) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of ``operations``.

    Every response body's schema is its pydantic model's JSON Schema (validation mode
    for request bodies, serialisation mode for responses), under ``components``.
    """
    models = _models(operations)
    requests = {m for op in operations for m in op.body}
    pairs = [(m, "validation" if m in requests else "serialization") for m in models]
    _, defs = models_json_schema(pairs, ref_template=REF)  # type: ignore[arg-type]
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "stk_<id>_<secret>, from `stratify tokens add`",
                }
            },
        },  # fmt: skip
    }
