"""The audit chain over real HTTP: two BentoML workers, concurrent clients, one valid chain."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from stratify.serving.api.audit_log import CHAIN_FIELDS, FIELDS
from stratify.serving.api.audit_verify import verify
from stratify.serving.api.auth import add_token
from stratify.serving.settings import DEMO_KEY
from tests.serving import factory
from tests.serving.api.server import serving

pytestmark = pytest.mark.filterwarnings("ignore:There is no current event loop:DeprecationWarning")
CLIENTS, REQUESTS = 6, 20


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
    with serving(served_work, config, workers=2) as url, ThreadPoolExecutor(CLIENTS) as pool:
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
