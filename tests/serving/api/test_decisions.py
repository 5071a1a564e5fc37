"""``POST /decisions`` in process: checks, roles, idempotence and the audit log.

A hand-built list of four families (ranks 1-4) is recorded in the served work
directory's decisions database; each refused call must leave its history as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from stratify.features.decisions import DECISIONS, DecisionStore, ListRecord
from tests.serving.factory import Service

FAMILIES = [(1, "fam-a", "North"), (2, "fam-b", "North"), (3, "fam-c", "South"),
            (4, "fam-d", "South")]  # fmt: skip


@pytest.fixture(scope="module")
def listed(served_work: Path) -> ListRecord:
    record = ListRecord.build(dt.date(2024, 1, 1), None, 3, FAMILIES)
    kids = pd.DataFrame({"family": [f for _, f, _ in FAMILIES],
                         "child": [f"kid-{f}" for _, f, _ in FAMILIES],
                         "ethnic_group": "White", "sex": "F", "has_disability": False,
                         "age_band": "5-9", "imd_quintile": 1, "locality": "North"})  # fmt: skip
    DecisionStore.in_work(served_work).register(record, kids)
    return record


def _post(svc: Service, body: dict, role: str = "decisions"):
    return svc.client.post("/decisions", json=body,
                           headers={"Authorization": f"Bearer {svc.tokens[role]}"})  # fmt: skip


def _body(record: ListRecord, *rows: tuple[int, str, str], version: int | None = None) -> dict:
    return {"list_id": record.list_id, "model_version": version or record.model_version,
            "decisions": [{"rank": r, "family": f, "decision": d} for r, f, d in rows]}  # fmt: skip


def _history(served_work: Path, record: ListRecord) -> pd.DataFrame:
    return DecisionStore.in_work(served_work).history(record.list_id)


def test_records_once_and_audits(svc: Service, listed: ListRecord, served_work: Path) -> None:
    body = _body(listed, (1, "fam-a", DECISIONS[0]), (3, "fam-c", DECISIONS[3]))
    before = len(_history(served_work, listed))
    first = _post(svc, body)
    assert first.status_code == 200, first.text
    assert first.json()["families_on_list"] == 4 and first.json()["received"] == 2
    again = _post(svc, body)
    assert again.status_code == 200 and again.json()["recorded"] == 0
    assert again.json()["unchanged"] == 2
    history = _history(served_work, listed)
    assert len(history) - before == first.json()["recorded"]
    assert set(history["source"]) == {"api"}
    assert set(history["submitted_by"]) == {"decisions subject"}
    lines = [json.loads(x) for x in svc.audit_log.read_text().splitlines()]
    assert len(lines) == 2 and all(x["endpoint"] == "/decisions" for x in lines)
    assert lines[0]["list_id"] == listed.list_id and lines[0]["record_ids"] == ["fam-a", "fam-c"]
    assert lines[0]["model_version"] == 3 and lines[0]["status"] == 200


BAD = {
    "unknown list": ({"list_id": "L20240101-v3-ffffffffffff"}, 404, "list_id", "unknown list id"),
    "other version": ({"model_version": 4}, 400, "model_version", "model version 3, not 4"),
    "edited rank": ({"decisions": [{"rank": 2, "family": "fam-a", "decision": DECISIONS[1]}]},
                    400, "decisions[0].rank", "ranks must not change"),
    "not listed": ({"decisions": [{"rank": 1, "family": "fam-z", "decision": DECISIONS[1]}]},
                   400, "decisions[0].family", "is not on list"),
    "duplicate": ({"decisions": [{"rank": 1, "family": "fam-a", "decision": DECISIONS[1]},
                                 {"rank": 1, "family": "fam-a", "decision": DECISIONS[2]}]},
                  400, "decisions[1].family", "appears again"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_calls_record_nothing(
    case: str, svc: Service, listed: ListRecord, served_work: Path
) -> None:
    change, status, field, text = BAD[case]
    body = {**_body(listed, (2, "fam-b", DECISIONS[4])), **change}
    before = len(_history(served_work, listed))
    r = _post(svc, body)
    assert r.status_code == status, r.text
    assert any(p["field"] == field and text in p["problem"] for p in r.json()["detail"]), r.json()
    assert len(_history(served_work, listed)) == before
    (line,) = [json.loads(x) for x in svc.audit_log.read_text().splitlines()]
    assert line["status"] == status and line["endpoint"] == "/decisions"


def test_value_outside_the_drop_down_and_roles(
    svc: Service, listed: ListRecord, served_work: Path
) -> None:
    before = len(_history(served_work, listed))
    r = _post(svc, _body(listed, (2, "fam-b", "phoned twice")))
    assert r.status_code == 400 and "decision" in r.text
    assert _post(svc, _body(listed, (2, "fam-b", DECISIONS[4])), role="scorer").status_code == 403
    assert len(_history(served_work, listed)) == before
    assert len(svc.audit_log.read_text().splitlines()) == 2
