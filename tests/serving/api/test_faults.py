"""Faults fail closed: no score without an audit line, no start without whole models,
no import from a registry that cannot be read, no request without readable tokens, and
in-flight requests finish on SIGTERM with the chain intact."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from stratify.serving import store
from stratify.serving.api import auth
from stratify.serving.api.audit_log import ERR_WRITE
from stratify.serving.api.audit_verify import verify
from stratify.serving.api.auth import ERR_TOKENS_UNREADABLE, add_token
from stratify.serving.api.endpoints import ServingError, load_served
from stratify.serving.settings import DEMO_KEY
from tests.serving import factory
from tests.serving.api import server
from tests.serving.factory import Service

pytestmark = pytest.mark.filterwarnings("ignore:There is no current event loop:DeprecationWarning")
runner = CliRunner()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _body(n: int = 1, seed: int = 5) -> dict:
    return {
        "target": "escalation",
        "records": factory.records("escalation", n, seed).to_dict("records"),
    }


@pytest.mark.parametrize("fault", ["full disk", "unwritable"])
def test_an_audit_log_that_cannot_be_written_gives_503_and_no_score(svc: Service, fault):
    """/dev/full fails every write with ENOSPC, as a full disk does; a directory in the
    log's place cannot be opened for writing. Once the fault clears, the chain continues."""
    log = svc.audit_log
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    if fault == "full disk":
        log.symlink_to("/dev/full")
    else:
        log.mkdir()
    try:
        for _ in range(2):
            r = svc.client.post("/score", json=_body(), headers=_auth(svc.tokens["scorer"]))
            assert r.status_code == 503 and r.json() == {"error": ERR_WRITE}
            assert "probability" not in r.text and r.headers["retry-after"] == "30"
        r = svc.client.get("/model", params={"target": "escalation"},
                           headers=_auth(svc.tokens["reviewer"]))  # fmt: skip
        assert r.status_code == 503 and "model_version" not in r.text
    finally:
        log.unlink() if log.is_symlink() else log.rmdir()
    r = svc.client.post("/score", json=_body(), headers=_auth(svc.tokens["scorer"]))
    assert r.status_code == 200
    (line,) = [json.loads(x) for x in log.read_text().splitlines()]
    assert line["status"] == 200
    assert verify(log, DEMO_KEY).problem is None


def test_an_unreadable_tokens_file_accepts_no_request(svc: Service, monkeypatch):
    tokens_file = svc.audit_log.parent.parent / "tokens.json"
    good = tokens_file.read_text()
    monkeypatch.setattr(auth, "RELOAD_SECONDS", 0.0)
    tokens_file.write_text('{"tokens": [')  # cut short, as by a failed copy
    try:
        for path, role in (("/score", "scorer"), ("/model", "reviewer")):
            r = (svc.client.post(path, json=_body(), headers=_auth(svc.tokens[role]))
                 if path == "/score" else
                 svc.client.get(path, params={"target": "escalation"},
                                headers=_auth(svc.tokens[role])))  # fmt: skip
            assert r.status_code == 503 and r.json() == {"error": ERR_TOKENS_UNREADABLE}
        assert svc.client.post("/score", json=_body()).status_code == 503
        assert svc.client.get("/livez").status_code == 200
    finally:
        tokens_file.write_text(good)
    r = svc.client.post("/score", json=_body(), headers=_auth(svc.tokens["scorer"]))
    assert r.status_code == 200
    statuses = [json.loads(x)["status"] for x in svc.audit_log.read_text().splitlines()]
    assert statuses == [503, 503, 503, 200]


def _copy_store(served_work: Path, to: Path) -> Path:
    for part in ("bentoml", "serving"):
        shutil.copytree(served_work / part, to / part, symlinks=True)
    return to


def _serve(work: Path) -> object:
    from stratify.cli import app

    config = factory.write_config(work / "config.yaml", work)
    return runner.invoke(app, ["serve", "--config", str(config)])


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_damaged_model_in_the_store_stops_start_up(served_work: Path, tmp_path: Path, damage):
    work = _copy_store(served_work, tmp_path)
    tag = store.read_pointers(work)["escalation"].tag
    folder = store.store_home(work) / "models" / tag.replace(":", "/")
    if damage == "missing":
        shutil.rmtree(folder)
        expected = f"the escalation champion {tag} is recorded in"
    else:
        skops = folder / store.MODEL_FOLDER / "model.skops"
        skops.write_bytes(skops.read_bytes()[:100])
        expected = f"the escalation champion {tag} in the BentoML store"
    with pytest.raises(ServingError, match=expected):  # what each worker does at start
        load_served(work)
    result = _serve(work)  # stratify serve refuses before starting bentoml
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert expected in message and "stratify import-model --target escalation" in message
    assert "Serving on" not in result.stdout


def test_an_unreachable_registry_leaves_the_served_champion_unchanged(
    served_work: Path, tmp_path: Path, monkeypatch
):
    from stratify.cli import app

    work = _copy_store(served_work, tmp_path)
    pointers = (work / store.POINTERS).read_bytes()
    models = sorted(p.name for p in (store.store_home(work) / "models").iterdir())
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    uri = f"http://127.0.0.1:{server.free_port()}"  # nobody listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = factory.write_config(work / "config.yaml", work)
    result = runner.invoke(app, ["import-model", "--target", "escalation", "--config", str(config)])
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert f"the MLflow registry at {uri} could not be used" in message
    assert "the served champion is unchanged" in message and "Traceback" not in result.output
    assert (work / store.POINTERS).read_bytes() == pointers
    assert sorted(p.name for p in (store.store_home(work) / "models").iterdir()) == models


def test_sigterm_lets_in_flight_requests_finish_and_the_chain_stays_whole(
    served_work: Path, tmp_path: Path
):
    tokens, audit = tmp_path / "tokens.json", tmp_path / "requests.jsonl"
    config = factory.write_config(tmp_path / "config.yaml", served_work, tokens_file=str(tokens),
                                  audit_log=str(audit))  # fmt: skip
    token, _ = add_token(tokens, "sigterm test", ["scorer"])
    proc = server.start(served_work, config, workers=1)
    url = server.wait_ready(proc)
    # each takes long enough (TreeSHAP for 400 records) to be in flight at the signal
    big = json.dumps(_body(400, seed=9)).encode()
    headers = {**_auth(token), "Content-Type": "application/json"}

    def call(_: int) -> tuple[int | str, float]:
        with httpx.Client(timeout=60) as c:
            try:
                status: int | str = c.post(f"{url}/score", content=big, headers=headers).status_code
            except httpx.HTTPError as err:
                status = repr(err)
        return status, time.monotonic()

    try:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(call, i) for i in range(4)]
            # the worker scores them one at a time: once the first is answered, the
            # others are in flight (a fixed sleep could outlast all four on a fast machine)
            wait(futures, timeout=60, return_when=FIRST_COMPLETED)
            os.killpg(proc.pid, signal.SIGTERM)
            signalled = time.monotonic()
            results = [f.result() for f in futures]
        assert proc.wait(timeout=60) is not None
    finally:
        server.stop(proc)
    assert [status for status, _ in results] == [200] * 4
    assert max(done for _, done in results) > signalled  # some were still in flight
    report = verify(audit, DEMO_KEY)
    assert report.problem is None, str(report.problem)
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [x["status"] for x in lines if x["endpoint"] == "/score"] == [200] * 4
