"""The same Ibis build on local Spark equals the DuckDB build, and Spark never hangs silently.

The small borough's warehouse is exported as a Parquet dataset; DuckDB builds from the
warehouse file, Spark from the dataset. Rows, column types and values must agree
(floats within 1e-9), for both targets, and so must the metadata Spark computes with
its own aggregates.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stratify.features.build.pipeline import build
from stratify.features.build.spark import SparkStageError, Watchdog, build_on_spark
from stratify.features.config import FeaturesConfig, SparkConfig
from stratify.features.sources import META_ABSENT
from stratify.features.warehouse.dataset import META_FILE, check_dataset, export_dataset
from stratify.features.warehouse.store import WarehouseError
from tests.conftest import SPARK_SOCKETS
from tests.features.factories import IBIS_DUCKDB_WARNING

pytestmark = [
    pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING),
    pytest.mark.filterwarnings(SPARK_SOCKETS),
    pytest.mark.slow,
]

VOLATILE = ("build_seconds", "built_at")


@pytest.fixture(scope="module")
def dataset(shared_borough: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dataset") / "warehouse-parquet"
    export_dataset(shared_borough / "warehouse.duckdb", out, rows_per_file=4000)
    return out


def _equal_within(a: pa.Table, b: pa.Table, tol: float = 1e-9) -> list[str]:
    """Return the columns whose values differ (floats beyond ``tol``), by plain loops."""
    bad = []
    for name in a.column_names:
        x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
        for u, v in zip(x, y, strict=True):
            same = (
                u == v
                or (
                    isinstance(u, float)
                    and isinstance(v, float)
                    and math.isclose(u, v, abs_tol=tol)
                )
                or (
                    isinstance(u, float)
                    and math.isnan(u)
                    and isinstance(v, float)
                    and math.isnan(v)
                )
            )
            if not same:
                bad.append(name)
                break
    return bad


def _without(dataset: Path, absent: dict[str, str], folder: Path) -> Path:
    """Return a copy of ``dataset`` whose meta records ``absent`` sources (as a loader would)."""
    import shutil

    out = folder / "dataset-absent"
    shutil.copytree(dataset, out)
    meta = json.loads((out / META_FILE).read_text())
    (out / META_FILE).write_text(json.dumps({**meta, META_ABSENT: json.dumps(absent)}))
    return out


@pytest.mark.parametrize(
    ("target", "start", "absent"),
    [
        # the last 9 quarters' snapshots (9,245 points, 125 positives): every stage runs,
        # in a third of the time the whole range takes on local Spark
        ("escalation", dt.date(2023, 1, 1), {}),
        # an absent source: both engines leave out the same features (26 here)
        ("rereferral", None, {"agency_events": "no other agencies' contacts in this extract"}),
    ],
)
def test_the_spark_build_equals_the_duckdb_build(
    target, start, absent, shared_borough, dataset, spark, tmp_path
):
    config = FeaturesConfig(start_date=start)
    if absent:
        dataset = _without(dataset, absent, tmp_path)
        duck = build(dataset, target, config)
    else:
        duck = build(shared_borough / "warehouse.duckdb", target, config)
    out = tmp_path / "out"
    about = build_on_spark(
        dataset, target, config.model_copy(update={"backend": "pyspark"}), out, session=spark
    )
    gone = {n for g in duck.metadata["unavailable"] for n in g["features"]}
    assert len(gone) == (26 if absent else 0)
    assert about["unavailable"] == duck.metadata["unavailable"]
    assert not gone & set(about["features"]) and not gone & set(duck.features.column_names)
    features = pq.read_table(out / "features.parquet")
    audit = pq.read_table(out / "audit.parquet")
    assert duck.features.num_rows > 1000
    for got, want in ((features, duck.features), (audit, duck.audit)):
        # names, order and types (Spark marks columns it knows hold no nulls "not null")
        assert [(f.name, f.type) for f in got.schema] == [(f.name, f.type) for f in want.schema]
        assert got.num_rows == want.num_rows
        assert _equal_within(got, want) == []
    assert {k for k in about if about[k] != duck.metadata[k]} == {*VOLATILE, "config"}
    assert about["config"] == {**duck.metadata["config"], "backend": "pyspark"}
    assert json.loads((out / "metadata.json").read_text()) == about
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]


def test_the_duckdb_build_reads_the_exported_dataset_as_it_reads_the_warehouse(
    shared_borough, dataset
):
    config = FeaturesConfig(start_date=None)
    from_file = build(shared_borough / "warehouse.duckdb", "rereferral", config)
    from_dataset = build(dataset, "rereferral", config)
    assert from_dataset.features.equals(from_file.features)
    assert from_dataset.audit.equals(from_file.audit)
    assert len(list((dataset / "agency_events").glob("*.parquet"))) >= 2  # in parts


def test_a_dataset_with_a_mistyped_column_is_refused_naming_it(dataset, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(dataset, bad)
    for part in (bad / "cp_plans").glob("*.parquet"):
        t = pq.read_table(part)
        pq.write_table(t.set_column(0, "plan_id", t.column(0).cast(pa.large_string())), part)
    with pytest.raises(WarehouseError, match=r"column cp_plans\.plan_id is large_string"):
        check_dataset(bad)
    (bad / META_FILE).unlink()
    with pytest.raises(WarehouseError, match="stratify export"):
        check_dataset(bad)


def test_an_overdue_spark_action_names_its_stage(dataset, spark, tmp_path):
    config = FeaturesConfig(spark=SparkConfig(action_timeout_seconds=0.05))
    with pytest.raises(SparkStageError, match=r"'reading the warehouse dataset' within 0\.05 s"):
        build_on_spark(dataset, "escalation", config, tmp_path / "out", session=spark)
    assert not (tmp_path / "out").exists()
    assert spark.range(3).count() == 3  # the cancelled jobs left the session usable


def test_a_failing_spark_action_names_its_stage(spark):
    run = Watchdog(spark, timeout=120)
    run.stage = "child features"
    failing = spark.sql("SELECT raise_error('the executor gave up') AS x")
    with pytest.raises(SparkStageError, match=r"'child features': .*the executor gave up"):
        run(failing.collect)
    assert run(lambda: spark.range(4).count()) == 4
