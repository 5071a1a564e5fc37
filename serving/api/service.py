"""The BentoML service: ``POST /score`` and ``/decisions``, ``GET /model``, docs, health.

The endpoints are plain Starlette routes mounted on the BentoML service, so the OpenAPI
document (:mod:`.document`, built with :mod:`.contract`) alone says what each accepts
and answers, including its errors; BentoML runs the workers, health and metrics.

``stratify serve`` (or ``bentoml serve stratify.serving.api.service:Stratify``) starts it.
Each worker loads, for every target imported with ``stratify import-model``, exactly the
recorded champion version from the BentoML store under the working directory. BentoML
provides ``/livez``, ``/readyz`` (ready once at least one model is loaded) and
``/metrics`` (Prometheus); :class:`~stratify.serving.api.guard.Guard` puts bearer-token
roles and the audit log in front of everything else.

Importing this module reads nothing. A worker is a fresh process, so its start-up is an
edge: :func:`from_environment` resolves the settings from the environment once (the
config named by ``$STRATIFY_CONFIG``, ``$STRATIFY_HOME``, ``$MLFLOW_TRACKING_URI``,
``$STRATIFY_TOKENS``), for both the service class and the guard. The worker count is
BentoML's own service configuration: the decorator gives the default, and
``stratify serve --workers N`` overrides it for the ``bentoml serve`` process through
BentoML's ``BENTOML_CONFIG_OVERRIDES`` (``services.stratify.workers``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import MutableMapping
from typing import Any

import anyio
import anyio.to_thread
import bentoml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from stratify.serving.api import decisions as decisions_api
from stratify.serving.api import document, endpoints
from stratify.serving.api.endpoints import Served
from stratify.serving.api.guard import DOCS_PATH, ASGIApp, Guard
from stratify.serving.settings import DEFAULT_WORKERS, SERVICE_NAME, Settings

JSON = "application/json"

#: requests with at most this many records are scored on the event loop
INLINE_RECORDS = 20


@functools.cache
def from_environment() -> Settings:
    """Return this worker's settings, resolved from its environment on first use.

    The service's start-up edge: the class and the guard (which BentoML builds in the
    same worker) share the one resolution.
    """
    return Settings.from_environment(os.environ)


def _guard(app: ASGIApp) -> Guard:
    """Build the guard of this worker's app (BentoML calls it when the app is built)."""
    return Guard(app, from_environment())


def _audit(request: Request) -> MutableMapping[str, Any]:
    """Return the audit details the guard reads back (a throwaway dict when unguarded)."""
    audit: MutableMapping[str, Any] = getattr(request.state, "audit", {})
    return audit


def _served() -> tuple[dict[str, Served], Settings]:
    svc = bentoml.get_current_service()
    return svc.served, svc.settings


async def _json_body(request: Request, limit: int) -> bytes | Response:
    """Return the request's JSON body, or the 415 or 413 reply (read no more than limit)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != JSON:
        return JSONResponse({"error": endpoints.ERR_MEDIA.format(media=media[:60] or "none")},
                            status_code=415)  # fmt: skip
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return JSONResponse({"error": endpoints.ERR_BODY_SIZE.format(limit=limit)}, 413)
    return bytes(body)


async def _score(request: Request) -> Response:
    served, settings = _served()
    audit = _audit(request)
    body = await _json_body(request, settings.max_body_bytes)
    if isinstance(body, Response):
        return body
    parsed = endpoints.parse_score_body(body)
    if not isinstance(parsed, endpoints.ScoreBody):
        return JSONResponse(parsed[1], status_code=parsed[0])
    target, records = parsed.target, parsed.records
    call = functools.partial(
        endpoints.score, served, target, records, max_batch=settings.max_batch, audit=audit
    )
    # A few records are scored on the event loop (a thread hop costs ~9 % of a
    # single-record request); larger batches go to one thread per worker, so health
    # checks are answered while they run.
    if len(records) <= INLINE_RECORDS:
        status, out = call()
    else:
        status, out = await anyio.to_thread.run_sync(call, limiter=_limiter())
    return JSONResponse(out, status_code=status)


@functools.cache
def _limiter() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(1)


async def _decisions(request: Request) -> Response:
    """Record managers' decisions on a list (:mod:`stratify.serving.api.decisions`)."""
    _, settings = _served()
    audit = _audit(request)
    body = await _json_body(request, settings.max_body_bytes)
    if isinstance(body, Response):
        return body
    parsed = decisions_api.parse_body(body)
    if not isinstance(parsed, decisions_api.DecisionsRequest):
        return JSONResponse(parsed[1], status_code=parsed[0])
    principal = getattr(request.state, "principal", None)
    call = functools.partial(
        decisions_api.record_decisions, settings.work_dir, parsed,
        submitted_by=principal.subject if principal else "unknown", audit=audit,
    )  # fmt: skip
    status, out = await anyio.to_thread.run_sync(call)
    return JSONResponse(out, status_code=status)


async def _model(request: Request) -> Response:
    served, settings = _served()
    status, body = endpoints.model_info(
        served, request.query_params.get("target"), settings.work_dir, _audit(request)
    )
    return JSONResponse(body, status_code=status)


async def _card(request: Request) -> Response:
    served, settings = _served()
    status, body = endpoints.card_html(
        served, request.query_params.get("target"), settings.work_dir, _audit(request)
    )
    if isinstance(body, str):
        return HTMLResponse(body, status_code=status)
    return JSONResponse(body, status_code=status)


@functools.cache
def _document() -> dict[str, Any]:
    """Return this worker's OpenAPI document (its models are fixed at start-up)."""
    served, settings = _served()
    ops = [*document.operations(served, settings.max_batch), decisions_api.operation()]
    return document.document(ops, version())


async def _docs(request: Request) -> Response:
    return JSONResponse(_document())


def version() -> str:
    """Return the installed stratify version (the document's version)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("stratify")
    except PackageNotFoundError:
        return "0+unknown"


#: The service's routes: plain Starlette routes, so the contract (contract.py, document.py)
#: alone says what each accepts and answers; BentoML runs them, their metrics and health.
routes_app = Starlette(
    routes=[
        Route("/score", _score, methods=["POST"]),
        Route("/decisions", _decisions, methods=["POST"]),
        Route("/model", _model, methods=["GET"]),
        Route("/model/card", _card, methods=["GET"]),
        Route(DOCS_PATH, _docs, methods=["GET"]),
    ]
)


@bentoml.asgi_app(routes_app, path="/")
@bentoml.service(
    name=SERVICE_NAME,
    workers=DEFAULT_WORKERS,  # stratify serve --workers overrides it (see the module doc)
    threads=1,
    traffic={"timeout": 60},
    logging={"access": {"enabled": False}},  # the audit log records every request
    endpoints={"livez": "/livez", "readyz": "/readyz"},
)
class Stratify:
    """Risk scores with reasons for integrators; model descriptions for reviewers."""

    def __init__(self) -> None:
        self.settings = from_environment()
        self.served = endpoints.load_served(self.settings.work_dir)

    def __is_ready__(self) -> bool:
        """Ready when at least one champion is loaded."""
        return bool(self.served)


Stratify.add_asgi_middleware(_guard)  # type: ignore[attr-defined]
