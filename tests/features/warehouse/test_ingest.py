"""Loading the hand-built extract: values, pseudonyms, atomicity, every violation, the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from stratify.features import cli
from stratify.features.cli import load_cmd
from stratify.features.schema import TABLES
from stratify.features.warehouse import store as wh
from stratify.features.warehouse.ingest import ExtractInvalid, IngestError, LoadResult, load_extract
from stratify.features.warehouse.pseudonymise import (
    KEY_ENV,
    SYNTHETIC_DEMO_KEY,
    PseudonymKeyError,
    key_fingerprint,
    pseudonymise,
)
from stratify.features.warehouse.store import read_meta
from stratify.features.warehouse.validate import RULE_CSV, RULE_DATE, Violation
from tests.features.extract import OTHER_KEY, RAW_IDS, TEST_KEY, ExtractBuilder
from tests.processes import dead_pid

ROW_COUNTS = {
    "persons": 6,
    "household_members": 6,
    "residences": 3,
    "referrals": 4,
    "assessments": 3,
    "assessment_factors": 4,
    "section47": 1,
    "cin_plans": 1,
    "cp_plans": 1,
    "looked_after": 1,
    "early_help": 2,
    "agency_events": 3,
}
BIRTH_MONTHS = {  # birth_date in persons.csv -> first of the month
    "RAWID-PERSON-0001": dt.date(2015, 6, 1),
    "RAWID-PERSON-0002": dt.date(2018, 11, 1),
    "RAWID-PERSON-0003": dt.date(1985, 3, 1),
    "RAWID-PERSON-0004": dt.date(2012, 1, 1),
    "RAWID-PERSON-0005": dt.date(1979, 12, 1),
    "RAWID-PERSON-0006": dt.date(2020, 7, 1),
}


def pid(raw: str, namespace: str = "person", key: bytes = TEST_KEY) -> str:
    return pseudonymise(pa.array([raw]), namespace, key)[0].as_py()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(path: Path, sql: str) -> list[tuple]:
    con = wh.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> LoadResult:
    """The valid extract, loaded once with TEST_KEY (tests only read it or copy it)."""
    root = tmp_path_factory.mktemp("loaded")
    return load_extract(ExtractBuilder(root).write(), root / "warehouse.duckdb", key=TEST_KEY)


@pytest.fixture
def existing(loaded: LoadResult, tmp_path: Path) -> Path:
    """A copy of a valid warehouse, to check it survives failed loads untouched."""
    path = tmp_path / "wh" / "warehouse.duckdb"
    path.parent.mkdir()
    shutil.copyfile(loaded.warehouse, path)
    return path


# --- a valid extract ---------------------------------------------------------------


def test_valid_extract_loads(loaded: LoadResult) -> None:
    assert dict(loaded.row_counts) == ROW_COUNTS
    assert loaded.extract_date == dt.date(2024, 3, 31)
    assert (loaded.synthetic, loaded.used_demo_key) == (False, False)
    assert wh.warehouse_hash(loaded.warehouse) == loaded.content_hash
    meta = wh.read_meta(loaded.warehouse)
    assert meta["schema_version"] == "1"
    assert meta["extract_date"] == "2024-03-31"
    assert meta["synthetic"] == "false"
    assert meta["rows.agency_events"] == "3"
    assert meta["key_fingerprint"] == key_fingerprint(TEST_KEY)
    union = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in ROW_COUNTS)
    assert dict(query(loaded.warehouse, union)) == ROW_COUNTS


def test_types_and_birth_months(loaded: LoadResult) -> None:
    rows = query(
        loaded.warehouse, "SELECT person_id, birth_month, imd_decile, is_child FROM persons"
    )
    by_id = {r[0]: r[1:] for r in rows}
    assert {k: by_id[pid(k)][0] for k in BIRTH_MONTHS} == BIRTH_MONTHS
    assert by_id[pid("RAWID-PERSON-0001")][1:] == (3, True)
    assert by_id[pid("RAWID-PERSON-0004")][1:] == (7, True)  # "TRUE"
    assert by_id[pid("RAWID-PERSON-0005")][1:] == (7, False)  # "0"
    assert by_id[pid("RAWID-PERSON-0006")][1:] == (7, True)  # "1"
    referrals = query(
        loaded.warehouse, "SELECT referral_id, nfa, closure_date, closure_reason FROM referrals"
    )
    assert {r[0]: r[1:] for r in referrals}[pid("RAWID-REFERRAL-002", "referral")] == (
        True,
        dt.date(2022, 1, 12),
        "RC8",
    )
    assert {r[0]: r[1:] for r in referrals}[pid("RAWID-REFERRAL-003", "referral")] == (
        False,
        None,
        None,
    )


def test_same_source_id_same_pseudonym_in_every_table(loaded: LoadResult) -> None:
    p1 = pid("RAWID-PERSON-0001")
    assert len(p1) == 24
    path = loaded.warehouse
    assert query(path, f"SELECT count(*) FROM persons WHERE person_id = '{p1}'") == [(1,)]
    referrals = query(path, f"SELECT referral_id FROM referrals WHERE person_id = '{p1}'")
    expected = {pid("RAWID-REFERRAL-001", "referral"), pid("RAWID-REFERRAL-004", "referral")}
    assert {r[0] for r in referrals} == expected
    households = query(path, f"SELECT household_id FROM household_members WHERE person_id = '{p1}'")
    assert households == [(pid("RAWID-HOUSEHOLD-01", "household"),)]
    assessments = query(path, f"SELECT assessment_id FROM assessments WHERE person_id = '{p1}'")
    assert len(assessments) == 2
    # the same raw string in another namespace gets another pseudonym
    assert pid("RAWID-PERSON-0001", "referral") != p1


def test_raw_identifiers_are_nowhere_in_the_warehouse_file(loaded: LoadResult) -> None:
    data = loaded.warehouse.read_bytes()
    assert len(RAW_IDS) == 24  # 6 persons, 2 households, 4 referrals, 3 assessments, 9 others
    leaked = [raw for raw in RAW_IDS if raw.encode() in data]
    assert leaked == []
    # the search can find stored strings: plain values and pseudonyms are visible
    assert b"E01000003" in data
    assert pid("RAWID-PERSON-0001").encode() in data
    assert not any(raw in repr(loaded) for raw in RAW_IDS)


def test_pseudonyms_are_stable_for_a_key_and_change_with_it(
    loaded: LoadResult, extract: ExtractBuilder, tmp_path: Path
) -> None:
    src = extract.write()
    again = load_extract(src, tmp_path / "again.duckdb", key=TEST_KEY)
    other = load_extract(src, tmp_path / "other.duckdb", key=OTHER_KEY)
    assert again.content_hash == loaded.content_hash
    sql = "SELECT person_id FROM persons UNION ALL SELECT referral_id FROM referrals"
    first = set(query(loaded.warehouse, sql))
    assert set(query(again.warehouse, sql)) == first
    assert not set(query(other.warehouse, sql)) & first
    assert other.content_hash != loaded.content_hash
    assert (pid("RAWID-PERSON-0002", key=OTHER_KEY),) in set(query(other.warehouse, sql))


def test_without_manifest_month_column_and_stale_report(
    extract: ExtractBuilder, tmp_path: Path
) -> None:
    extract.manifest = None
    for r in extract.tables["persons"]:
        r["birth_month"] = r.pop("birth_date")[:7]  # YYYY-MM is accepted too
    stale = tmp_path / "reports" / "load-violations.csv"
    stale.parent.mkdir()
    stale.write_text("an old report\n")
    result = load_extract(extract.write(), tmp_path / "w.duckdb", key=TEST_KEY, report_path=stale)
    assert result.extract_date == dt.date(2023, 6, 30)  # the latest date in the data
    assert result.synthetic is False
    assert not stale.exists()
    months = dict(query(result.warehouse, "SELECT person_id, birth_month FROM persons"))
    assert {k: months[pid(k)] for k in BIRTH_MONTHS} == BIRTH_MONTHS


# --- keys ----------------------------------------------------------------------------


def test_missing_key_for_real_data_is_a_clear_error(
    extract: ExtractBuilder, tmp_path: Path, no_key_env: None
) -> None:
    src = extract.write()
    with pytest.raises(PseudonymKeyError, match=KEY_ENV):
        load_extract(src, tmp_path / "w.duckdb")
    with pytest.raises(PseudonymKeyError, match="at least 16"):
        load_extract(src, tmp_path / "w.duckdb", key=b"short")
    assert not (tmp_path / "w.duckdb").exists()


def test_synthetic_extract_without_key_uses_the_demo_key(
    extract: ExtractBuilder, tmp_path: Path, no_key_env: None
) -> None:
    assert extract.manifest is not None
    extract.manifest["synthetic"] = True
    result = load_extract(extract.write(), tmp_path / "w.duckdb")
    assert (result.synthetic, result.used_demo_key) == (True, True)
    assert wh.read_meta(result.warehouse)["synthetic"] == "true"
    p1 = pid("RAWID-PERSON-0001", key=SYNTHETIC_DEMO_KEY)
    assert query(result.warehouse, f"SELECT count(*) FROM persons WHERE person_id = '{p1}'") == [
        (1,)
    ]


# --- invalid extracts: every violation, nothing written --------------------------------


def _unknown_code(b: ExtractBuilder) -> None:
    b.row("referrals", "RAWID-REFERRAL-002")["source"] = "99"


def _closure_before_referral(b: ExtractBuilder) -> None:
    b.row("referrals", "RAWID-REFERRAL-001")["closure_date"] = "2021-02-01"


def _missing_column(b: ExtractBuilder) -> None:
    b.drop_column("referrals", "primary_need")


def _unknown_referral(b: ExtractBuilder) -> None:
    b.row("assessments", "RAWID-ASSESSMENT-003")["referral_id"] = "RAWID-REFERRAL-999"


def _malformed_date(b: ExtractBuilder) -> None:
    b.row("agency_events", "RAWID-EVENT-002")["event_date"] = "05/10/2022"


BAD: dict[str, tuple[Callable[[ExtractBuilder], None], Violation]] = {
    "unknown code": (
        _unknown_code,
        Violation("referrals", "referral_id=RAWID-REFERRAL-002 (line 3)", "source", "99",
                  "not a DfE referral source code"),
    ),
    "closure before referral": (
        _closure_before_referral,
        Violation("referrals", "referral_id=RAWID-REFERRAL-001 (line 2)", "closure_date",
                  "2021-02-01", "closure_date is before referral_date"),
    ),
    "missing column": (
        _missing_column,
        Violation("referrals", "", "primary_need", "", "missing required column"),
    ),
    "assessment of an unknown referral": (
        _unknown_referral,
        Violation("assessments", "assessment_id=RAWID-ASSESSMENT-003 (line 4)", "referral_id",
                  "RAWID-REFERRAL-999", "not found in referrals.referral_id"),
    ),
    "malformed date": (
        _malformed_date,
        Violation("agency_events", "event_id=RAWID-EVENT-002 (line 3)", "event_date",
                  "05/10/2022", "malformed date (expected YYYY-MM-DD)"),
    ),
}  # fmt: skip
#: Report order: tables in schema order, then by line, file-level problems first.
REPORT_ORDER = [
    "missing column",
    "closure before referral",
    "unknown code",
    "assessment of an unknown referral",
    "malformed date",
]


@pytest.mark.parametrize("cases", [[c] for c in BAD] + [list(BAD)], ids=[*BAD, "all together"])
def test_invalid_extract_lists_every_violation_and_writes_nothing(
    cases: list[str], extract: ExtractBuilder, existing: Path, tmp_path: Path
) -> None:
    for case in cases:
        BAD[case][0](extract)
    report = tmp_path / "reports" / "load-violations.csv"
    before = sha256(existing)
    with pytest.raises(ExtractInvalid) as err:
        load_extract(extract.write(), existing, key=TEST_KEY, report_path=report)
    expected = [BAD[c][1] for c in REPORT_ORDER if c in cases]
    assert err.value.violations == expected
    assert err.value.total == len(cases)
    with report.open(newline="", encoding="utf-8") as f:
        assert [Violation(*row) for row in list(csv.reader(f))[1:]] == expected
    assert sha256(existing) == before
    assert [p.name for p in existing.parent.iterdir()] == ["warehouse.duckdb"]


def test_malformed_csv_lines_are_reported_with_their_line_numbers(
    extract: ExtractBuilder, tmp_path: Path
) -> None:
    extract.row("agency_events", "RAWID-EVENT-003")["event_date"] = "2023-06-31"
    src = extract.write()
    lines = (src / "agency_events.csv").read_text().splitlines()
    lines.insert(2, "RAWID-EVENT-X,too,many,fields,here,extra")  # becomes line 3
    (src / "agency_events.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ExtractInvalid) as err:
        load_extract(src, tmp_path / "w.duckdb", key=TEST_KEY)
    broken, bad_date = err.value.violations
    assert (broken.table, broken.row_key, broken.rule) == ("agency_events", "line 3", RULE_CSV)
    assert "Columns" in broken.value
    expected = ("event_id=RAWID-EVENT-003 (line 5)", "2023-06-31", RULE_DATE)
    assert (bad_date.row_key, bad_date.value, bad_date.rule) == expected
    assert not (tmp_path / "w.duckdb").exists()


def test_failure_while_writing_leaves_the_previous_warehouse(
    extract: ExtractBuilder, existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = wh._insert_table

    def insert_then_fail(con: duckdb.DuckDBPyConnection, table: object, data: object) -> None:
        if getattr(table, "name", None) == "referrals":
            raise RuntimeError("disk full")
        real_insert(con, table, data)  # type: ignore[arg-type]

    monkeypatch.setattr(wh, "_insert_table", insert_then_fail)
    extract.row("persons", "RAWID-PERSON-0001")["locality"] = "Changed"
    before = sha256(existing)
    with pytest.raises(RuntimeError, match="disk full"):
        load_extract(extract.write(), existing, key=TEST_KEY)
    assert sha256(existing) == before
    assert [p.name for p in existing.parent.iterdir()] == ["warehouse.duckdb"]


def test_folder_and_manifest_errors(extract: ExtractBuilder, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="does not exist"):
        load_extract(tmp_path / "nowhere", tmp_path / "w.duckdb", key=TEST_KEY)
    for manifest in ({"synthetic": "yes"}, {"extract_date": "31/03/2024"}, {"source": "x"}):
        src = extract.write()
        (src / "extract.json").write_text(json.dumps(manifest))
        with pytest.raises(IngestError, match="not a valid extract manifest"):
            load_extract(src, tmp_path / "w.duckdb", key=TEST_KEY)
    assert not (tmp_path / "w.duckdb").exists()


# --- the warehouse file ------------------------------------------------------------


def test_connect_refuses_missing_stale_or_incomplete_warehouses(
    existing: Path, tmp_path: Path
) -> None:
    with pytest.raises(wh.WarehouseError, match="no warehouse at"):
        wh.connect(tmp_path / "missing.duckdb")
    stale, broken = tmp_path / "stale.duckdb", tmp_path / "broken.duckdb"
    shutil.copyfile(existing, stale)
    shutil.copyfile(existing, broken)
    with duckdb.connect(str(stale)) as con:
        con.execute("UPDATE _stratify_meta SET value = '0' WHERE key = 'schema_version'")
    with duckdb.connect(str(broken)) as con:
        con.execute("ALTER TABLE persons DROP COLUMN locality")
    with pytest.raises(wh.WarehouseError, match="schema version 0"):
        wh.connect(stale)
    with pytest.raises(wh.WarehouseError, match="no column persons.locality"):
        wh.connect(broken)
    (tmp_path / "junk.duckdb").write_bytes(b"not a database")
    with pytest.raises(wh.WarehouseError, match="not a readable stratify warehouse"):
        wh.connect(tmp_path / "junk.duckdb")


def test_create_warehouse_from_arrow_and_pandas_gives_the_same_hash(
    loaded: LoadResult, tmp_path: Path
) -> None:
    con = wh.connect(loaded.warehouse)
    arrow = {t.name: con.table(t.name).to_arrow_table() for t in TABLES}
    frames = {t.name: con.table(t.name).df() for t in TABLES}
    con.close()
    meta = {"extract_date": "2024-03-31", "synthetic": "false"}
    assert wh.create_warehouse(tmp_path / "a.duckdb", arrow, meta)["content_hash"] == (
        loaded.content_hash
    )
    assert wh.create_warehouse(tmp_path / "p.duckdb", frames, meta)["content_hash"] == (
        loaded.content_hash
    )
    with pytest.raises(ValueError, match="missing: \\['agency_events'\\]"):
        without_events = {k: v for k, v in arrow.items() if k != "agency_events"}
        wh.create_warehouse(tmp_path / "x.duckdb", without_events, meta)
    with pytest.raises(ValueError, match="extract_date"):
        wh.create_warehouse(tmp_path / "x.duckdb", arrow, {"synthetic": "false"})
    assert not (tmp_path / "x.duckdb").exists()


# --- the command line ----------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("load")(load_cmd)

    @app.callback()
    def main() -> None:
        """Test app."""

    return app


def test_cli_load(extract: ExtractBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    config = tmp_path / "stratify.yaml"
    config.write_text(f"home: {work}\n")
    runner = CliRunner()
    env = {"COLUMNS": "200", KEY_ENV: "a-long-enough-test-key"}
    args = ["load", "--from", str(extract.write()), "--config", str(config)]
    ok = runner.invoke(_app(), args, env=env)
    assert ok.exit_code == 0, ok.output
    assert "persons" in ok.output and "agency_events" in ok.output
    assert (work / "warehouse.duckdb").exists()
    assert not any(raw in ok.output for raw in RAW_IDS)

    _unknown_code(extract)
    _malformed_date(extract)
    args = ["load", "--from", str(extract.write()), "--config", str(config)]
    bad = runner.invoke(_app(), args, env=env)
    assert bad.exit_code == 1, bad.output
    assert "not a DfE referral source code" in bad.output
    assert "05/10/2022" in bad.output
    assert "load-violations.csv" in bad.output
    assert len((work / "reports" / "load-violations.csv").read_text().splitlines()) == 3
    monkeypatch.setattr(cli, "MAX_SHOWN", 1)
    capped = runner.invoke(_app(), args, env=env)
    assert capped.exit_code == 1
    assert "Showing the first 1 of 2 violations" in capped.output
    assert "05/10/2022" not in capped.output

    args = ["load", "--from", str(tmp_path / "nowhere"), "--config", str(config)]
    missing = runner.invoke(_app(), args, env=env)
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
    assert len(missing.output.strip().splitlines()) <= 2


def test_facts_after_the_extract_date_are_violations(
    extract: ExtractBuilder, existing: Path
) -> None:
    """A fact dated after the declared extract date would make open windows look closed."""
    extract.manifest = {**(extract.manifest or {}), "extract_date": "2022-12-31"}
    extract.row("agency_events", "RAWID-EVENT-002")["event_date"] = "2023-01-05"
    before = sha256(existing)
    with pytest.raises(ExtractInvalid) as err:
        load_extract(extract.write(), existing, key=TEST_KEY)
    after = [v for v in err.value.violations if v.rule.startswith("dated after")]
    assert Violation("agency_events", "event_id=RAWID-EVENT-002 (line 3)", "event_date",
                     "2023-01-05", "dated after the extract date 2022-12-31") in after  # fmt: skip
    assert sha256(existing) == before


def test_a_new_load_sweeps_a_killed_load(tmp_path, extract):
    target = tmp_path / "warehouse.duckdb"
    left = tmp_path / f"warehouse.duckdb.tmp-{dead_pid()}"
    left.write_bytes(b"half-written by a load that was killed")
    load_extract(extract.write(), target, key=b"k" * 32)
    assert not left.exists()
    assert read_meta(target)["extract_date"] == "2024-03-31"
