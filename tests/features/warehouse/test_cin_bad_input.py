"""Bad CIN census returns: each names file, line and field; nothing is half-written.

Every test starts from a loaded warehouse and checks that the failed load leaves it
byte for byte as it was.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stratify.cli import app
from stratify.features.warehouse.cin_load import CinReturnsInvalid, load_cin_returns
from stratify.features.warehouse.report import REPORT_CSV
from tests.features.warehouse.cin_returns import KEY, census, child, episode, line_of, write

GOOD = census(2022, [child("G1", episodes=[episode("2021-05-01")])])


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A warehouse already loaded from a good return."""
    wh = tmp_path / "wh.duckdb"
    load_cin_returns(write(tmp_path / "good", "cin.xml", GOOD), wh, key=KEY)
    return wh


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(src: Path, warehouse: Path, *, quarantine: bool = False) -> list[tuple]:
    """Load ``src``, expect a refusal, check the warehouse is unchanged; return the errors."""
    before = _digest(warehouse)
    with pytest.raises(CinReturnsInvalid) as info:
        load_cin_returns(src, warehouse, key=KEY, quarantine=quarantine)
    assert _digest(warehouse) == before
    assert sorted(p.name for p in warehouse.parent.iterdir() if p.name.startswith("wh")) == [
        "wh.duckdb"
    ]
    assert info.value.report[0].parent == (src if src.is_dir() else src.parent)
    return [
        (Path(i.file).name, i.line, i.child, i.field, i.value, i.rule)
        for i in info.value.issues
        if i.severity == "error"
    ]


def test_malformed_xml_names_the_line(tmp_path: Path, warehouse: Path) -> None:
    text = GOOD.replace("<Ethnicity>WBRI</Ethnicity>", "<Ethnicity>WBRI</Ethnic>")
    src = write(tmp_path / "r", "cin.xml", text)
    [(name, line, _, _, _, rule)] = refused(src, warehouse)
    assert (name, line, rule) == ("cin.xml", line_of(text, "</Ethnic>"), "STR-XML")


def test_truncated_return_refuses_even_in_quarantine(tmp_path: Path, warehouse: Path) -> None:
    text = GOOD[: GOOD.index("<ReferralSource>")]
    src = write(tmp_path / "r", "cin.xml", text)
    [(name, line, _, _, _, rule)] = refused(src, warehouse, quarantine=True)
    assert (name, rule) == ("cin.xml", "STR-XML")
    assert line == len(text.splitlines()) + 1  # the end of the file, after the last newline


def test_wrong_namespace(tmp_path: Path, warehouse: Path) -> None:
    text = census(2022, [], root='<Message xmlns="http://example.org/cin">')
    src = write(tmp_path / "r", "cin.xml", text)
    assert refused(src, warehouse) == [
        ("cin.xml", 2, "", "Message", "http://example.org/cin", "STR-NS")
    ]


def test_not_xml(tmp_path: Path, warehouse: Path) -> None:
    src = write(tmp_path / "r", "cin.xml", "person_id,sex\nP1,1\n")
    [(name, line, _, _, _, rule)] = refused(src, warehouse)
    assert (name, line, rule) == ("cin.xml", 1, "STR-XML")


def test_unknown_schema_year(tmp_path: Path, warehouse: Path) -> None:
    text = GOOD.replace("<Year>2022</Year>", "<Year>2015</Year>")
    src = write(tmp_path / "r", "cin.xml", text)
    [(name, line, _, fld, value, rule)] = refused(src, warehouse)
    assert (name, fld, value, rule) == ("cin.xml", "Year", "2015", "STR-YEAR")
    assert line == line_of(text, "<Year>")


def test_invalid_codes(tmp_path: Path, warehouse: Path) -> None:
    c = child(
        "C1",
        sex=("GenderCurrent", "M"),
        episodes=[
            episode("2021-05-01", source="99", need="N12", cp_plans=[("2021-06-01", None, "ZZZ")])
        ],
    )
    text = census(2022, [c])
    src = write(tmp_path / "r", "cin.xml", text)
    assert refused(src, warehouse) == [
        ("cin.xml", line_of(text, "<GenderCurrent>"), "C1", "GenderCurrent", "M", "STR-CODE"),
        ("cin.xml", line_of(text, "<ReferralSource>"), "C1", "ReferralSource", "99", "STR-CODE"),
        ("cin.xml", line_of(text, "<PrimaryNeedCode>"), "C1", "PrimaryNeedCode", "N12", "8650"),
        (
            "cin.xml",
            line_of(text, "<InitialCategoryOfAbuse>"),
            "C1",
            "InitialCategoryOfAbuse",
            "ZZZ",
            "STR-CODE",
        ),
    ]


