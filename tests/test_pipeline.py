"""The whole demo pipeline on the small borough, then the walkthrough notebook on its run.

This is what CI has in place of ``make demo``: the same stages in the same order,
so a broken demo breaks the build.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from typer.testing import CliRunner

from stratify.cli import app
from stratify.features.config import load_config
from stratify.training import tracking

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_home(shared_borough, tmp_path_factory):
    from tests.borough import copy_borough

    home = tmp_path_factory.mktemp("demo")
    config = copy_borough(shared_borough, home)
    first = runner.invoke(app, ["demo", "--config", str(config)])
    assert first.exit_code == 0, first.output
    return home, config, first.output


def test_demo_trains_audits_promotes_and_serves_both_targets(demo_home):
    home, _, output = demo_home
    for target in ("escalation", "rereferral"):
        version = tracking.alias_version(load_config(home / "stratify.yaml"), target, "champion")
        assert version in (1, 2)  # 2 when the next quarter's report recommended it
        tags = tracking.version_info(load_config(home / "stratify.yaml"), target, version)["tags"]
        assert tags["approved_by"].startswith("Demo Approver")
        assert tags["fairness_verdict"] in ("met", "not met", "not assessable")
        card = home / "model_cards" / target / f"v{version}"
        html = (card / "model_card.html").read_text()
        assert "data:image/png;base64," in html and 'src="http' not in html
        assert json.loads((card / "atrs.json").read_text())
        assert f"stratify-{target} v1" in output
    # the first quarter's lists, then the next quarter's after the retrain
    for day in ("2025-01-01", "2025-04-01"):
        lists = sorted(p.name for p in (home / "outreach" / day).glob("outreach-*.xlsx"))
        assert lists == ["outreach-all.xlsx", "outreach-central.xlsx", "outreach-north.xlsx",
                         "outreach-south.xlsx"]  # fmt: skip
        assert len(list((home / "outreach" / day).glob("outreach-*.html"))) == 4
    assert "Verdict against the bar" in output
    assert "curl -s -X POST http://127.0.0.1:3000/score" in output
    assert "stratify serve" in output


def test_the_demo_retrains_on_the_next_quarter_and_acts_on_the_report(demo_home):
    home, _, output = demo_home
    assert "- simulate-next-quarter: done" in output
    assert "- retrain-next-quarter: done" in output
    for target in ("escalation", "rereferral"):
        reports = list((home / "retraining" / target).glob("v1-v2/retraining_report.html"))
        assert len(reports) == 1
        text = reports[0].with_suffix(".md").read_text()
        assert "## Recommendation: " in text and "Pending." not in text  # decision recorded
        assert "Demo Approver" in text
    assert (home / "warehouses" / "2025-03-31.duckdb").exists()
    assert (home / "outreach" / "2025-04-01" / "outreach-all.xlsx").exists()
    # the locality teams' step-down lists of each extract's last complete month
    for month in ("2025-03", "2025-06"):
        assert (home / "step-down" / month / "step-down-all.xlsx").exists()
        assert (home / "step-down" / month / "step-down-all.html").exists()
    assert "- step-down list for 2025-03" in output


def test_the_demo_closes_the_loop_with_the_managers(demo_home):
    from stratify.features.decisions import DecisionStore

    home, _, output = demo_home
    assert "- decisions on list L20250101-v1-" in output and "(simulated managers)" in output
    assert (home / "outreach" / "2025-01-01" / "returned" / "outreach-all.xlsx").exists()
    store = DecisionStore.in_work(home)
    [list_id] = [i for i in store.lists()["list_id"] if len(store.history(i))]
    current = store.current(list_id)
    assert current["decision"].notna().all() and len(current) == 30  # the small borough's K
    assert set(store.history(list_id)["source"]) == {"workbook"}
    assert f"- follow-up of list {list_id} (12 months after it)" in output
    assert "contact rate" in output and "training decision points" in output
    assert (home / "follow-up" / list_id / "follow-up.html").exists()


def test_running_the_demo_again_reuses_what_is_up_to_date(demo_home):
    home, config, _ = demo_home
    before = tracking.connect(load_config(home / "stratify.yaml")).search_model_versions(
        "name='stratify-escalation'"
    )
    again = runner.invoke(app, ["demo", "--config", str(config)])
    assert again.exit_code == 0, again.output
    for stage in ("simulate", "load", "features-escalation", "train-rereferral",
                  "simulate-next-quarter", "retrain-next-quarter",
                  "simulate-follow-up-year"):  # fmt: skip
        assert f"- {stage}: up to date, reused" in again.output
    champion = tracking.alias_version(load_config(home / "stratify.yaml"), "escalation", "champion")
    assert champion in (1, 2)  # v2 only if the retraining report recommended it
    versions = tracking.connect(load_config(home / "stratify.yaml")).search_model_versions(
        "name='stratify-escalation'"
    )
    assert len(versions) == len(before) == 2  # the first quarter's and the challenger


def test_walkthrough_notebook_runs_on_the_demo_run(demo_home, tmp_path, monkeypatch):
    home, config, _ = demo_home
    monkeypatch.setenv("STRATIFY_CONFIG", str(config))
    monkeypatch.setenv("STRATIFY_TARGET", "escalation")
    notebook = nbformat.read(ROOT / "notebooks" / "walkthrough.ipynb", as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    # the notebook reads the newest version: the next quarter's challenger
    newest = max(
        int(v.version)
        for v in tracking.connect(load_config(home / "stratify.yaml")).search_model_versions(
            "name='stratify-escalation'"
        )
    )
    assert newest == 2
    assert f"stratify-escalation version {newest}" in text and "Performance verdict:" in text
