"""The service over real HTTP: ``bentoml.serve``, ``SyncHTTPClient`` and a real token.

The server gets the environment ``stratify serve`` gives ``bentoml serve`` (one worker).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import bentoml
import numpy as np
import pytest

from stratify.serving.api.auth import add_token
from stratify.serving.cli import serve_env
from stratify.serving.scoring import Scorer
from stratify.serving.settings import SERVICE, TOKENS_ENV
from tests.serving import factory

ROOT = Path(__file__).resolve().parents[2]
#: circus (BentoML's process manager) asks tornado for a loop outside one
pytestmark = pytest.mark.filterwarnings("ignore:There is no current event loop:DeprecationWarning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(served_work: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    here = tmp_path_factory.mktemp("http")
    tokens, audit = here / "tokens.json", here / "requests.jsonl"
    config = factory.write_config(here / "config.yaml", served_work, tokens_file=str(tokens),
                                  audit_log=str(audit))  # fmt: skip
    token, _ = add_token(tokens, "integration test", ["scorer", "reviewer"])
    port = _free_port()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in serve_env({}, served_work, config, workers=1).items():
            mp.setenv(key, value)
        mp.delenv(TOKENS_ENV, raising=False)
        srv = bentoml.serve(SERVICE, port=port, working_dir=str(ROOT))
        try:
            with bentoml.SyncHTTPClient(
                f"http://127.0.0.1:{port}", token=token, server_ready_timeout=90
            ) as client:
                yield {"client": client, "token": token, "audit": audit, "url": client.url}
            # SyncHTTPClient.close() leaves its temporary folder to the garbage collector
            client._temp_dir.cleanup()
        finally:
            srv.stop()


def test_score_over_http_matches_the_scorer(server, served_work):
    records = factory.records("escalation", 25, seed=31)  # > INLINE_RECORDS: the thread path
    got = server["client"].score(target="escalation", records=records.to_dict("records"))
    p, bands = Scorer.from_store(served_work, "escalation").score(records)
    np.testing.assert_array_equal([r["probability"] for r in got["results"]], p)
    assert [r["band"] for r in got["results"]] == list(bands)
    assert all(len(r["reasons"]) <= 3 for r in got["results"])


def test_model_metrics_health_and_audit_over_http(server):
    client = server["client"]
    # self-contained: with xdist, the scoring test may run against another worker's server
    client.score(target="escalation", records=factory.records("escalation", 1).to_dict("records"))
    r = client.request("GET", "/model", params={"target": "rereferral"})
    assert r.status_code == 200 and r.json()["target"] == "rereferral"
    anonymous = client.client.get("/score")  # no auth header: httpx with the client's base url
    assert anonymous.status_code in (401, 405)
    r = client.client.post("/score", json={"target": "escalation", "records": []},
                           headers={"Authorization": "Bearer stk_x_y"})  # fmt: skip
    assert r.status_code == 401
    for path in ("/livez", "/readyz"):
        assert client.client.get(path, headers={"Authorization": ""}).status_code == 200
    metrics = client.client.get("/metrics", headers={"Authorization": ""})
    assert metrics.status_code == 200
    assert "bentoml_service_request_total{" in metrics.text and 'endpoint="/score"' in metrics.text
    lines = [json.loads(x) for x in server["audit"].read_text().splitlines()]
    by_endpoint = {(x["endpoint"], x["status"]) for x in lines}
    assert {("/schema.json", 200), ("/model", 200), ("/score", 401)} <= by_endpoint
    scored = [x for x in lines if x["endpoint"] == "/score" and x["status"] == 200]
    assert scored and scored[0]["subject"] == "integration test"
    assert server["token"] not in server["audit"].read_text()
