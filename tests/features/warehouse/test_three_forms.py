"""The simulator's three forms load to the same rows: CSV, CIN census XML and SSD tables.

The census has no episode ids, so rows are compared on what it carries: the child's
pseudonym, dates and codes, with each part tied to its referral by the referral date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from stratify.features.config import SimulationConfig
from stratify.features.simulate import simulate
from stratify.features.warehouse.cin_load import load_cin_returns
from stratify.features.warehouse.ingest import load_extract
from stratify.features.warehouse.pseudonymise import SYNTHETIC_DEMO_KEY
from stratify.features.warehouse.ssd import load_ssd

#: Each CIN-derived table as natural keys and values (referral parts by referral date).
QUERIES = {
    "referrals": "SELECT person_id, referral_date, source, primary_need, nfa, closure_date, "
    "closure_reason FROM referrals",
    "assessments": "SELECT a.person_id, r.referral_date, a.start_date, a.authorised_date "
    "FROM assessments a JOIN referrals r USING (referral_id)",
    "assessment_factors": "SELECT a.person_id, r.referral_date, a.start_date, f.factor FROM "
    "assessment_factors f JOIN assessments a USING (assessment_id) "
    "JOIN referrals r USING (referral_id)",
    "section47": "SELECT s.person_id, r.referral_date, s.start_date, s.icpc_date "
    "FROM section47 s JOIN referrals r USING (referral_id)",
    "cin_plans": "SELECT p.person_id, r.referral_date, p.start_date, p.end_date "
    "FROM cin_plans p JOIN referrals r USING (referral_id)",
    "cp_plans": "SELECT p.person_id, r.referral_date, p.start_date, p.end_date, "
    "p.initial_category FROM cp_plans p JOIN referrals r USING (referral_id)",
    # persons the census carries: children with a referral
    "persons": "SELECT person_id, birth_month, sex, ethnicity, disability, is_child FROM persons "
    "WHERE person_id IN (SELECT person_id FROM referrals)",
}


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return sorted(con.execute(sql).fetchall(), key=str)


@pytest.fixture(scope="module")
def borough(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated borough in all three forms, with its CSV extract loaded."""
    root = tmp_path_factory.mktemp("three-forms")
    cfg = SimulationConfig(children=2500, years=3, burn_in_years=2, truth_sample=10,
                           truth_replicates=10, seed=4)  # fmt: skip
    simulate(cfg, root / "sim")
    load_extract(root / "sim" / "extract", root / "csv.duckdb", key=SYNTHETIC_DEMO_KEY)
    return root


@pytest.mark.slow
def test_xml_and_csv_give_the_same_cin_rows(borough: Path) -> None:
    returns = sorted(p.name for p in (borough / "sim" / "cin_xml").glob("*.xml"))
    assert returns == [f"cin-{y}.xml" for y in range(2021, 2026)]
    from_xml = load_cin_returns(borough / "sim" / "cin_xml", borough / "xml.duckdb",
                                key=SYNTHETIC_DEMO_KEY)  # fmt: skip
    assert [i for i in from_xml.issues if i.severity != "note"] == []
    assert from_xml.load.extract_date == dt.date(2025, 3, 31)
    for table, sql in QUERIES.items():
        csv_rows = _rows(borough / "csv.duckdb", sql)
        assert len(csv_rows) > 0, table
        assert _rows(borough / "xml.duckdb", sql) == csv_rows, table
    with duckdb.connect(str(borough / "xml.duckdb"), read_only=True) as con:
        [(n,)] = con.execute("SELECT count(*) FROM persons").fetchall()
    assert n == len(_rows(borough / "csv.duckdb", QUERIES["persons"]))


#: What the SSD carries beyond the census, compared on its own ids (the SSD keeps them).
SSD_QUERIES = {
    **{t: f"SELECT * FROM {t}" for t in ("referrals", "assessments", "assessment_factors",
                                          "section47", "cin_plans", "cp_plans")},
    "persons": "SELECT person_id, birth_month, sex, ethnicity, disability FROM persons "
    "WHERE is_child",
    "early_help": "SELECT episode_id, person_id, start_date, end_date, outcome FROM early_help",
    "looked_after": "SELECT episode_id, person_id, start_date, end_date FROM looked_after",
}  # fmt: skip


@pytest.mark.slow
def test_ssd_and_csv_give_the_same_rows(borough: Path) -> None:
    """The SSD keeps source ids: every mapped table matches row for row (ids pseudonymised)."""
    result = load_ssd(borough / "sim" / "ssd", borough / "ssd.duckdb", key=SYNTHETIC_DEMO_KEY)
    assert set(result.absent) == {"residences", "agency_events"}
    for table, sql in SSD_QUERIES.items():
        csv_rows = _rows(borough / "csv.duckdb", sql)
        assert len(csv_rows) > 0, table
        assert _rows(borough / "ssd.duckdb", sql) == csv_rows, table
