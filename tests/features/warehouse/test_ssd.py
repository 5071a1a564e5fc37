"""SSD tables loaded through the declared mapping: values, codes, JSON factors, bad folders.

The hand-made SSD folder below has two children; every expected warehouse row is written
out by hand (ids compared through the same keyed HMAC).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from stratify.features.warehouse.pseudonymise import pseudonymise
from stratify.features.warehouse.ssd import SsdInvalid, load_ssd, needed

KEY = b"test-key-for-ssd-tables-0123456789"

SSD: dict[str, list[dict[str, str]]] = {
    "ssd_person": [
        {"pers_person_id": "S1", "pers_forename": "x", "pers_sex": "M", "pers_ethnicity": "WBRI",
         "pers_dob": "2012-03-15 00:00:00", "pers_expected_dob": ""},
        {"pers_person_id": "S2", "pers_forename": "y", "pers_sex": "F", "pers_ethnicity": "BAFR",
         "pers_dob": "", "pers_expected_dob": "2021-11-20 00:00:00"},
    ],
    "ssd_disability": [
        {"disa_table_id": "D1", "disa_person_id": "S2", "disa_disability_code": "AUT"},
    ],
    "ssd_family": [
        {"fami_table_id": "1", "fami_family_id": "F1", "fami_person_id": "S1"},
        {"fami_table_id": "2", "fami_family_id": "F1", "fami_person_id": "S2"},
    ],
    "ssd_cin_episodes": [
        {"cine_referral_id": "R1", "cine_person_id": "S1", "cine_referral_date": "2021-05-03",
         "cine_cin_primary_need_code": "N1", "cine_referral_source_code": "2A",
         "cine_referral_nfa": "N", "cine_close_reason": "RC7", "cine_close_date": "2021-12-01"},
        {"cine_referral_id": "R2", "cine_person_id": "S2", "cine_referral_date": "2022-01-10",
         "cine_cin_primary_need_code": "N0", "cine_referral_source_code": "6",
         "cine_referral_nfa": "Y", "cine_close_reason": "RC8", "cine_close_date": "2022-01-12"},
    ],
    "ssd_cin_assessments": [
        {"cina_assessment_id": "A1", "cina_person_id": "S1", "cina_referral_id": "R1",
         "cina_assessment_start_date": "2021-05-04", "cina_assessment_auth_date": "2021-06-01"},
    ],
    "ssd_assessment_factors": [
        {"cinf_table_id": "T1", "cinf_assessment_id": "A1",
         "cinf_assessment_factors_json": '["3A", "2B"]'},
    ],
    "ssd_s47_enquiry": [
        {"s47e_s47_enquiry_id": "E1", "s47e_referral_id": "R1", "s47e_person_id": "S1",
         "s47e_s47_start_date": "2021-05-10"},
    ],
    "ssd_initial_cp_conference": [
        {"icpc_icpc_id": "C1", "icpc_s47_enquiry_id": "E1",
         "icpc_icpc_date": "2021-05-25 10:00:00"},
    ],
    "ssd_cin_plans": [
        {"cinp_cin_plan_id": "P1", "cinp_referral_id": "R1", "cinp_person_id": "S1",
         "cinp_cin_plan_start_date": "2021-06-02", "cinp_cin_plan_end_date": "2021-08-30"},
    ],
    "ssd_cp_plans": [
        {"cppl_cp_plan_id": "K1", "cppl_referral_id": "R1", "cppl_person_id": "S1",
         "cppl_cp_plan_start_date": "2021-05-25", "cppl_cp_plan_end_date": "",
         "cppl_cp_plan_initial_category": "NEG"},
    ],
    "ssd_cla_episodes": [
        {"clae_cla_episode_id": "L1", "clae_person_id": "S1",
         "clae_cla_episode_start_date": "2021-11-30", "clae_cla_episode_ceased_date": ""},
    ],
    "ssd_legal_status": [
        {"lega_legal_status_id": "G1", "lega_person_id": "S1", "lega_legal_status": "C2"},
    ],
    "ssd_early_help_episodes": [
        {"earl_episode_id": "EH1", "earl_person_id": "S2", "earl_episode_start_date": "2021-01-01",
         "earl_episode_end_date": "2021-06-30", "earl_episode_end_reason": "Outcomes met"},
    ],
}  # fmt: skip


def write_ssd(folder: Path, tables: dict[str, list[dict[str, str]]] = SSD) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with (folder / f"{name}.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return folder


def _pid(raw: str, namespace: str = "person") -> str:
    return str(pseudonymise(pa.array([raw]), namespace, KEY)[0])


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def rows(wh: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return sorted(con.execute(sql).fetchall(), key=str)


def test_the_hand_made_ssd_folder_loads_as_worked_out_by_hand(tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    result = load_ssd(write_ssd(tmp_path / "ssd"), wh, key=KEY)
    s1, s2, hh = _pid("S1"), _pid("S2"), _pid("F1", "household")
    assert rows(
        wh, "SELECT person_id, birth_month, sex, ethnicity, disability, lsoa, is_child FROM persons"
    ) == sorted(
        [
            (s1, _d("2012-03-01"), "1", "WBRI", "NONE", None, True),
            (s2, _d("2021-11-01"), "2", "BAFR", "AUT", None, True),
        ],
        key=str,
    )
    assert rows(
        wh, "SELECT household_id, person_id, role, start_date FROM household_members"
    ) == sorted([(hh, s1, "child", _d("2012-03-15")), (hh, s2, "child", _d("2021-11-20"))], key=str)
    assert rows(
        wh,
        "SELECT person_id, referral_date, source, primary_need, nfa, closure_date, "
        "closure_reason FROM referrals",
    ) == sorted(
        [
            (s1, _d("2021-05-03"), "2A", "N1", False, _d("2021-12-01"), "RC7"),
            (s2, _d("2022-01-10"), "6", "N0", True, _d("2022-01-12"), "RC8"),
        ],
        key=str,
    )
    assert rows(wh, "SELECT factor FROM assessment_factors") == [("2B",), ("3A",)]
    assert rows(wh, "SELECT start_date, icpc_date FROM section47") == [
        (_d("2021-05-10"), _d("2021-05-25"))
    ]
    assert rows(wh, "SELECT start_date, end_date, initial_category FROM cp_plans") == [
        (_d("2021-05-25"), None, "NEG")
    ]
    assert rows(wh, "SELECT person_id, start_date, legal_status FROM looked_after") == [
        (s1, _d("2021-11-30"), "C2")
    ]
    assert rows(wh, "SELECT person_id, household_id, outcome FROM early_help") == [
        (s2, hh, "needs_met")
    ]
    assert set(result.absent) == {"residences", "agency_events"}
    assert result.load.extract_date == _d("2022-01-12")  # the latest date in the tables


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A warehouse already loaded from the good SSD folder."""
    wh = tmp_path / "wh.duckdb"
    load_ssd(write_ssd(tmp_path / "good"), wh, key=KEY)
    return wh


