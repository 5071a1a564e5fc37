"""The ASGI middleware in front of the service: bearer-token roles, rate limit, audit log.

Health, metrics and the API documents (:data:`OPEN_PATHS`: they hold no data) pass
untouched. Every other request needs a valid token (401 without one); ``/score`` needs
the ``scorer`` role, ``/model`` the ``reviewer`` role and ``/decisions`` the
``decisions`` role (403 otherwise); a token over
its rate limit gets 429. Every guarded request, refused or not, gets one audit line.
The response is held until its line is written: if the line cannot be written (an
unwritable file, a full disk), the client gets a 503 instead, so nothing is served
unaudited. If the tokens file cannot be read, no token is accepted (503). The endpoint
adds what only it knows (target, record ids, model version, list id) to
``request.state.audit``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from stratify.serving.api.audit_log import ERR_WRITE, AuditError, AuditLog
from stratify.serving.api.auth import (
    ERR_TOKENS_UNREADABLE,
    Principal,
    TokenStore,
    TokensUnavailable,
)
from stratify.serving.api.limits import RateLimiter
from stratify.serving.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: the OpenAPI document (where BentoML's index page looks for it)
DOCS_PATH = "/docs.json"
OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics", DOCS_PATH, "/schema.json"})
ROLE_OF = {"/score": "scorer", "/model": "reviewer", "/decisions": "decisions"}
ERR_UNAUTHENTICATED = "a valid bearer token is required (Authorization: Bearer <token>)"
ERR_FORBIDDEN = "this token lacks the {role} role needed for {path}"
ERR_RATE = "this token has sent more than {limit} requests a minute; retry in {wait} s"
#: seconds a client is asked to wait after a 503
RETRY_SECONDS = 30
ERR_INTERNAL = "the request failed; quote request id {request_id} to the service's operators"
REQUEST_ID_HEADER = b"x-request-id"
AUDIT_KEYS = ("target", "record_ids", "model_version", "list_id")
logger = logging.getLogger(__name__)


def required_role(path: str) -> str | None:
    """Return the role a path needs (None: any valid token); sub-paths inherit it."""
    for prefix, role in ROLE_OF.items():
        if path == prefix or path.startswith(prefix + "/"):
            return role
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _json_messages(
    status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]]
) -> list[Message]:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    return [
        {"type": "http.response.start", "status": status, "headers": headers + extra},
        {"type": "http.response.body", "body": data, "more_body": False},
    ]


Refusal = tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]


def _refused(status: int, error: str, retry_after: int = RETRY_SECONDS) -> Refusal:
    """Return a refusal with the headers it carries: how to authenticate, or when to retry."""
    headers: list[tuple[bytes, bytes]] = []
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    elif status in (429, 503):
        headers.append((b"retry-after", str(retry_after).encode()))
    return status, {"error": error}, headers


class Guard:
    """Authenticate, authorise and audit every request that is not a health check.

    Parameters
    ----------
    app : ASGI app
        The service's app.
    settings : Settings
        Where the tokens and the audit log are (resolved by the service's start-up).
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.tokens = TokenStore(settings.tokens_file, settings.tokens_json)
        self.audit = AuditLog.from_settings(settings)
        self.limiter = RateLimiter(settings.rate_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        path = scope["path"]
        entry: dict[str, Any] = {"request_id": request_id, "endpoint": path}
        extra = [(REQUEST_ID_HEADER, request_id.encode())]
        try:
            principal = self.tokens.authenticate(_header(scope, b"authorization"))
            refusal = self._refusal(principal, path)
        except TokensUnavailable:
            principal, refusal = None, _refused(503, ERR_TOKENS_UNREADABLE)
        if principal is not None:
            entry.update(subject=principal.subject, token_id=principal.token_id)
        if refusal is not None:
            status = refusal[0]
            messages = _json_messages(*refusal)
        else:
            messages = await self._run(scope, receive, principal, entry, request_id)
            status = int(messages[0]["status"]) if messages else 500
        entry.update(status=status, latency_ms=round((time.perf_counter() - started) * 1e3, 3))
        try:
            self.audit.write(**entry)
        except AuditError:
            messages = _json_messages(*_refused(503, ERR_WRITE))
        messages[0]["headers"] = [*messages[0].get("headers", ()), *extra]
        for message in messages:
            await send(message)

    def _refusal(self, principal: Principal | None, path: str) -> Refusal | None:
        if principal is None:
            return _refused(401, ERR_UNAUTHENTICATED)
        role = required_role(path)
        if role is not None and role not in principal.roles:
            return _refused(403, ERR_FORBIDDEN.format(role=role, path=path))
        wait = self.limiter.acquire(principal.token_id)
        if wait is not None:
            return _refused(429, ERR_RATE.format(limit=self.limiter.per_minute, wait=wait), wait)
        return None

    async def _run(
        self, scope: Scope, receive: Receive, principal: Principal | None,
        entry: dict[str, Any], request_id: str,
    ) -> list[Message]:  # fmt: skip
        """Run the app with the response held back; add the endpoint's audit details."""
        state = scope.setdefault("state", {})
        audit: dict[str, Any] = {}
        state.update(principal=principal, audit=audit, request_id=request_id)
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            await self.app(scope, receive, hold)
        except Exception:
            logger.exception("request %s failed", request_id)
            held = _json_messages(500, {"error": ERR_INTERNAL.format(request_id=request_id)}, [])
        entry.update({k: audit[k] for k in AUDIT_KEYS if k in audit})
        if not held or held[0]["type"] != "http.response.start":
            return _json_messages(500, {"error": ERR_INTERNAL.format(request_id=request_id)}, [])
        return held
