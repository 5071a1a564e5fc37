"""The serving part of ``stratify demo``: champions, the demo token, the example, the lists."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl

from stratify.core.targets import TARGETS
from stratify.features.config import Config
from stratify.serving import demo, store
from stratify.serving.api.auth import TokenStore
from stratify.serving.api.schema import record_model, validate_records
from stratify.serving.outreach.cohort import known_localities
from stratify.serving.outreach.excel import LIST_SHEET
from stratify.serving.scoring import Scorer
from stratify.serving.settings import Settings
from tests.serving import factory


def test_import_champions_says_which_targets_have_none(champion: tuple[Config, int]):
    cfg, version = champion
    imported = demo.import_champions(cfg)
    assert imported.champions["escalation"].mlflow_version == version
    assert set(imported.missing) == {"rereferral"}
    assert "stratify-rereferral has no champion" in imported.missing["rereferral"]
    assert set(store.read_pointers(cfg.work_dir)) == {"escalation"}


def test_the_demo_token_replaces_the_previous_one(tmp_path: Path):
    cfg = factory.config(tmp_path)
    first, second = demo.demo_token(cfg), demo.demo_token(cfg)
    tokens = TokenStore(Settings.from_config(cfg).tokens_file)
    assert tokens.authenticate(f"Bearer {first}") is None
    who = tokens.authenticate(f"Bearer {second}")
    assert who is not None and who.roles == set(demo.DEMO_ROLES)


def test_the_example_request_validates_and_the_instructions_use_it(served_work: Path):
    cfg = factory.config(served_work)
    for target in TARGETS:
        path = demo.write_example_request(cfg, target)
        body = json.loads(path.read_text())
        scorer = Scorer.from_store(served_work, target)
        model = record_model(target, scorer.columns, scorer.metadata["categories"])
        assert body["target"] == target and validate_records(model, body["records"])[1] == []
    lines = demo.service_instructions("stk_a_b", path, "rereferral", Path("c.yaml"))
    assert "  stratify serve --config c.yaml" in lines
    assert any(f"-d @{path}" in x and "Bearer stk_a_b" in x for x in lines)
    assert any("/model?target=rereferral" in x for x in lines)


def test_demo_writes_the_borough_list_and_one_per_locality(champion: tuple[Config, int]):
    cfg, _ = champion
    outcomes = demo.write_demo_outreach(cfg)
    folder = cfg.work_dir / "outreach" / "2025-01-01"
    localities = known_localities(cfg.work_dir / "warehouse.duckdb")
    assert [o.outreach.locality for o in outcomes] == [None, *localities]
    assert {p.name for p in folder.iterdir()} == {
        f"outreach-{n}.{x}" for n in ["all", *(s.lower() for s in localities)]
        for x in ("xlsx", "html")
    }  # fmt: skip
    assert {o.workbook for o in outcomes} | {o.page for o in outcomes} == set(folder.iterdir())
    borough = outcomes[0].outreach
    capacity = cfg.training.capacity["escalation"].families_per_quarter
    assert borough.capacity == capacity
    assert len(borough.families) == min(capacity, borough.eligible_families)
    # each locality's list is its part of the borough's list, the list the card describes
    parts = sorted(f for o in outcomes[1:] for f in o.outreach.families["family"])
    assert parts == sorted(borough.families["family"])
    listed = len(openpyxl.load_workbook(folder / "outreach-all.xlsx")[LIST_SHEET]["A"]) - 1
    assert listed >= capacity  # one row per child of the listed families
