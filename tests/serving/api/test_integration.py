"""The service over real HTTP: ``bentoml serve`` (one worker), httpx and a real token.

The server gets the environment ``stratify serve`` gives ``bentoml serve``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from stratify.serving.api.auth import add_token
from stratify.serving.scoring import Scorer
from tests.serving import factory
from tests.serving.api.server import serving

#: circus (BentoML's process manager) asks tornado for a loop outside one
pytestmark = pytest.mark.filterwarnings("ignore:There is no current event loop:DeprecationWarning")


@pytest.fixture(scope="module")
def server(served_work: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    here = tmp_path_factory.mktemp("http")
    tokens, audit = here / "tokens.json", here / "requests.jsonl"
    config = factory.write_config(here / "config.yaml", served_work, tokens_file=str(tokens),
                                  audit_log=str(audit))  # fmt: skip
    token, _ = add_token(tokens, "integration test", ["scorer", "reviewer"])
    with (
        serving(served_work, config) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield {"client": client, "token": token, "audit": audit}


def _auth(server: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {server['token']}"}


def test_score_over_http_matches_the_scorer(server, served_work):
    records = factory.records("escalation", 25, seed=31)  # > INLINE_RECORDS: the thread path
    body = {"target": "escalation", "records": records.to_dict("records")}
    r = server["client"].post("/score", json=body, headers=_auth(server))
    assert r.status_code == 200, r.text
    got = r.json()
    p, bands = Scorer.from_store(served_work, "escalation").score(records)
    np.testing.assert_array_equal([x["probability"] for x in got["results"]], p)
    assert [x["band"] for x in got["results"]] == list(bands)
    assert all(len(x["reasons"]) <= 3 for x in got["results"])


def test_model_metrics_health_and_audit_over_http(server):
    client = server["client"]
    # self-contained: with xdist, the scoring test may run against another worker's server
    one = {"target": "escalation", "records": factory.records("escalation", 1).to_dict("records")}
    assert client.post("/score", json=one, headers=_auth(server)).status_code == 200
    r = client.get("/model", params={"target": "rereferral"}, headers=_auth(server))
    assert r.status_code == 200 and r.json()["target"] == "rereferral"
    assert client.get("/score", headers=_auth(server)).status_code == 405
    r = client.post("/score", json={"target": "escalation", "records": []},
                    headers={"Authorization": "Bearer stk_x_y"})  # fmt: skip
    assert r.status_code == 401
    for path in ("/livez", "/readyz", "/docs.json"):
        assert client.get(path).status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "bentoml_service_request_total{" in metrics.text and 'endpoint="/score"' in metrics.text
    lines = [json.loads(x) for x in server["audit"].read_text().splitlines()]
    by_endpoint = {(x["endpoint"], x["status"]) for x in lines}
    assert {("/score", 405), ("/model", 200), ("/score", 401)} <= by_endpoint
    scored = [x for x in lines if x["endpoint"] == "/score" and x["status"] == 200]
    assert scored and scored[0]["subject"] == "integration test"
    assert server["token"] not in server["audit"].read_text()
