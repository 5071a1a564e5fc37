"""`stratify retrain` refuses an unusable extract and then changes nothing.

A champion of each target is registered (a small real model, tests/serving/factory.py)
beside a copy of the small borough's warehouse; each bad extract is a copy of the
borough's own extract with one thing wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from stratify.features.config import load_config
from stratify.features.warehouse.ingest import ExtractInvalid
from stratify.retrain import (
    ERR_COUNCIL,
    ERR_NOT_NEWER,
    RetrainError,
    check_extract,
    retrain,
)
from stratify.training import tracking
from stratify.training.policy import load_policy
from tests.borough import copy_borough
from tests.serving.factory import register, skip_requirement_inference


@pytest.fixture(scope="module")
def home(shared_borough, tmp_path_factory):
    root = tmp_path_factory.mktemp("retrain")
    copy_borough(shared_borough, root)
    with pytest.MonkeyPatch.context() as mp:
        skip_requirement_inference(mp)
        for target in ("escalation", "rereferral"):
            register(root, target, rows=800, trees=10)
    return root


def _extract(home: Path, name: str, date: str, **meta) -> Path:
    dst = home / name / "extract"
    shutil.rmtree(dst.parent, ignore_errors=True)
    shutil.copytree(home / "sim" / "extract", dst)
    data = json.loads((dst / "extract.json").read_text()) | {"extract_date": date, **meta}
    (dst / "extract.json").write_text(json.dumps(data))
    return dst


def _state(home: Path) -> tuple:
    """Everything a refused retrain must leave as it was."""
    cfg = load_config(home / "stratify.yaml")
    digest = hashlib.sha256((home / "warehouse.duckdb").read_bytes()).hexdigest()
    versions = {t: tracking.alias_version(cfg, t, "champion") for t in ("escalation", "rereferral")}
    count = len(tracking.connect(cfg).search_model_versions("name='stratify-escalation'"))
    kept = (
        sorted(p.name for p in (home / "warehouses").glob("*"))
        if (home / "warehouses").exists()
        else []
    )
    return digest, versions, count, kept


def _refused(home: Path, src: Path, error: type[Exception], match: str) -> Exception:
    cfg = load_config(home / "stratify.yaml")
    before = _state(home)
    with pytest.raises(error, match=re.escape(match)) as err:
        retrain(cfg, src, load_policy(None), ("escalation", "rereferral"), say=lambda _: None)
    assert _state(home) == before
    return err.value


def test_an_extract_not_newer_than_the_warehouse_is_refused(home):
    for date in ("2025-03-31", "2024-12-31"):
        src = _extract(home, "old", date)
        message = ERR_NOT_NEWER.format(new=date, current="2025-03-31")
        _refused(home, src, RetrainError, message.split(":")[0])


def test_another_councils_extract_is_refused(home):
    cfg = load_config(home / "stratify.yaml")
    src = _extract(home, "other", "2025-06-30", la_code="999")
    # the warehouse records no authority: only the pseudonyms can tell
    assert check_extract(cfg, src)[0].isoformat() == "2025-06-30"
    for table in src.glob("*.csv"):  # every person renamed: nobody found again
        frame = pd.read_csv(table, dtype=str, keep_default_na=False)
        for column in [c for c in frame.columns if c == "person_id"]:
            frame[column] = "X" + frame[column]
        frame.to_csv(table, index=False)
    _refused(home, src, RetrainError, "0% of the current warehouse's people")
    assert ERR_COUNCIL.startswith("the extract is from local authority")


def test_a_schema_change_is_refused(home):
    src = _extract(home, "schema", "2025-06-30")
    referrals = pd.read_csv(src / "referrals.csv", dtype=str, keep_default_na=False)
    referrals.drop(columns=["closure_reason"]).to_csv(src / "referrals.csv", index=False)
    err = _refused(home, src, ExtractInvalid, "nothing was loaded")
    assert any("closure_reason" in str(v) for v in err.violations)


def test_promotion_without_a_named_approver_is_refused(home):
    cfg = load_config(home / "stratify.yaml")
    for approver, reason in (("", "ok"), ("  ", "ok"), ("A. Lead", "")):
        with pytest.raises(PermissionError, match="named approver"):
            tracking.promote(cfg, "escalation", 1, approved_by=approver, reason=reason)