def test_sex_codes_follow_the_year(tmp_path: Path, warehouse: Path) -> None:
    """2024/25 returns code sex as Sex M/F/U: a GenderCurrent element is not read."""
    text = census(2025, [child("C1", sex=("GenderCurrent", "1"), episodes=[episode("2024-05-01")])])
    src = write(tmp_path / "r", "cin.xml", text)
    assert refused(src, warehouse) == [
        ("cin.xml", line_of(text, "<ChildIdentifiers>"), "C1", "Sex", "", "STR-REQUIRED")
    ]


def test_dates_after_the_census_period(tmp_path: Path, warehouse: Path) -> None:
    c = child(
        "C1", episodes=[episode("2022-04-02", cp_plans=[("2021-06-01", "2022-05-01", "NEG")])]
    )
    text = census(2022, [c])
    src = write(tmp_path / "r", "cin.xml", text)
    assert refused(src, warehouse) == [
        (
            "cin.xml",
            line_of(text, "<CINreferralDate>"),
            "C1",
            "CINreferralDate",
            "2022-04-02",
            "8600",
        ),
        ("cin.xml", line_of(text, "<CPPendDate>"), "C1", "CPPendDate", "2022-05-01", "STR-PERIOD"),
    ]


def test_malformed_date(tmp_path: Path, warehouse: Path) -> None:
    text = census(2022, [child("C1", episodes=[episode("2021-13-01")])])
    src = write(tmp_path / "r", "cin.xml", text)
    assert refused(src, warehouse) == [
        (
            "cin.xml",
            line_of(text, "<CINreferralDate>"),
            "C1",
            "CINreferralDate",
            "2021-13-01",
            "STR-DATE",
        )
    ]


def test_duplicate_children(tmp_path: Path, warehouse: Path) -> None:
    text = census(
        2022,
        [
            child("C1", episodes=[episode("2021-05-01")]),
            child("C1", episodes=[episode("2021-07-01")]),
        ],
    )
    src = write(tmp_path / "r", "cin.xml", text)
    assert refused(src, warehouse) == [
        ("cin.xml", line_of(text, "<Child>", 2), "C1", "LAchildID", "C1", "8510")
    ]


def test_two_returns_for_one_year(tmp_path: Path, warehouse: Path) -> None:
    folder = tmp_path / "r"
    write(folder, "a.xml", GOOD)
    write(folder, "b.xml", GOOD)
    assert refused(folder, warehouse) == [("b.xml", None, "", "Year", "2022", "STR-RETURN")]


def test_xsd_catches_what_the_census_checks_do_not(tmp_path: Path, warehouse: Path) -> None:
    """2023/24 has its XSD: a malformed UPN (not read by stratify) is still an error."""
    text = census(2024, [child("C1", episodes=[episode("2023-05-01")])])
    text = text.replace("<PersonBirthDate>", "<UPN>123</UPN>\n<PersonBirthDate>")
    src = write(tmp_path / "r", "cin.xml", text)
    [(name, line, who, fld, _, rule)] = refused(src, warehouse)
    assert (name, line, who, fld, rule) == (
        "cin.xml",
        line_of(text, "<UPN>"),
        "C1",
        "UPN",
        "STR-XSD",
    )


def test_canonical_rules_apply_with_dfe_numbers(tmp_path: Path, warehouse: Path) -> None:
    """A CIN plan before its referral breaks DfE rule 4015 (the warehouse's date order)."""
    text = census(
        2022, [child("C1", episodes=[episode("2021-05-01", cin_plans=[("2021-04-20", None)])])]
    )
    src = write(tmp_path / "r", "cin.xml", text)
    assert refused(src, warehouse) == [
        ("cin.xml", line_of(text, "<CINPlanDates>"), "C1", "start_date", "2021-04-20", "4015")
    ]


def test_cli_refuses_and_says_where_the_report_is(
    tmp_path: Path, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATIFY_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.setenv("STRATIFY_HOME", str(tmp_path / "home"))
    text = census(2022, [child("SECRET-ID-77", ethnicity="XXXX", episodes=[episode("2021-05-01")])])
    src = write(tmp_path / "r", "cin.xml", text)
    before = _digest(warehouse)
    out = CliRunner().invoke(
        app,
        ["load", "--cin-xml", str(src.parent), "--warehouse", str(warehouse)],
        env={"COLUMNS": "200"},
    )
    assert out.exit_code == 1, out.output
    assert "SECRET-ID-77" not in out.output and "XXXX" not in out.output
    assert str(src.parent / REPORT_CSV) in out.output
    assert "never goes into the warehouse" in out.output
    assert f"cin.xml:{line_of(text, '<Ethnicity>')}" in out.output
    assert _digest(warehouse) == before
    ok = CliRunner().invoke(
        app,
        ["load", "--cin-xml", str(src), "--warehouse", str(warehouse), "--quarantine"],
        env={"COLUMNS": "200"},
    )
    assert ok.exit_code == 0, ok.output
    assert "1 child record(s) quarantined" in ok.output
