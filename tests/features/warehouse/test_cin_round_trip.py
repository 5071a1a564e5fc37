"""simulate -> CIN XML -> load gives the CSV path's CIN-derived rows.

The census has no episode ids, so rows are compared on what it carries: the child's
pseudonym, dates and codes, with each part tied to its referral by the referral date.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from stratify.features.config import SimulationConfig
from stratify.features.simulate import simulate
from stratify.features.warehouse.cin_load import load_cin_returns
from stratify.features.warehouse.ingest import load_extract

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


@pytest.mark.slow
def test_xml_and_csv_give_the_same_cin_rows(tmp_path: Path, no_key_env: None) -> None:
    cfg = SimulationConfig(children=2500, years=3, burn_in_years=2, truth_sample=10,
                           truth_replicates=10, seed=4)  # fmt: skip
    simulate(cfg, tmp_path / "sim")
    returns = sorted(p.name for p in (tmp_path / "sim" / "cin_xml").glob("*.xml"))
    assert returns == [f"cin-{y}.xml" for y in range(2021, 2026)]
    from_csv = load_extract(tmp_path / "sim" / "extract", tmp_path / "csv.duckdb")
    from_xml = load_cin_returns(tmp_path / "sim" / "cin_xml", tmp_path / "xml.duckdb")
    assert [i for i in from_xml.issues if i.severity != "note"] == []
    assert from_xml.load.extract_date == from_csv.extract_date
    for table, sql in QUERIES.items():
        csv_rows = _rows(tmp_path / "csv.duckdb", sql)
        assert len(csv_rows) > 0, table
        assert _rows(tmp_path / "xml.duckdb", sql) == csv_rows, table
    with duckdb.connect(str(tmp_path / "xml.duckdb"), read_only=True) as con:
        [(n,)] = con.execute("SELECT count(*) FROM persons").fetchall()
    assert n == len(_rows(tmp_path / "csv.duckdb", QUERIES["persons"]))
