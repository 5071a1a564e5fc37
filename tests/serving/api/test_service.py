"""The service in process (``to_asgi`` + TestClient): scores, validation, roles, audit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stratify.serving import store
from stratify.serving.api.audit_log import ERR_WRITE, AuditError, AuditLog
from stratify.serving.api.endpoints import card_path
from stratify.serving.api.guard import ERR_UNAUTHENTICATED
from stratify.serving.scoring import Scorer
from tests.serving import factory
from tests.serving.factory import MAX_BATCH, Service


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _audit(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_scores_and_reasons_equal_the_scorer(svc: Service, served_work: Path):
    client, tokens, audit_file = svc.client, svc.tokens, svc.audit_log
    records = factory.records("rereferral", 4, seed=21)
    body = {"target": "rereferral", "records": records.to_dict("records")}
    r = client.post("/score", json=body, headers=_auth(tokens["scorer"]))
    assert r.status_code == 200, r.text
    got = r.json()
    scorer = Scorer.from_store(served_work, "rereferral")
    p, bands = scorer.score(records)
    reasons = scorer.explain(records)
    assert [x["record_id"] for x in got["results"]] == list(records["record_id"])
    np.testing.assert_array_equal([x["probability"] for x in got["results"]], p)
    assert [x["band"] for x in got["results"]] == list(bands)
    assert [[y["text"] for y in x["reasons"]] for x in got["results"]] == [
        [y.text for y in rs] for rs in reasons
    ]
    assert {x["model_version"] for x in got["results"]} == {scorer.version}
    (line,) = _audit(audit_file)
    assert line["subject"] == "scorer subject" and line["status"] == 200
    assert line["record_ids"] == list(records["record_id"]) and line["target"] == "rereferral"
    assert line["model_version"] == scorer.version and line["latency_ms"] > 0
    text = audit_file.read_text()
    assert tokens["scorer"] not in text and "reasons" not in text and "age_months" not in text


def _one(target: str = "escalation", **change: object) -> dict:
    record = factory.records(target, 1, seed=22).to_dict("records")[0]
    return {"target": target, "records": [{**record, **change}]}


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [("/score", None, 401), ("/score", "bad", 401), ("/score", "reviewer", 403),
     ("/model", "scorer", 403), ("/model", None, 401), ("/model/card", "scorer", 403),
     ("/model/card", None, 401)],
)  # fmt: skip
def test_tokens_and_roles(svc: Service, path, role, status):
    client, tokens, audit_file = svc.client, svc.tokens, svc.audit_log
    headers = {} if role is None else _auth(tokens.get(role, "stk_0_0"))
    if path == "/score":
        r = client.post(path, json=_one(), headers=headers)
    else:
        r = client.get(path, params={"target": "escalation"}, headers=headers)
    assert r.status_code == status
    if status == 401:
        assert r.json() == {"error": ERR_UNAUTHENTICATED}
        assert r.headers["www-authenticate"] == "Bearer"
    (line,) = _audit(audit_file)
    assert line["status"] == status and line["endpoint"] == path
    assert line["request_id"] == r.headers["x-request-id"]


def test_health_and_the_documents_are_open_and_not_audited(svc: Service):
    client = svc.client
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    r = client.get("/docs.json")
    assert r.status_code == 200 and set(r.json()["paths"]) == {
        "/score",
        "/decisions",
        "/model",
        "/model/card",
    }
    assert client.get("/schema.json").status_code == 200
    assert svc.audit_log.read_text() == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [({"referrals_12m": -1}, "referrals_12m"), ({"age_months": 300}, "age_months"),
     ({"locality": "Nowhere"}, "locality"), ({"open_referral": "yes"}, "open_referral"),
     ({"favourite_colour": "red"}, "favourite_colour")],
)  # fmt: skip
def test_invalid_records_are_400_naming_record_and_field(svc: Service, change, field):
    client, tokens = svc.client, svc.tokens
    body = _one(**change)
    body["records"].insert(0, _one()["records"][0])
    r = client.post("/score", json=body, headers=_auth(tokens["scorer"]))
    assert r.status_code == 400
    assert [(d["record"], d["field"]) for d in r.json()["detail"]] == [(1, field)]


def test_bad_bodies_are_400(svc: Service):
    client, tokens = svc.client, svc.tokens
    h = _auth(tokens["scorer"])
    for body in ({"target": "escalation"}, {**_one(), "extra": 1}, {"target": "x", "records": []}):
        assert client.post("/score", json=body, headers=h).status_code == 400
    r = client.post("/score", json={"target": "nope", "records": []}, headers=h)
    assert r.json()["detail"][0]["field"] == "target"
    r = client.post("/score", json={"target": "escalation", "records": []}, headers=h)
    assert r.status_code == 400 and r.json()["detail"][0]["field"] == "records"
    json_type = {**h, "Content-Type": "application/json"}
    r = client.post("/score", content=b"{not json", headers=json_type)
    assert r.status_code == 400 and r.json()["detail"][0]["type"] == "json_invalid"
    for media in ("multipart/form-data", "text/plain", None):  # no boundary, none at all
        headers = {**h, "Content-Type": media} if media else h
        r = client.post("/score", content=b"{}", headers=headers)
        assert r.status_code == 415 and "application/json" in r.json()["error"]


def test_batches_over_the_limit_are_413(svc: Service):
    client, tokens = svc.client, svc.tokens
    records = factory.records("escalation", MAX_BATCH + 1).to_dict("records")
    r = client.post("/score", json={"target": "escalation", "records": records},
                    headers=_auth(tokens["scorer"]))  # fmt: skip
    assert r.status_code == 413 and f"limit is {MAX_BATCH}" in r.json()["error"]


def test_model_describes_the_champion_and_its_card(svc: Service, served_work: Path):
    client, tokens = svc.client, svc.tokens
    h = _auth(tokens["reviewer"])
    r = client.get("/model", params={"target": "escalation"}, headers=h)
    info = r.json()
    champion = store.read_pointers(served_work)["escalation"]
    assert r.status_code == 200 and info["model_version"] == champion.mlflow_version
    assert (info["bento_tag"], info["run_id"]) == (champion.tag, champion.run_id)
    assert info["training_period"] == {"start": "2019-03-31", "end": "2022-03-31"}
    assert info["verdicts"] == {"performance": "met", "fairness": "not recorded"}
    assert info["approval"]["approved_by"] == factory.APPROVER
    assert info["card"] is None and "no model card" in info["card_missing"]
    assert client.get("/model/card", params={"target": "escalation"}, headers=h).status_code == 404
    card = card_path(served_work, "escalation", info["model_version"])
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text("<html><body>card</body></html>")
    try:
        r = client.get("/model/card", params={"target": "escalation"}, headers=h)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert client.get("/model", params={"target": "escalation"}, headers=h).json()["card"]
    finally:
        card.unlink()
    assert client.get("/model", params={"target": "x"}, headers=h).status_code == 400


def test_an_unwritable_audit_log_fails_the_request(svc: Service, monkeypatch):
    def fail(self: AuditLog, **entry: object) -> None:
        raise AuditError(ERR_WRITE)

    monkeypatch.setattr(AuditLog, "write", fail)
    r = svc.client.post("/score", json=_one(), headers=_auth(svc.tokens["scorer"]))
    assert r.status_code == 503 and r.json() == {"error": ERR_WRITE}
    r = svc.client.get("/model", params={"target": "escalation"},
                       headers=_auth(svc.tokens["reviewer"]))  # fmt: skip
    assert r.status_code == 503 and "model_version" not in r.text
    assert r.headers["retry-after"] == "30"
    assert svc.client.get("/livez").status_code == 200
