import datetime as dt
from pathlib import Path

import pytest

from stratify.features.config import ConfigError, load_config


def test_defaults_without_a_file():
    cfg = load_config(None)
    assert cfg.simulation.children == 40_000
    assert cfg.features.horizon_months == 12


def test_repo_config_file_loads(tmp_path):
    cfg = load_config("config/stratify.yaml")
    assert cfg.simulation.end_date == dt.date(2025, 3, 31)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("simulation:\n  childs: 10\n", "simulation.childs: unknown key"),
        ("colour: blue\n", "colour: unknown key"),
        ("features:\n  horizon: 12\n", "features.horizon: unknown key"),
    ],
)
def test_unknown_keys_are_named(tmp_path, text, where):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_config(path)


def test_bad_values_and_files(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("simulation:\n  end_date: 2024-12-31\n")
    with pytest.raises(ConfigError, match="31 March"):
        load_config(path)
    path.write_text("simulation:\n  children: -5\n")
    with pytest.raises(ConfigError, match="simulation.children"):
        load_config(path)
    with pytest.raises(ConfigError, match="could not be read"):
        load_config(tmp_path / "missing.yaml")


def test_config_is_frozen():
    cfg = load_config(None)
    with pytest.raises(Exception, match="frozen"):
        cfg.simulation.seed = 3  # type: ignore[misc]


def test_work_dir_from_environment(monkeypatch, tmp_path):
    env = {"STRATIFY_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": "http://mlflow.example:5000"}
    cfg = load_config(None, env)
    assert cfg.work_dir == tmp_path
    assert cfg.mlflow_uri == "http://mlflow.example:5000"
    assert load_config(None, {"STRATIFY_HOME": str(tmp_path)}).mlflow_uri == (
        f"sqlite:///{tmp_path / 'mlflow.db'}"
    )


def test_the_environment_is_read_once_not_on_every_access(monkeypatch, tmp_path):
    monkeypatch.setenv("STRATIFY_HOME", str(tmp_path / "later"))
    cfg = load_config(None, {"STRATIFY_HOME": str(tmp_path / "at-load")})
    assert cfg.work_dir == tmp_path / "at-load"  # the process environment is never consulted
    assert load_config(None).work_dir == Path("work")


def test_a_home_in_the_file_wins_over_the_environment_and_the_secret_stays_out(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(f"home: {tmp_path / 'file-home'}\n")
    env = {"STRATIFY_HOME": str(tmp_path / "env-home"), "STRATIFY_PSEUDONYM_KEY": "s" * 20}
    cfg = load_config(path, env)
    assert cfg.work_dir == tmp_path / "file-home"
    assert cfg.pseudonym_secret == "s" * 20
    assert "s" * 20 not in cfg.model_dump_json()
