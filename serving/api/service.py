"""The BentoML service: ``POST /score``, ``GET /model``, health and metrics.

``bentoml serve stratify.serving.api.service:Stratify`` (or ``stratify serve``) starts it. Each worker
loads, for every target imported with ``stratify import-model``, exactly the recorded
champion version from the BentoML store under the working directory. BentoML provides
``/livez``, ``/readyz`` (ready once at least one model is loaded) and ``/metrics``
(Prometheus); :class:`~stratify.serving.api.guard.Guard` puts bearer-token roles and the audit log
in front of everything else. Settings come from ``$STRATIFY_CONFIG`` / ``$STRATIFY_HOME``.
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

from stratify.serving.api import endpoints
from stratify.serving import store
from stratify.serving.api.endpoints import Served
from stratify.serving.api.guard import Guard
from stratify.serving.api.schema import ScoreRequest
from stratify.serving.settings import Settings

WORKERS_ENV = "STRATIFY_WORKERS"
#: requests with at most this many records are scored on the event loop
INLINE_RECORDS = 20
ERR_NOTHING_IMPORTED = (
    "no model has been imported into {work}/bentoml: run "
    "`stratify import-model --target escalation` (and rereferral) first"
)


def load_served(settings: Settings, threads: int = 1) -> dict[str, Served]:
    """Load every imported champion (one LightGBM thread each: a worker per core).

    Raises
    ------
    RuntimeError
        If no model has been imported.
    """
    served = {}
    for target, pointer in sorted(store.read_pointers(settings.work_dir).items()):
        scorer = store.load_champion(settings.work_dir, target, threads)
        served[target] = Served.build(scorer, pointer)
    if not served:
        raise RuntimeError(ERR_NOTHING_IMPORTED.format(work=settings.work_dir))
    return served


def _audit(request: Request) -> MutableMapping[str, Any]:
    """Return the audit details the guard reads back (a throwaway dict when unguarded)."""
    audit: MutableMapping[str, Any] = getattr(request.state, "audit", {})
    return audit


async def _model(request: Request) -> Response:
    svc = bentoml.get_current_service()
    status, body = endpoints.model_info(
        svc.served, request.query_params.get("target"), svc.settings.work_dir, _audit(request)
    )
    return JSONResponse(body, status_code=status)


async def _card(request: Request) -> Response:
    svc = bentoml.get_current_service()
    status, body = endpoints.card_html(
        svc.served, request.query_params.get("target"), svc.settings.work_dir, _audit(request)
    )
    if isinstance(body, str):
        return HTMLResponse(body, status_code=status)
    return JSONResponse(body, status_code=status)


#: GET routes (BentoML API methods are POST only).
model_app = Starlette(
    routes=[Route("/model", _model, methods=["GET"]), Route("/model/card", _card, methods=["GET"])]
)


@bentoml.asgi_app(model_app, path="/")
@bentoml.service(
    name="stratify",
    workers=int(os.environ.get(WORKERS_ENV, "2")),
    threads=1,
    traffic={"timeout": 60},
    logging={"access": {"enabled": False}},  # the audit log records every request
    endpoints={"livez": "/livez", "readyz": "/readyz"},
)
class Stratify:
    """Risk scores with reasons for integrators; model descriptions for reviewers."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self.served = load_served(self.settings)
        self._limiter: anyio.CapacityLimiter | None = None

    def __is_ready__(self) -> bool:
        """Ready when at least one champion is loaded."""
        return bool(self.served)

    @bentoml.api(route="/score", input_spec=ScoreRequest)
    async def score(
        self, target: str, records: list[dict[str, Any]], ctx: bentoml.Context
    ) -> dict[str, Any]:
        """Score family-context records: probability, band (1-10), top reasons, version."""
        call = functools.partial(
            endpoints.score, self.served, target, records, max_batch=self.settings.max_batch,
            audit=_audit(ctx.request),
        )  # fmt: skip
        # A few records are scored on the event loop (a thread hop costs ~9 % of a
        # single-record request); larger batches go to one thread per worker, so health
        # checks are answered while they run.
        if len(records) <= INLINE_RECORDS:
            status, body = call()
        else:
            if self._limiter is None:
                self._limiter = anyio.CapacityLimiter(1)
            status, body = await anyio.to_thread.run_sync(call, limiter=self._limiter)
        # BentoML sets the status of a method with a context from the context
        ctx.response.status_code = status
        return JSONResponse(body, status_code=status)  # type: ignore[return-value]


Stratify.add_asgi_middleware(Guard)  # type: ignore[attr-defined]
