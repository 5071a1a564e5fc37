"""``stratify decisions import`` and ``stratify follow-up``: short errors, exit code 2."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stratify.cli import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STRATIFY_HOME", str(tmp_path))
    return tmp_path


def test_import_refuses_a_file_that_is_not_a_workbook(home: Path) -> None:
    bad = home / "returned.xlsx"
    bad.write_text("rank,family,decision\n1,x,contacted\n")
    result = runner.invoke(app, ["decisions", "import", str(bad)])
    assert result.exit_code == 2
    assert "error: returned.xlsx is not an Excel workbook" in result.output
    assert not (home / "decisions.duckdb").exists()


def test_follow_up_of_an_unknown_list(home: Path) -> None:
    result = runner.invoke(app, ["follow-up", "--list", "L20240101-v1-000000000000"])
    assert result.exit_code == 2
    assert "unknown list id 'L20240101-v1-000000000000'" in result.output
