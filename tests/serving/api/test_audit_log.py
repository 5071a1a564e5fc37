"""The audit log: one JSON line per request, known fields only, failures raised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stratify.serving.api.audit_log import ERR_WRITE, FIELDS, AuditError, AuditLog


def test_lines_hold_only_the_known_fields(audit_file):
    log = AuditLog(audit_file)
    log.write(request_id="r1", subject="s", endpoint="/score", record_ids=["a"], status=200,
              latency_ms=1.5, token="stk_secret", values={"age_months": 3})  # fmt: skip
    log.write(request_id="r2", endpoint="/model", status=401)
    lines = [json.loads(x) for x in audit_file.read_text().splitlines()]
    assert [x["request_id"] for x in lines] == ["r1", "r2"]
    assert all(list(x) == list(FIELDS) for x in lines)
    assert "stk_secret" not in audit_file.read_text()


def test_a_failed_write_raises(tmp_path):
    with pytest.raises(AuditError, match=ERR_WRITE):
        AuditLog(Path("/dev/full")).write(request_id="r", status=200)
    (tmp_path / "file").write_text("")
    with pytest.raises(AuditError):
        AuditLog(tmp_path / "file" / "log.jsonl").write(request_id="r", status=200)
