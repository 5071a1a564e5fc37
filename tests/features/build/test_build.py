"""The build end to end: output files, audit attributes, metadata, bad input, the CLI."""

import json

import duckdb
import ibis
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from stratify.features.build import output as build_output
from stratify.features.build.cohorts import CohortError
from stratify.features.build.facts import Facts, household_facts, person_facts, warehouse_schema
from stratify.features.build.pipeline import (
    AUDIT_COLUMNS,
    KEY_COLUMNS,
    build,
    family_context,
    write_build,
)
from stratify.features.catalogue import catalogue_hash, features_for
from stratify.features.cli import features_cmd
from stratify.features.config import FeaturesConfig
from stratify.features.schema import TABLES
from stratify.features.warehouse.store import WarehouseError, read_meta
from tests.features.factories import IBIS_DUCKDB_WARNING, D, merge, write_warehouse
from tests.features.scenarios import ESCALATION, FAMILY

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)

AS_OF = D(2022, 4, 1)
ONE_SNAPSHOT = FeaturesConfig(start_date=AS_OF, end_date=AS_OF)
FILES = ("features.parquet", "audit.parquet", "metadata.json")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return write_warehouse(tmp_path_factory.mktemp("b") / "w.duckdb", merge([ESCALATION, FAMILY]))


@pytest.fixture(scope="module")
def written(warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    result = build(warehouse, "escalation", FeaturesConfig(lookback_months=12))
    write_build(result, out)
    return out


def _app():
    app = typer.Typer()
    app.command()(features_cmd)
    return app


def test_feature_table_has_keys_label_and_every_feature(written):
    table = pq.read_table(written / "features.parquet")
    names = [f.name for f in features_for("escalation")]
    assert table.column_names == [*KEY_COLUMNS, "label", "eligible", *names]
    keys = list(zip(*(table.column(k).to_pylist() for k in KEY_COLUMNS), strict=True))
    assert len(keys) == len(set(keys)) > 20
    assert set(table.column("target").to_pylist()) == {"escalation"}
    assert str(table.schema.field("referrals_12m").type) == "int32"
    assert str(table.schema.field("open_referral").type) == "bool"


def test_audit_file_joins_on_the_same_keys(written):
    features = pq.read_table(written / "features.parquet")
    audit = pq.read_table(written / "audit.parquet")
    assert audit.column_names == [*KEY_COLUMNS, *AUDIT_COLUMNS]
    for k in KEY_COLUMNS:
        assert audit.column(k).to_pylist() == features.column(k).to_pylist()
    assert set(audit.column("age_band").to_pylist()) <= {"<1", "1-4", "5-9", "10-15", "16+"}


def test_metadata_describes_the_build(written, warehouse):
    meta = json.loads((written / "metadata.json").read_text())
    labels = pq.read_table(written / "features.parquet").column("label").to_pylist()
    known = [x for x in labels if x is not None]
    assert meta["rows"] == len(labels)
    assert meta["labelled"] == len(known) and meta["unlabelled"] == labels.count(None)
    assert meta["base_rate"] == pytest.approx(sum(known) / len(known))
    assert meta["catalogue_hash"] == catalogue_hash()
    assert meta["warehouse_content_hash"] == read_meta(warehouse)["content_hash"]
    assert meta["config"]["lookback_months"] == 12 and meta["extract_date"] == "2024-03-31"
    assert meta["date_range"]["end"] == "2024-03-31"
    assert meta["build_seconds"] >= 0
    assert meta["categories"]["locality"] == ["Central", "North", "South"]  # FAMILY's homes


AUDIT_PEOPLE = {
    "persons": [
        {"person_id": "baby", "birth_month": D(2021, 6, 1), "ethnicity": "MWBC"},
        {
            "person_id": "toddler",
            "birth_month": D(2020, 4, 1),
            "ethnicity": "REFU",
            "disability": "AUT",
            "sex": "2",
        },
        {"person_id": "teen", "birth_month": D(2006, 5, 1), "ethnicity": "BAFR"},
        {"person_id": "older", "birth_month": D(2005, 6, 1), "ethnicity": "CHNE"},
    ],
    "household_members": [
        {"person_id": p, "start_date": D(2021, 6, 2)} for p in ("baby", "toddler", "teen", "older")
    ],
    "residences": [{"start_date": D(2020, 1, 1), "imd_decile": 7, "locality": "Central"}],
    "agency_events": [
        {"person_id": p, "event_date": D(2022, 1, 5)} for p in ("baby", "toddler", "teen", "older")
    ],
}


def test_audit_attributes_by_hand(tmp_path):
    path = write_warehouse(tmp_path / "w.duckdb", AUDIT_PEOPLE)
    audit = {r["person_id"]: r for r in build(path, "escalation", ONE_SNAPSHOT).audit.to_pylist()}
    got = {p: (r["ethnic_group"], r["age_band"], r["has_disability"]) for p, r in audit.items()}
    assert got == {
        "baby": ("Mixed", "<1", False),
        "toddler": ("Unknown", "1-4", True),
        "teen": ("Black", "10-15", False),
        "older": ("Other", "16+", False),
    }
    assert audit["toddler"]["disability"] == "AUT" and audit["toddler"]["sex"] == "2"
    assert {(r["imd_quintile"], r["locality"]) for r in audit.values()} == {(4, "Central")}


def _break(path, statement):
    con = duckdb.connect(str(path))
    con.execute(statement)
    con.close()


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("DROP TABLE agency_events", "agency_events"),
        ("ALTER TABLE referrals DROP COLUMN nfa", "referrals.nfa"),
    ],
)
def test_missing_table_or_column_is_named_and_nothing_is_written(tmp_path, statement, named):
    path = write_warehouse(tmp_path / "w.duckdb", ESCALATION)
    _break(path, statement)
    with pytest.raises(WarehouseError, match=named):
        build(path, "escalation", ONE_SNAPSHOT)
    out = tmp_path / "out"
    args = ["--target", "escalation", "--warehouse", str(path), "--out", str(out)]
    run = CliRunner().invoke(_app(), args)
    assert run.exit_code == 2
    assert named in run.output and len(run.output.strip().splitlines()) == 1
    assert not out.exists()


