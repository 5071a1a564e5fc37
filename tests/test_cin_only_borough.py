"""A council with only its CIN census returns: it loads, trains and its card says what is missing.

The census has no household links, addresses, early help, care episodes or agency
contacts. The build leaves out every feature that needs one of them, training runs on
the rest, and the card, the model metadata and the feature table's metadata name the
unavailable groups with the reason.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stratify.cli import app
from stratify.features.catalogue import features_for
from stratify.features.sources import feature_sources
from stratify.features.warehouse.cin_load import SOURCES_ABSENT
from tests.borough import SMALL, write_config

runner = CliRunner()


@pytest.mark.slow
def test_cin_only_borough_trains_and_its_card_states_the_missing_groups(
    shared_borough: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRATIFY_PSEUDONYM_KEY", raising=False)  # the returns are synthetic
    home = tmp_path / "work"
    shutil.copytree(shared_borough / "sim" / "cin_xml", home / "returns")
    quick = {"training": {**SMALL["training"], "n_boot": 50}, "audit": {"n_boot": 50}}
    config = str(write_config(home, quick))
    steps = [
        ["load", "--cin-xml", str(home / "returns"), "--config", config],
        ["features", "--target", "rereferral", "--config", config],
        ["train", "--target", "rereferral", "--config", config],
    ]
    for args in steps:
        out = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert out.exit_code == 0, f"{args[0]}: {out.output}"
    meta = json.loads((home / "features" / "rereferral" / "metadata.json").read_text())
    # every feature needing an absent table is gone, every other one is kept (checked
    # against the declarations, not against the build's own list)
    needs_absent = {
        f.name for f in features_for("rereferral") if feature_sources(f) & set(SOURCES_ABSENT)
    }
    assert needs_absent and set(meta["features"]).isdisjoint(needs_absent)
    assert set(meta["features"]) | needs_absent == {f.name for f in features_for("rereferral")}
    assert {g["source"] for g in meta["unavailable"]} <= set(SOURCES_ABSENT)
    assert {"household_members", "early_help", "agency_events"} <= {
        g["source"] for g in meta["unavailable"]
    }
    [card] = (home / "model_cards" / "rereferral").glob("v*/model_card.md")
    text = card.read_text()
    assert "Feature groups unavailable in this council's records" in text
    for group in meta["unavailable"]:
        assert f"{group['group']} features that need {group['source']}" in text
        assert group["reason"] in text
