"""The audit chain over real HTTP: two BentoML workers, concurrent clients, one valid chain."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from stratify.serving.api.audit_log import CHAIN_FIELDS, FIELDS
from stratify.serving.api.audit_verify import verify
from stratify.serving.api.auth import add_token
from stratify.serving.cli import serve_env
from stratify.serving.settings import DEMO_KEY, SERVICE, TOKENS_ENV
from tests.serving import factory

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.filterwarnings("ignore:There is no current event loop:DeprecationWarning")
CLIENTS, REQUESTS = 6, 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serving(served_work: Path, config: Path, token: str) -> Iterator[str]:
    """Run ``bentoml serve`` with two workers, in its own process as ``stratify serve`` does.

    A separate process, not ``bentoml.serve`` in this one: that would load BentoML's
    process-wide configuration (its home, its model store) here, where later tests in
    the same worker point BentoML at stores of their own.
    """
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != TOKENS_ENV}
    env |= serve_env({}, served_work, config, workers=2)
    cmd = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--port", str(port),
           "--working-dir", str(ROOT)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "bentoml serve exited before it was ready"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "bentoml serve was not ready within 120 s"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _client(url: str, token: str, records: list[dict]) -> list[int]:
    body = {"target": "escalation", "records": records}
    with httpx.Client(base_url=url, timeout=30) as c:
        return [
            c.post("/score", json=body, headers={"Authorization": f"Bearer {token}"}).status_code
            for _ in range(REQUESTS)
        ]


def test_two_workers_under_load_keep_one_valid_chain(served_work: Path, tmp_path: Path):
    tokens, audit = tmp_path / "tokens.json", tmp_path / "requests.jsonl"
    config = factory.write_config(tmp_path / "config.yaml", served_work, tokens_file=str(tokens),
                                  audit_log=str(audit))  # fmt: skip
    token, _ = add_token(tokens, "load test", ["scorer"])
    records = factory.records("escalation", 3, seed=41).to_dict("records")
    given = [token if i % 3 else "stk_1_wrong" for i in range(CLIENTS)]
    with _serving(served_work, config, token) as url, ThreadPoolExecutor(CLIENTS) as pool:
        statuses = [s for got in pool.map(lambda t: _client(url, t, records), given) for s in got]
    assert sorted(set(statuses)) == [200, 401]
    report = verify(audit, DEMO_KEY)
    assert report.problem is None, str(report.problem)
    text = "".join(f.read_text() for f in report.files)
    lines = [json.loads(x) for x in text.splitlines()]
    assert len([x for x in lines if x["endpoint"] == "/score"]) == CLIENTS * REQUESTS
    assert report.lines == len(lines)  # the client's readiness check is audited too
    assert all(list(x) == [*FIELDS, *CHAIN_FIELDS] for x in lines)
    assert token not in text and "stk_1_wrong" not in text
    features = [k for k in records[0] if k != "record_id"]
    assert not [k for k in features if f'"{k}"' in text]
