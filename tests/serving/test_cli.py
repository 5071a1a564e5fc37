"""The serving commands: tokens add, import-model, serve's environment."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stratify.serving.api.auth import TokenStore
from stratify.serving.cli import serve_env
from stratify.cli import app
from tests.serving.conftest import write_config

runner = CliRunner()


def test_tokens_add_prints_the_token_once_and_stores_its_hash(tmp_path: Path):
    config = write_config(tmp_path / "c.yaml", tmp_path, tokens_file=str(tmp_path / "t.json"))
    result = runner.invoke(app, ["tokens", "add", "--subject", "front door", "--role", "scorer",
                                 "--role", "reviewer", "--config", str(config)])  # fmt: skip
    assert result.exit_code == 0, result.output
    token = next(line for line in result.stdout.splitlines() if line.startswith("stk_"))
    assert token not in (tmp_path / "t.json").read_text()
    who = TokenStore(tmp_path / "t.json").authenticate(f"Bearer {token}")
    assert who is not None and who.roles == {"scorer", "reviewer"}
    bad = runner.invoke(app, ["tokens", "add", "--subject", "x", "--role", "admin",
                              "--config", str(config)])  # fmt: skip
    assert bad.exit_code == 2


def test_import_model_without_a_champion_is_one_short_error(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = write_config(tmp_path / "c.yaml", tmp_path)
    result = runner.invoke(app, ["import-model", "--target", "escalation", "--config", str(config)])
    assert result.exit_code == 1
    assert "stratify-escalation has no champion" in result.output


def test_import_model_records_the_exact_version(served_work: Path, tmp_path: Path):
    config = write_config(tmp_path / "c.yaml", served_work)
    result = runner.invoke(app, ["import-model", "--target", "rereferral", "--config", str(config)])
    assert result.exit_code == 0, result.output
    pointer = json.loads((served_work / "serving" / "champions.json").read_text())["rereferral"]
    assert f"Imported {pointer['tag']} (MLflow version {pointer['mlflow_version']}" in result.output
    assert pointer["tag"].endswith(f":v{pointer['mlflow_version']}")


def test_serve_env_points_the_service_at_the_work_dir(tmp_path: Path):
    env = serve_env(tmp_path, tmp_path / "c.yaml", 3)
    assert env["BENTOML_HOME"] == str((tmp_path / "bentoml").resolve())
    assert env["STRATIFY_CONFIG"] == str((tmp_path / "c.yaml").resolve())
    assert env["STRATIFY_WORKERS"] == "3"
