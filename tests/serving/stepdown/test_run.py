"""The step-down run and command on the hand-built month: files, and bad input writes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from stratify.features.config import Config
from stratify.serving.cli import register
from stratify.serving.outreach.cohort import ERR_UNKNOWN_LOCALITY
from stratify.serving.stepdown.output import NOT_A_FINDING
from stratify.serving.stepdown.run import (
    ERR_AFTER_EXTRACT,
    ERR_MONTH,
    ERR_NO_CLOSURES,
    parse_month,
    run_stepdown,
)
from tests.features.factories import IBIS_DUCKDB_WARNING, write_warehouse
from tests.serving import factory
from tests.serving.stepdown.test_listing import MONTH, TABLES, THRESHOLD, DaysScorer

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)
EXTRACT = dt.date(2023, 12, 31)
runner = CliRunner()
app = typer.Typer()
register(app)


@pytest.fixture
def home(tmp_path: Path) -> Config:
    write_warehouse(tmp_path / "warehouse.duckdb", TABLES, EXTRACT)
    return factory.config(tmp_path)


def _written(cfg: Config) -> list[Path]:
    return (
        sorted((cfg.work_dir / "step-down").rglob("*"))
        if (cfg.work_dir / "step-down").exists()
        else []
    )


def test_run_writes_the_workbook_and_page(home: Config) -> None:
    out = run_stepdown(home, MONTH, scorer=DaysScorer(), threshold=THRESHOLD, per_stratum=1)
    assert out.workbook == home.work_dir / "step-down" / "2023-09" / "step-down-all.xlsx"
    assert out.page.name == "step-down-all.html" and out.page.exists()
    wb = load_workbook(out.workbook)
    assert wb.sheetnames == ["Step-down list", "How to read this list", "Fairness check",
                             "Audit sample", "Audit sample design"]  # fmt: skip
    rows = list(wb["Step-down list"].iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in rows] == ["hC", "hA", "hA"]
    guide = " ".join(str(c.value) for row in wb["How to read this list"].iter_rows() for c in row)
    assert NOT_A_FINDING in guide
    design = " ".join(str(c.value) for row in wb["Audit sample design"].iter_rows() for c in row)
    assert "202309" in design  # the default seed
    assert out.seed == 202309 and out.sample_size == 3  # one per third of 4 families
    assert NOT_A_FINDING in out.page.read_text()
    again = run_stepdown(home, MONTH, scorer=DaysScorer(), threshold=THRESHOLD, per_stratum=1)
    sheet = load_workbook(again.workbook)["Audit sample"]
    assert [r[2] for r in sheet.iter_rows(min_row=2, values_only=True)] == [
        r[2] for r in wb["Audit sample"].iter_rows(min_row=2, values_only=True)
    ]


def test_locality_file_name(home: Config) -> None:
    out = run_stepdown(home, MONTH, "south", scorer=DaysScorer(), threshold=THRESHOLD)
    assert out.workbook.name == "step-down-south.xlsx"
    assert list(out.stepdown.families["family"]) == ["hC"]


@pytest.mark.parametrize(
    ("month", "locality", "message"),
    [
        (dt.date(2023, 11, 1), None, ERR_NO_CLOSURES.format(month="2023-11", where="")),
        (dt.date(2023, 9, 1), "East", ERR_UNKNOWN_LOCALITY.split("{")[0]),
        (dt.date(2024, 1, 1), None,
         ERR_AFTER_EXTRACT.format(month="2024-01", extract=EXTRACT.isoformat())),
    ],
)  # fmt: skip
def test_bad_input_is_one_message_and_writes_nothing(
    home: Config, month: dt.date, locality: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_stepdown(home, month, locality, scorer=DaysScorer(), threshold=THRESHOLD)
    assert _written(home) == []


def test_bad_month_text() -> None:
    assert parse_month("2023-09") == MONTH
    for bad in ("2023-9", "2023-13", "Sept"):
        with pytest.raises(ValueError, match="the month must be YYYY-MM"):
            parse_month(bad)
    assert "YYYY-MM" in ERR_MONTH


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2023-09"], "no model imported for rereferral"),
        (["--month", "2023/09"], "the month must be YYYY-MM"),
        (["--month", "2024-02"], "ends after the warehouse's extract date"),
        (["--month", "2023-09", "--locality", "Nowhere"], "unknown locality 'Nowhere'"),
    ],
)
def test_command_errors_are_one_line_exit_2_nothing_written(
    home: Config, args: list[str], message: str
) -> None:
    config = factory.write_config(home.work_dir / "c.yaml", home.work_dir)
    result = runner.invoke(app, ["step-down", "--config", str(config), *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert _written(home) == []
