"""Promotion's gates, on a real MLflow registry in ``tmp_path`` (a bare model version).

A failed verdict (performance, or fairness not met) needs an override reason; a fairness
verdict of "not assessable" needs its own acknowledgement, which an override does not
replace. Both are recorded as tags on the version.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stratify.cli import app
from stratify.features.config import Config, load_config
from stratify.training import tracking

TARGET = "escalation"


#: Each version's tags before promotion; every test promotes its own version.
VERSIONS = {
    1: {"verdict": "met", "fairness_verdict": "not assessable"},
    2: {"verdict": "not met", "fairness_verdict": "not assessable"},
    3: {"verdict": "met", "fairness_verdict": "not met"},
    4: {"verdict": "met", "fairness_verdict": "met"},
    5: {"verdict": "met", "fairness_verdict": "not assessable"},
}


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    home = tmp_path_factory.mktemp("registry")
    cfg = load_config(None).model_copy(update={"home": home})
    name = tracking.model_name(TARGET)
    client = tracking.connect(cfg)
    client.create_registered_model(name)
    source = home / "model"
    source.mkdir()
    for version, tags in VERSIONS.items():
        client.create_model_version(name, source=source.as_uri())
        tracking.set_version_tags(cfg, TARGET, version, tags)
    return cfg


def test_not_assessable_needs_an_acknowledgement_not_an_override(cfg):
    for override in (None, "pilot"):
        with pytest.raises(PermissionError, match="--acknowledge-unassessable") as err:
            tracking.promote(cfg, TARGET, 1, approved_by="A", reason="r", override_reason=override)
        assert "--override-reason" not in str(err.value)
    assert "approved_by" not in tracking.version_info(cfg, TARGET, 1)["tags"]
    tags = tracking.promote(
        cfg, TARGET, 1, approved_by="A", reason="r",
        acknowledge_unassessable="small groups reviewed by hand",
    )  # fmt: skip
    got = tracking.version_info(cfg, TARGET, 1)["tags"]
    assert got[tracking.UNASSESSABLE_TAG] == "small groups reviewed by hand"
    assert tags[tracking.UNASSESSABLE_TAG] == got[tracking.UNASSESSABLE_TAG]
    assert "override_reason" not in got
    assert tracking.alias_version(cfg, TARGET, tracking.CHAMPION) == 1


def test_both_failed_and_unassessable_need_both_reasons(cfg):
    with pytest.raises(PermissionError, match="verdict=not met.*acknowledge-unassessable"):
        tracking.promote(cfg, TARGET, 2, approved_by="A", reason="r")
    with pytest.raises(PermissionError, match="acknowledge-unassessable") as err:
        tracking.promote(cfg, TARGET, 2, approved_by="A", reason="r", override_reason="o")
    assert "override-reason" not in str(err.value)
    tags = tracking.promote(
        cfg, TARGET, 2, approved_by="A", reason="r", override_reason="o",
        acknowledge_unassessable="k",
    )  # fmt: skip
    assert (tags["override_reason"], tags[tracking.UNASSESSABLE_TAG]) == ("o", "k")


def test_fairness_not_met_needs_an_override(cfg):
    with pytest.raises(PermissionError, match="fairness_verdict=not met.*--override-reason"):
        tracking.promote(cfg, TARGET, 3, approved_by="A", reason="r", acknowledge_unassessable="k")
    tags = tracking.promote(cfg, TARGET, 3, approved_by="A", reason="r", override_reason="o")
    assert tracking.UNASSESSABLE_TAG not in tags


def test_met_needs_no_reason(cfg):
    tags = tracking.promote(cfg, TARGET, 4, approved_by="A", reason="r")
    assert "override_reason" not in tags and tracking.UNASSESSABLE_TAG not in tags


def test_cli_takes_the_acknowledgement(cfg, monkeypatch):
    monkeypatch.setenv("STRATIFY_HOME", str(cfg.home))
    args = ["promote", "--target", TARGET, "--version", "5", "--approved-by", "A", "--reason", "r"]
    runner = CliRunner()
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "acknowledge-unassessable" in refused.output
    done = runner.invoke(app, [*args, "--acknowledge-unassessable", "reviewed"])
    assert done.exit_code == 0, done.output
    assert "unassessable fairness checks acknowledged" in done.output
    assert tracking.version_info(cfg, TARGET, 5)["tags"][tracking.UNASSESSABLE_TAG] == "reviewed"
    assert tracking.alias_version(cfg, TARGET, tracking.CHAMPION) == 5
