"""CIN census XML returns: every supported schema year, merging years, the report.

Each year gets the same hand-made two-child return; the expected warehouse rows are
written out by hand below (ids compared through the same keyed HMAC).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from stratify.features.warehouse.cin_load import load_cin_returns
from stratify.features.warehouse.cin_years import CENSUS_YEARS
from stratify.features.warehouse.pseudonymise import pseudonymise
from stratify.features.warehouse.report import REPORT_CSV, REPORT_HTML
from tests.features.warehouse.cin_returns import KEY, census, child, episode, line_of, write


def _pid(raw: str, namespace: str = "person") -> str:
    return str(pseudonymise(pa.array([raw]), namespace, KEY)[0])


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def two_children(year: int) -> str:
    """C1: a referral with an assessment, a CIN plan, a s47 and a CP plan; C2: NFA, closed."""
    y0 = year - 1
    sex1, sex2 = (
        (("Sex", "M"), ("Sex", "F"))
        if year >= 2025
        else (("GenderCurrent", "1"), ("GenderCurrent", "2"))
    )
    c1 = child(
        "C1",
        sex=sex1,
        birth="2010-06-14",
        episodes=[
            episode(
                f"{y0}-05-03",
                assessments=[(f"{y0}-05-04", f"{y0}-06-01", ["3A", "2A"])],
                cin_plans=[(f"{y0}-06-10", f"{y0}-09-30")],
                s47=[(f"{y0}-07-01", f"{y0}-07-15")],
                cp_plans=[(f"{y0}-07-15", None, "NEG")],
            )
        ],
    )
    c2 = child(
        "C2",
        sex=sex2,
        birth="2012-02-20",
        ethnicity="BAFR",
        disabilities=["NONE", "HEAR", "VIS"],
        episodes=[
            episode(
                f"{y0}-10-01", source="6", need=None, nfa="true", closure=(f"{y0}-10-05", "RC8")
            )
        ],
    )
    return census(year, [c1, c2])


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return sorted(con.execute(sql).fetchall(), key=str)


@pytest.mark.parametrize("year", sorted(CENSUS_YEARS))
def test_each_schema_year_loads_the_hand_made_return(tmp_path: Path, year: int) -> None:
    src = write(tmp_path / "returns", f"cin-{year}.xml", two_children(year))
    wh = tmp_path / "wh.duckdb"
    result = load_cin_returns(src, wh, key=KEY)
    y0 = year - 1
    c1, c2 = _pid("C1"), _pid("C2")
    assert result.years == [year]
    assert [i for i in result.issues if i.severity != "note"] == []
    assert rows(
        wh,
        "SELECT person_id, birth_month, sex, ethnicity, disability, lsoa, "
        "imd_decile, locality, is_child FROM persons",
    ) == sorted(
        [
            (c1, _d("2010-06-01"), "1", "WBRI", "NONE", None, None, None, True),
            (c2, _d("2012-02-01"), "2", "BAFR", "HEAR", None, None, None, True),
        ],
        key=str,
    )
    assert rows(
        wh,
        "SELECT person_id, referral_date, source, primary_need, nfa, closure_date, "
        "closure_reason FROM referrals",
    ) == sorted(
        [
            (c1, _d(f"{y0}-05-03"), "2A", "N1", False, None, None),
            (c2, _d(f"{y0}-10-01"), "6", "N0", True, _d(f"{y0}-10-05"), "RC8"),
        ],
        key=str,
    )
    ref1 = _pid(f"C1/{y0}-05-03", "referral")
    assert rows(
        wh, "SELECT referral_id, person_id, start_date, authorised_date FROM assessments"
    ) == [(ref1, c1, _d(f"{y0}-05-04"), _d(f"{y0}-06-01"))]
    assert rows(wh, "SELECT factor FROM assessment_factors") == [("2A",), ("3A",)]
    assert rows(wh, "SELECT referral_id, start_date, end_date FROM cin_plans") == [
        (ref1, _d(f"{y0}-06-10"), _d(f"{y0}-09-30"))
    ]
    assert rows(wh, "SELECT start_date, icpc_date FROM section47") == [
        (_d(f"{y0}-07-01"), _d(f"{y0}-07-15"))
    ]
    assert rows(wh, "SELECT start_date, end_date, initial_category FROM cp_plans") == [
        (_d(f"{y0}-07-15"), None, "NEG")
    ]
    for empty in ("household_members", "residences", "early_help", "agency_events"):
        assert rows(wh, f"SELECT count(*) FROM {empty}") == [(0,)]
    assert rows(wh, "SELECT value FROM _stratify_meta WHERE key = 'extract_date'") == [
        (f"{year}-03-31",)
    ]
    # the report sits beside the return, not beside the warehouse
    assert (src.parent / REPORT_CSV).is_file() and (src.parent / REPORT_HTML).is_file()
    assert not (tmp_path / REPORT_CSV).exists()


def test_later_return_wins_and_conflicts_are_queries(tmp_path: Path) -> None:
    """2021: C1's referral open, need N1, one assessment. 2022: closed RC7, need N2, a CIN plan.

    Merged: one referral, closed 2021-12-01 RC7 (an update, no query), need N2 (N1 in the
    earlier return: one STR-CONFLICT query), both the assessment and the plan kept.
    """
    first = census(
        2021,
        [
            child(
                "C1",
                episodes=[
                    episode(
                        "2020-11-02", need="N1", assessments=[("2020-11-03", "2020-12-01", ["3A"])]
                    )
                ],
            )
        ],
    )
    second = census(
        2022,
        [
            child(
                "C1",
                episodes=[
                    episode(
                        "2020-11-02",
                        need="N2",
                        closure=("2021-12-01", "RC7"),
                        assessments=[("2020-11-03", "2020-12-01", ["3A"])],
                        cin_plans=[("2020-12-10", "2021-11-30")],
                    )
                ],
            )
        ],
    )
    folder = tmp_path / "returns"
    write(folder, "cin-2021.xml", first)
    write(folder, "cin-2022.xml", second)
    result = load_cin_returns(folder, tmp_path / "wh.duckdb", key=KEY)
    wh = tmp_path / "wh.duckdb"
    assert rows(
        wh, "SELECT referral_date, primary_need, closure_date, closure_reason FROM referrals"
    ) == [(_d("2020-11-02"), "N2", _d("2021-12-01"), "RC7")]
    assert rows(wh, "SELECT count(*) FROM assessments") == [(1,)]
    assert rows(wh, "SELECT count(*) FROM cin_plans") == [(1,)]
    queries = [i for i in result.issues if i.severity == "query"]
    assert [(Path(q.file).name, q.line, q.child, q.field, q.value, q.rule) for q in queries] == [
        (
            "cin-2022.xml",
            line_of(second, "<CINdetails>"),
            "C1",
            "PrimaryNeedCode",
            "N2",
            "STR-CONFLICT",
        )
    ]
    assert "cin-2021.xml had N1" in queries[0].message
    assert result.years == [2021, 2022]


def test_quarantine_loads_the_clean_children_and_lists_the_others(tmp_path: Path) -> None:
    bad = child("BAD1", ethnicity="XXXX", episodes=[episode("2021-05-01")])
    good = child("OK1", episodes=[episode("2021-06-01")])
    src = write(tmp_path / "r", "cin.xml", census(2022, [bad, good]))
    result = load_cin_returns(src, tmp_path / "wh.duckdb", key=KEY, quarantine=True)
    assert result.quarantined == ["BAD1"]
    assert rows(tmp_path / "wh.duckdb", "SELECT person_id FROM persons") == [(_pid("OK1"),)]
    with (src.parent / REPORT_CSV).open() as f:
        report = list(csv.DictReader(f))
    assert [(r["child"], r["field"], r["value"], r["rule"], r["severity"]) for r in report] == [
        ("BAD1", "Ethnicity", "XXXX", "STR-CODE", "error")
    ]
    assert "Quarantined children (1)" in (src.parent / REPORT_HTML).read_text()


def test_preproceedings_block_is_skipped_with_a_note(tmp_path: Path) -> None:
    block = ["<PreProceedings>", "<PPStartDate>2025-05-01</PPStartDate>", "</PreProceedings>"]
    text = census(
        2026, [child("C1", sex=("Sex", "U"), episodes=[episode("2025-04-10", extra=block)])]
    )
    src = write(tmp_path / "r", "cin.xml", text)
    result = load_cin_returns(src, tmp_path / "wh.duckdb", key=KEY)
    notes = [(i.line, i.rule, i.severity) for i in result.issues]
    assert notes == [(line_of(text, "<PreProceedings>"), "STR-SKIPPED", "note")]
    assert rows(tmp_path / "wh.duckdb", "SELECT sex FROM persons") == [("0",)]
