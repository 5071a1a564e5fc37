"""The audit log: one chained JSON line per request, known fields only, failures raised."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from stratify.serving.api.audit_bench import run
from stratify.serving.api.audit_log import (
    CHAIN_FIELDS,
    ERR_TAIL,
    ERR_WRITE,
    FIELDS,
    GENESIS,
    AuditError,
    AuditLog,
    key_id,
)
from stratify.serving.api.audit_verify import verify
from stratify.serving.settings import AUDIT_KEY_ENV, DEMO_KEY, ERR_KEY_SHORT, Settings, resolve_key
from tests.serving import factory


def test_lines_hold_only_the_known_fields(audit_file):
    log = AuditLog(audit_file)
    log.write(request_id="r1", subject="s", endpoint="/score", record_ids=["a"], status=200,
              latency_ms=1.5, token="stk_secret", values={"age_months": 3})  # fmt: skip
    log.write(request_id="r2", endpoint="/model", status=401)
    lines = [json.loads(x) for x in audit_file.read_text().splitlines()]
    assert [x["request_id"] for x in lines] == ["r1", "r2"]
    assert all(list(x) == [*FIELDS, *CHAIN_FIELDS] for x in lines)
    assert [x["seq"] for x in lines] == [0, 1]
    assert lines[0]["prev"] == GENESIS and lines[1]["prev"] == lines[0]["mac"]
    assert {x["key"] for x in lines} == {key_id(DEMO_KEY)}
    assert "stk_secret" not in audit_file.read_text()
    assert DEMO_KEY.decode() not in audit_file.read_text()


def test_a_failed_write_raises(tmp_path):
    with pytest.raises(AuditError, match=ERR_WRITE):
        AuditLog(Path("/dev/full")).write(request_id="r", status=200)
    (tmp_path / "file").write_text("")
    with pytest.raises(AuditError):
        AuditLog(tmp_path / "file" / "log.jsonl").write(request_id="r", status=200)


def test_a_damaged_last_line_stops_the_writer(audit_file):
    AuditLog(audit_file).write(request_id="r1", status=200)
    with audit_file.open("a") as f:
        f.write('{"time":"x","status":200}\n')
    with pytest.raises(AuditError, match=ERR_TAIL):
        AuditLog(audit_file).write(request_id="r2", status=200)


def test_the_key_comes_from_the_environment_and_stays_out_of_sight(tmp_path, audit_file):
    work = tmp_path / "work"
    env = {"STRATIFY_HOME": str(work), AUDIT_KEY_ENV: "k" * 32}
    settings = Settings.from_environment(env)
    assert settings.audit_key == b"k" * 32 and "k" * 32 not in repr(settings)
    assert settings.audit_rotation == "daily"
    assert Settings.from_environment({"STRATIFY_HOME": str(work)}).audit_key == DEMO_KEY
    with pytest.raises(ValueError, match=ERR_KEY_SHORT.replace("$", r"\$")):
        resolve_key("short")
    log = AuditLog.from_settings(settings)
    log.write(request_id="r1", status=200)
    assert log.path == work / "audit" / "requests.jsonl"
    assert "k" * 32 not in log.path.read_text()
    assert verify(log.path, settings.audit_key).problem is None
    assert verify(log.path, DEMO_KEY).problem is not None


def test_the_service_log_holds_no_feature_values_or_tokens_and_verifies(svc: factory.Service):
    records = factory.records("rereferral", 3, seed=31)
    auth = {"Authorization": f"Bearer {svc.tokens['scorer']}"}
    body = {"target": "rereferral", "records": records.to_dict("records")}
    assert svc.client.post("/score", json=body, headers=auth).status_code == 200
    bad = {"target": "rereferral", "records": [{**body["records"][0], "age_months": -5}]}
    assert svc.client.post("/score", json=bad, headers=auth).status_code == 400
    assert (
        svc.client.post(
            "/score", json=body, headers={"Authorization": "Bearer stk_1_x"}
        ).status_code
        == 401
    )
    text = svc.audit_log.read_text()
    lines = [json.loads(x) for x in text.splitlines()]
    assert len(lines) == 3 and all(list(x) == [*FIELDS, *CHAIN_FIELDS] for x in lines)
    assert all(t not in text for t in [*svc.tokens.values(), "stk_1_x"])
    features = [c for c in records.columns if c != "record_id"]
    assert not [c for c in features if f'"{c}"' in text]
    strings = {v for c in features for v in records[c] if isinstance(v, str) and len(v) > 2}
    assert not [v for v in strings if v in text]
    report = verify(svc.audit_log, DEMO_KEY)
    assert report.problem is None and report.lines == 3


def test_daily_rotation_starts_a_file_chained_to_yesterdays(audit_file):
    day = dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.UTC)
    clock = [day]
    log = AuditLog(audit_file, clock=lambda: clock[0])
    log.write(request_id="a")
    log.write(request_id="b")
    clock[0] = day + dt.timedelta(minutes=2)
    log.write(request_id="c")
    rotated = audit_file.with_name("requests.20260301T235900.000Z.jsonl")
    assert [json.loads(x)["request_id"] for x in rotated.read_text().splitlines()] == ["a", "b"]
    (first,) = [json.loads(x) for x in audit_file.read_text().splitlines()]
    assert first["request_id"] == "c" and first["seq"] == 2
    assert first["prev"] == json.loads(rotated.read_text().splitlines()[-1])["mac"]
    report = verify(audit_file, DEMO_KEY)
    assert report.problem is None and report.lines == 3 and report.files == (rotated, audit_file)


def test_a_log_from_before_the_chain_is_moved_aside_once(audit_file):
    audit_file.parent.mkdir(parents=True)
    old = '{"time":"2026-12-01T10:00:00.000+00:00","request_id":"old","status":200}\n'
    audit_file.write_text(old * 2)
    AuditLog(audit_file).write(request_id="new")
    (moved,) = audit_file.parent.glob("unchained-*")
    assert moved.read_text() == old * 2
    assert json.loads(audit_file.read_text())["seq"] == 0
    with audit_file.open("a") as f:  # an unchained line appended to a chain is no excuse
        f.write(old)
    with pytest.raises(AuditError, match=ERR_TAIL):
        AuditLog(audit_file).write(request_id="newer")
    assert verify(audit_file, DEMO_KEY).problem.line == 2


def test_the_benchmark_runs():
    results = run(20)
    assert len(results) == 3 and all(v > 0 for v in results.values())
