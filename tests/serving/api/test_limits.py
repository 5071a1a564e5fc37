"""The per-token rate limit: token buckets worked by hand, and 429 through the guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from stratify.serving.api.auth import add_token
from stratify.serving.api.guard import Guard
from stratify.serving.api.limits import RateLimiter
from stratify.serving.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_minutes_worth_then_refills_at_the_rate():
    """6 a minute: 6 at once, then one every 10 s; the wait is rounded up to whole seconds."""
    clock = Clock()
    limiter = RateLimiter(6, clock)
    assert [limiter.acquire("a") for _ in range(6)] == [None] * 6
    assert limiter.acquire("a") == 10  # empty: one token needs 60 / 6 = 10 s
    assert limiter.acquire("b") is None  # buckets are per token
    clock.now = 4.0  # 0.4 of a token back
    assert limiter.acquire("a") == 6  # (1 - 0.4) * 10 s
    clock.now = 10.0
    assert limiter.acquire("a") is None and limiter.acquire("a") == 10
    clock.now = 1000.0  # a long pause refills to the burst, not beyond
    assert [limiter.acquire("a") for _ in range(7)] == [None] * 6 + [10]


def test_no_limit_when_zero():
    limiter = RateLimiter(0)
    assert all(limiter.acquire("a") is None for _ in range(10_000))


@pytest.fixture
def guarded(tmp_path: Path):
    async def ok(request):
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/model", ok)])
    settings = Settings(work_dir=tmp_path, mlflow_uri="sqlite://", max_batch=5,
                        tokens_file=tmp_path / "tokens.json", audit_log=tmp_path / "audit.jsonl",
                        audit_fsync=False, rate_limit=3)  # fmt: skip
    one, _ = add_token(settings.tokens_file, "busy", ["reviewer"])
    two, _ = add_token(settings.tokens_file, "quiet", ["reviewer"])
    with TestClient(Guard(app, settings)) as client:
        yield client, one, two, settings.audit_log


def test_a_token_over_its_limit_gets_429_with_retry_after_and_is_audited(guarded):
    client, one, two, audit = guarded
    got = [client.get("/model", headers={"Authorization": f"Bearer {one}"}) for _ in range(4)]
    assert [r.status_code for r in got] == [200, 200, 200, 429]
    assert got[3].headers["retry-after"] == "20"  # 3 a minute: one every 20 s
    assert "3 requests a minute" in got[3].json()["error"]
    assert client.get("/model", headers={"Authorization": f"Bearer {two}"}).status_code == 200
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [(x["subject"], x["status"]) for x in lines] == [
        ("busy", 200),
        ("busy", 200),
        ("busy", 200),
        ("busy", 429),
        ("quiet", 200),
    ]
    # a request without a valid token is refused before it can use up anyone's bucket
    assert client.get("/model").status_code == 401
