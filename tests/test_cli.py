"""The composed ``stratify`` console script."""

import pandas as pd
from typer.testing import CliRunner

from stratify.cli import app

runner = CliRunner()


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("simulate", "load", "features", "demo"):
        assert command in result.output


def test_simulate_writes_extract_truth_and_report(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATIFY_HOME", str(tmp_path))
    config = tmp_path / "c.yaml"
    config.write_text(
        "simulation:\n  children: 800\n  years: 2\n  burn_in_years: 1\n"
        "  truth_sample: 20\n  truth_replicates: 10\n"
    )
    result = runner.invoke(app, ["simulate", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "figures within tolerance" in result.output
    sim = tmp_path / "sim"
    assert (sim / "extract" / "referrals.csv").exists()
    assert (sim / "truth" / "decision_points.parquet").exists()
    report = pd.read_csv(sim / "realism.csv")
    assert len(report) == 51 and set(report.columns) >= {"key", "simulated", "passed"}
    mech = pd.read_csv(sim / "realism_mechanisms.csv")
    assert {"gradient_cp", "repeat_cp_pct", "cp_open_2y+"} <= set(mech["key"])
    # 800 children: a handful on a plan, so most figures cannot be judged
    assert "too small to judge" in set(mech["result"])
    assert (sim / "realism_deciles.png").stat().st_size > 0
    assert "decile 10" in result.output


def test_bad_config_is_one_short_error(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("simulation:\n  seeds: 3\n")
    result = runner.invoke(app, ["simulate", "--config", str(config)])
    assert result.exit_code == 2
    assert "simulation.seeds: unknown key" in result.output