def refused(folder: Path, warehouse: Path) -> list[tuple]:
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    with pytest.raises(SsdInvalid) as info:
        load_ssd(folder, warehouse, key=KEY)
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
    assert info.value.report[0].parent == folder
    return [(Path(i.file).name, i.line, i.child, i.field, i.value, i.rule)
            for i in info.value.issues]  # fmt: skip


def test_a_missing_table_is_named(tmp_path: Path, warehouse: Path) -> None:
    folder = write_ssd(tmp_path / "ssd")
    (folder / "ssd_cp_plans.csv").unlink()
    assert refused(folder, warehouse) == [
        ("ssd_cp_plans.csv", None, "", "", "ssd_cp_plans.csv", "STR-SSD-TABLE")
    ]


def test_a_missing_column_is_named(tmp_path: Path, warehouse: Path) -> None:
    tables = {**SSD, "ssd_cin_episodes": [
        {k: v for k, v in r.items() if k != "cine_referral_date"} for r in SSD["ssd_cin_episodes"]
    ]}  # fmt: skip
    folder = write_ssd(tmp_path / "ssd", tables)
    assert refused(folder, warehouse) == [
        ("ssd_cin_episodes.csv", None, "", "cine_referral_date", "", "STR-SSD-COLUMN")
    ]
    assert set(needed()) >= {"ssd_person", "ssd_family", "ssd_cin_episodes", "ssd_disability"}


def test_untranslatable_codes_and_bad_json_name_file_line_and_field(
    tmp_path: Path, warehouse: Path
) -> None:
    person = [{**SSD["ssd_person"][0]}, {**SSD["ssd_person"][1], "pers_sex": "X"}]
    factors = [{**SSD["ssd_assessment_factors"][0], "cinf_assessment_factors_json": "3A;2B"}]
    tables = {**SSD, "ssd_person": person, "ssd_assessment_factors": factors}
    folder = write_ssd(tmp_path / "ssd", tables)
    found = refused(folder, warehouse)
    assert ("ssd_person.csv", 3, "S2", "pers_sex", "X", "STR-WAREHOUSE") in found
    assert ("ssd_assessment_factors.csv", 2, "", "cinf_assessment_factors_json", "3A;2B",
            "STR-WAREHOUSE") in found  # fmt: skip
    assert len(found) == 2


def test_cli_loads_ssd_and_names_the_absent_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from stratify.cli import app

    monkeypatch.setenv("STRATIFY_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.setenv("STRATIFY_HOME", str(tmp_path / "home"))
    folder, wh = write_ssd(tmp_path / "ssd"), tmp_path / "wh.duckdb"
    out = CliRunner().invoke(app, ["load", "--ssd", str(folder), "--warehouse", str(wh)],
                             env={"COLUMNS": "200"})  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "agency_events" in out.output and "residences" in out.output
    assert "S1" not in out.output
    both = CliRunner().invoke(app, ["load", "--ssd", str(folder), "--cin-xml", str(folder)])
    assert both.exit_code == 2 and "exactly one of" in both.output
