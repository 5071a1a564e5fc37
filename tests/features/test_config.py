import datetime as dt

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
    monkeypatch.setenv("STRATIFY_HOME", str(tmp_path))
    assert load_config(None).work_dir == tmp_path
