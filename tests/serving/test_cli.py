"""The serving commands: tokens add, import-model, serve (its environment), outreach."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from stratify.features.config import Config
from stratify.serving.api.auth import TokenStore
from stratify.serving.cli import ERR_NOTHING_IMPORTED, register, serve_env
from stratify.serving.outreach.cohort import known_localities
from stratify.serving.settings import CONFIG_ENV
from tests.serving import factory

AS_OF = dt.date(2024, 10, 1)
runner = CliRunner()
app = typer.Typer()
register(app)


def test_tokens_add_prints_the_token_once_and_stores_its_hash(tmp_path: Path):
    tokens = tmp_path / "t.json"
    config = factory.write_config(tmp_path / "c.yaml", tmp_path, tokens_file=str(tokens))
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
    config = factory.write_config(tmp_path / "c.yaml", tmp_path)
    result = runner.invoke(app, ["import-model", "--target", "escalation", "--config", str(config)])
    assert result.exit_code == 1
    assert "stratify-escalation has no champion" in result.output


def test_import_model_records_the_exact_version(served_work: Path, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = factory.write_config(tmp_path / "c.yaml", served_work)
    result = runner.invoke(app, ["import-model", "--target", "rereferral", "--config", str(config)])
    assert result.exit_code == 0, result.output
    pointer = json.loads((served_work / "serving" / "champions.json").read_text())["rereferral"]
    assert f"Imported {pointer['tag']} (MLflow version {pointer['mlflow_version']}" in result.output
    assert pointer["tag"].endswith(f":v{pointer['mlflow_version']}")


def test_serve_without_an_imported_model_is_one_short_error(tmp_path: Path):
    config = factory.write_config(tmp_path / "c.yaml", tmp_path / "work")
    result = runner.invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 1 and ERR_NOTHING_IMPORTED in result.output


def test_serve_env_points_the_service_at_the_work_dir(tmp_path: Path):
    env = serve_env({"KEEP": "1"}, tmp_path, tmp_path / "c.yaml", 3)
    assert env["KEEP"] == "1" and env["STRATIFY_HOME"] == str(tmp_path.resolve())
    assert env["BENTOML_HOME"] == str((tmp_path / "bentoml").resolve())
    assert env[CONFIG_ENV] == str((tmp_path / "c.yaml").resolve())
    assert CONFIG_ENV not in serve_env({}, tmp_path, None, 3)


def test_the_service_reads_nothing_at_import_and_bentoml_takes_the_worker_count(tmp_path: Path):
    """In the environment ``stratify serve`` gives it, BentoML runs 3 workers; the config
    file (missing here) is not read when the service module is imported."""
    env = serve_env(os.environ, tmp_path, tmp_path / "missing.yaml", 3)
    code = (
        "from bentoml._internal.configuration.containers import BentoMLContainer\n"
        "from stratify.serving.api.service import Stratify, from_environment\n"
        "Stratify.inject_config()\n"
        "assert from_environment.cache_info().currsize == 0\n"
        "print(BentoMLContainer.config.services['stratify'].workers.get())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "3"


# -- outreach ---------------------------------------------------------------------------


def _outreach(config: Path, *args: str):
    return runner.invoke(app, ["outreach", "--config", str(config), *args])


def test_outreach_writes_the_locality_list_and_prints_counts_only(champion: tuple[Config, int]):
    cfg, _ = champion
    config = cfg.work_dir / "stratify.yaml"
    name = known_localities(cfg.work_dir / "warehouse.duckdb")[-1]
    result = _outreach(config, "--as-of", AS_OF.isoformat(), "--capacity", "5",
                       "--locality", name.lower())  # fmt: skip
    assert result.exit_code == 0, result.output
    slug = name.lower()
    assert (cfg.work_dir / "outreach" / AS_OF.isoformat() / f"outreach-{slug}.xlsx").exists()
    assert "excluded (open to social care or an open referral)" in result.output
    assert not re.search(r"\b[0-9a-f]{24}\b", result.output)  # no pseudonym printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2024-13-01"], "Invalid value for '--as-of'"),
        (["--as-of", "2024-10-02"], "the as-of date must be the first day of a month"),
        (["--as-of", "2024-10-01", "--locality", "Atlantis"], "unknown locality 'Atlantis'"),
        (["--as-of", "2040-01-01"], "after the warehouse's extract date"),
    ],
)
def test_outreach_errors_are_one_short_line(borough_home, args, message):
    _, config = borough_home
    result = _outreach(config, "--capacity", "5", *args)
    assert result.exit_code == 2
    assert message in result.output
    if "locality" in message:
        assert "the warehouse has:" in result.output


def test_outreach_without_a_champion_or_warehouse(borough_home, tmp_path: Path):
    _, config = borough_home
    result = _outreach(config, "--as-of", "2024-10-01", "--capacity", "5")
    assert result.exit_code == 2
    assert "run `stratify import-model --target escalation`" in result.output
    empty = tmp_path / "empty.yaml"
    empty.write_text(f"home: {tmp_path / 'nowhere'}\n")
    result = _outreach(empty, "--as-of", "2024-10-01", "--capacity", "5")
    assert result.exit_code == 2 and "no warehouse at" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("serving:\n  no_such_key: 1\n")
    result = _outreach(bad, "--as-of", "2024-10-01", "--capacity", "5")
    assert result.exit_code == 2 and "no_such_key" in result.output


def test_tokens_list_and_revoke_never_print_a_secret(tmp_path: Path):
    tokens = tmp_path / "t.json"
    config = ["--config", str(factory.write_config(tmp_path / "c.yaml", tmp_path,
                                                   tokens_file=str(tokens)))]  # fmt: skip
    added = runner.invoke(app, ["tokens", "add", "--subject", "front door", "--role", "scorer",
                                "--expires-days", "30", *config])  # fmt: skip
    assert added.exit_code == 0, added.output
    token = next(line for line in added.stdout.splitlines() if line.startswith("stk_"))
    token_id = token.split("_")[1]
    runner.invoke(app, ["tokens", "add", "--subject", "reviewer", "--role", "reviewer", *config])
    listed = runner.invoke(app, ["tokens", "list", *config])
    assert listed.exit_code == 0, listed.output
    rows = listed.stdout.splitlines()
    assert len(rows) == 2 and rows[0].startswith(f"{token_id}  active ")
    assert "front door" in rows[0] and "expires 20" in rows[0] and "expires never" in rows[1]
    revoked = runner.invoke(app, ["tokens", "revoke", token_id, *config])
    assert revoked.exit_code == 0 and f"Revoked token {token_id}" in revoked.stdout
    rows = runner.invoke(app, ["tokens", "list", *config]).stdout.splitlines()
    assert rows[0].startswith(f"{token_id}  revoked")
    assert TokenStore(tokens).authenticate(f"Bearer {token}") is None
    entries = json.loads(tokens.read_text())["tokens"]
    printed = listed.stdout + revoked.stdout + "\n".join(rows)
    for e in entries:
        assert e["sha256"] not in printed and e["salt"] not in printed
    assert token.split("_", 2)[2] not in printed
    missing = runner.invoke(app, ["tokens", "revoke", "nope", *config])
    assert missing.exit_code == 2 and "no token with id 'nope'" in missing.stderr
