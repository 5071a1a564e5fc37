"""The streamed build (in parts, written by DuckDB) gives exactly the tables built whole."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pyarrow.parquet as pq
import pytest

from stratify.features.build import pipeline
from stratify.features.config import FeaturesConfig
from tests.features.factories import IBIS_DUCKDB_WARNING

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)

VOLATILE = ("build_seconds", "built_at")


@pytest.mark.parametrize("target", ["escalation", "rereferral"])
def test_a_build_in_parts_writes_the_whole_build(target, shared_borough, tmp_path, monkeypatch):
    warehouse = shared_borough / "warehouse.duckdb"
    config = FeaturesConfig(start_date=dt.date(2023, 1, 1) if target == "escalation" else None)
    whole = pipeline.build(warehouse, target, config)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        children = con.execute("SELECT count(*) FROM persons WHERE is_child").fetchall()[0][0]
    parts = -(-children // 700)
    monkeypatch.setattr(pipeline, "CHILDREN_PER_PART", 700)
    stages: list[str] = []
    about = pipeline.build_to(warehouse, target, config, tmp_path / "out", progress=stages.append)
    assert parts > 1 and f"child features (part {parts} of {parts})" in stages
    features = pq.read_table(tmp_path / "out" / "features.parquet")
    audit = pq.read_table(tmp_path / "out" / "audit.parquet")
    # same rows in the same (person, date) order, same types and values
    assert [f.type for f in features.schema] == [f.type for f in whole.features.schema]
    assert features.to_pylist() == whole.features.to_pylist()
    assert audit.to_pylist() == whole.audit.to_pylist()
    keys = list(
        zip(*(features.column(c).to_pylist() for c in ("person_id", "as_of_date")), strict=True)
    )
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert {k for k in about if about[k] != whole.metadata[k]} <= set(VOLATILE)
    assert json.loads((tmp_path / "out" / "metadata.json").read_text()) == about
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "audit.parquet",
        "features.parquet",
        "metadata.json",
    ]  # no scratch folder or temporary file left
