"""stratify export: the warehouse as a Parquet dataset, and what a Spark build needs of it."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from stratify.features.cli import export_cmd, features_cmd
from stratify.features.schema import TABLES
from stratify.features.warehouse.store import read_meta
from tests.features.factories import IBIS_DUCKDB_WARNING, merge, write_warehouse
from tests.features.scenarios import ESCALATION, FAMILY

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)


def _app(command):
    app = typer.Typer()
    app.command()(command)
    return app


def test_export_writes_every_table_in_parts_and_the_meta(tmp_path):
    warehouse = write_warehouse(tmp_path / "w.duckdb", merge([ESCALATION, FAMILY]))
    out = tmp_path / "dataset"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier export")  # replaced as a whole
    cfg = tmp_path / "stratify.yaml"
    cfg.write_text(f"home: {tmp_path}\n")
    args = ["--config", str(cfg), "--warehouse", str(warehouse), "--out", str(out)]
    run = CliRunner().invoke(_app(export_cmd), args)
    assert run.exit_code == 0, run.output
    assert "exported 12 tables" in run.output
    assert sorted(p.name for p in out.iterdir()) == sorted([*(t.name for t in TABLES), "meta.json"])
    assert json.loads((out / "meta.json").read_text()) == read_meta(warehouse)
    for t in TABLES:
        data = pq.read_table(out / t.name)
        assert data.column_names == [c.name for c in t.columns]
        assert data.num_rows == int(read_meta(warehouse)[f"rows.{t.name}"]), t.name
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_a_spark_build_without_an_export_says_to_export_and_writes_nothing(tmp_path):
    cfg = tmp_path / "stratify.yaml"
    cfg.write_text(f"home: {tmp_path}\nfeatures:\n  backend: pyspark\n")
    run = CliRunner().invoke(_app(features_cmd), ["--target", "escalation", "--config", str(cfg)])
    assert run.exit_code == 2
    assert "export the warehouse first (stratify export" in run.output
    assert not (tmp_path / "features").exists()
