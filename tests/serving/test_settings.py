"""Settings resolved once from the environment an edge passes, never from the process's."""

from __future__ import annotations

from pathlib import Path

from stratify.features.config import HOME_ENV, MLFLOW_URI_ENV, sqlite_uri
from stratify.serving.settings import CONFIG_ENV, TOKENS_ENV, Settings
from tests.serving import factory


def test_settings_come_from_the_config_the_environment_names(tmp_path: Path):
    work = tmp_path / "w"
    config = factory.write_config(tmp_path / "c.yaml", work, max_batch=7, audit_fsync=True)
    env = {CONFIG_ENV: str(config), MLFLOW_URI_ENV: "sqlite:///elsewhere.db",
           TOKENS_ENV: '{"tokens": []}'}  # fmt: skip
    s = Settings.from_environment(env)
    assert (s.work_dir, s.max_batch, s.audit_fsync) == (work, 7, True)
    assert s.mlflow_uri == "sqlite:///elsewhere.db" and s.tokens_json == '{"tokens": []}'
    assert s.tokens_file == work / "tokens.json"
    assert s.audit_log == work / "audit" / "requests.jsonl"


def test_only_the_given_environment_is_read(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "process"))
    monkeypatch.setenv(TOKENS_ENV, '{"tokens": []}')
    s = Settings.from_environment({HOME_ENV: str(tmp_path / "given")})
    assert s.work_dir == tmp_path / "given" and s.tokens_json is None
    assert s.mlflow_uri == sqlite_uri(tmp_path / "given")