def test_range_outside_the_data_and_empty_cohort_exit_2(tmp_path):
    path = write_warehouse(tmp_path / "w.duckdb", ESCALATION)
    for yaml, words in (
        ("features:\n  start_date: 2001-01-01\n", "outside the data's range 2019-01-01"),
        ("features:\n  start_date: 2024-03-01\n", "no escalation decision points"),
    ):
        cfg = tmp_path / "stratify.yaml"
        cfg.write_text(f"home: {tmp_path}\n{yaml}")
        run = CliRunner().invoke(
            _app(), ["--target", "escalation", "--config", str(cfg), "--warehouse", str(path)]
        )
        assert run.exit_code == 2 and words in run.output, run.output
        assert not (tmp_path / "features").exists()
    with pytest.raises(CohortError, match="2001-01-01 to 2024-03-31 is outside"):
        build(path, "escalation", FeaturesConfig(start_date=D(2001, 1, 1)))


def test_cli_builds_and_prints_size_and_base_rate_only(tmp_path, warehouse):
    cfg = tmp_path / "stratify.yaml"
    cfg.write_text(f"home: {tmp_path}\nfeatures:\n  lookback_months: 12\n")
    run = CliRunner().invoke(
        _app(), ["--target", "rereferral", "--config", str(cfg), "--warehouse", str(warehouse)]
    )
    assert run.exit_code == 0, run.output
    assert "base rate" in run.output and "MB" in run.output
    out = tmp_path / "features" / "rereferral"
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    table = pq.read_table(out / "features.parquet")
    ids = set(table.column("person_id").to_pylist()) | set(table.column("household_id").to_pylist())
    printed = run.output.replace(str(out), "")
    assert ids and not any(i in printed for i in ids if i)


def test_writing_is_atomic(tmp_path, warehouse, monkeypatch):
    result = build(warehouse, "rereferral", FeaturesConfig(lookback_months=12))
    write_build(result, tmp_path)
    before = {f: (tmp_path / f).read_bytes() for f in FILES}
    calls = []

    def fail_on_audit(table, where, **kwargs):
        calls.append(where)
        if len(calls) == 2:
            raise OSError("disk full")
        return pq.write_table(table, where, **kwargs)

    monkeypatch.setattr(build_output.pq, "write_table", fail_on_audit)
    with pytest.raises(OSError, match="disk full"):
        write_build(result, tmp_path)
    assert {f: (tmp_path / f).read_bytes() for f in FILES} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)


@pytest.mark.parametrize("target", ["escalation", "rereferral"])
def test_the_same_definitions_compile_for_spark(target):
    t = {tab.name: ibis.table(warehouse_schema(tab), name=tab.name) for tab in TABLES}
    facts, household = Facts(person_facts(t), 40), Facts(household_facts(t), 40)
    dates = (D(2020, 1, 1), D(2024, 3, 31))
    exprs = family_context(
        t, facts, household, target, FeaturesConfig(), date_range=dates, extract_date=D(2024, 3, 31)
    )
    for expr in exprs:
        assert "SELECT" in ibis.to_sql(expr, dialect="pyspark")
