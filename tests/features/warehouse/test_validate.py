"""Validation rules on raw tables built straight from the hand-made extract.

Row keys carry the CSV line: the header is line 1, so the n-th row is on line n + 1.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from rich.console import Console

from stratify.features.warehouse import validate as v
from stratify.features.warehouse.validate import Violation
from tests.features.extract import ExtractBuilder

Edit = Callable[[ExtractBuilder], None]


def check(builder: ExtractBuilder) -> list[Violation]:
    """Load the builder's tables as raw VARCHAR relations (empty -> NULL) and validate."""
    con = duckdb.connect()
    raw = {}
    for name, rows in builder.tables.items():
        columns = {c: pa.array([r[c] or None for r in rows], pa.string()) for c in rows[0]}
        columns[v.LINE] = pa.array(range(2, len(rows) + 2), pa.int64())
        con.register(f"arrow_{name}", pa.table(columns))
        con.execute(f'CREATE TABLE "raw_{name}" AS SELECT * FROM "arrow_{name}"')
        raw[name] = f"raw_{name}"
    return v.validate_extract(con, raw)


def test_valid_extract_has_no_violations(extract: ExtractBuilder) -> None:
    assert check(extract) == []


def _set(table: str, key: str, column: str, value: str) -> Edit:
    return lambda b: b.row(table, key).__setitem__(column, value)


def _add_column(b: ExtractBuilder) -> None:
    for r in b.tables["persons"]:
        r["surname"] = "Smith"


HM1 = "household_id=RAWID-HOUSEHOLD-01, person_id=RAWID-PERSON-0001, start_date=2015-06-17"

CASES: dict[str, tuple[Edit, list[Violation]]] = {
    "missing table file": (
        lambda b: b.tables.pop("looked_after"),
        [Violation("looked_after", "", "", "looked_after.csv", v.RULE_MISSING_TABLE)],
    ),
    "unknown column": (
        _add_column,
        [Violation("persons", "", "surname", "", v.RULE_UNKNOWN_COLUMN)],
    ),
    "missing birth month": (
        lambda b: b.drop_column("persons", "birth_date"),
        [Violation("persons", "", "birth_month", "", v.RULE_MISSING_COLUMN)],
    ),
    "empty required value": (
        lambda b: b.tables["household_members"][0].__setitem__("role", ""),
        [Violation("household_members", f"{HM1} (line 2)", "role", "", v.RULE_EMPTY)],
    ),
    "empty key": (
        _set("agency_events", "RAWID-EVENT-002", "event_id", ""),
        [Violation("agency_events", "line 3", "event_id", "", v.RULE_EMPTY)],
    ),
    "malformed boolean": (
        _set("persons", "RAWID-PERSON-0002", "is_child", "yes"),
        [
            Violation(
                "persons", "person_id=RAWID-PERSON-0002 (line 3)", "is_child", "yes", v.RULE_BOOLEAN
            )
        ],
    ),
    "malformed integer": (
        lambda b: b.tables["residences"][1].__setitem__("imd_decile", "3.5"),
        [
            Violation(
                "residences",
                "household_id=RAWID-HOUSEHOLD-01, start_date=2020-01-01 (line 3)",
                "imd_decile",
                "3.5",
                v.RULE_INTEGER,
            )
        ],
    ),
    "imd decile out of range": (
        _set("persons", "RAWID-PERSON-0001", "imd_decile", "11"),
        [
            Violation(
                "persons",
                "person_id=RAWID-PERSON-0001 (line 2)",
                "imd_decile",
                "11",
                "not an IMD decile (1-10)",
            )
        ],
    ),
    "impossible date": (
        _set("assessments", "RAWID-ASSESSMENT-003", "start_date", "2023-02-30"),
        [
            Violation(
                "assessments",
                "assessment_id=RAWID-ASSESSMENT-003 (line 4)",
                "start_date",
                "2023-02-30",
                v.RULE_DATE,
            )
        ],
    ),
    "date without leading zeros": (
        lambda b: b.tables["household_members"][4].__setitem__("end_date", "2022-8-31"),
        [
            Violation(
                "household_members",
                "household_id=RAWID-HOUSEHOLD-02, person_id=RAWID-PERSON-0005, "
                "start_date=2008-05-01 (line 6)",
                "end_date",
                "2022-8-31",
                v.RULE_DATE,
            )
        ],
    ),
    "code not in list": (
        _set("cp_plans", "RAWID-CPPLAN-01", "initial_category", "NEGLECT"),
        [
            Violation(
                "cp_plans",
                "plan_id=RAWID-CPPLAN-01 (line 2)",
                "initial_category",
                "NEGLECT",
                "not a DfE category of abuse code",
            )
        ],
    ),
    "duplicate primary key": (
        _set("agency_events", "RAWID-EVENT-003", "event_id", "RAWID-EVENT-001"),
        [
            Violation(
                "agency_events",
                "event_id=RAWID-EVENT-001 (line 4)",
                "event_id",
                "also on line 2",
                v.RULE_DUPLICATE,
            )
        ],
    ),
    "end before start": (
        _set("early_help", "RAWID-EH-01", "end_date", "2020-08-31"),
        [
            Violation(
                "early_help",
                "episode_id=RAWID-EH-01 (line 2)",
                "end_date",
                "2020-08-31",
                v.RULE_DATE_ORDER.format(later="end_date", earlier="start_date"),
            )
        ],
    ),
    "enquiry before its referral": (
        _set("section47", "RAWID-S47-01", "start_date", "2022-05-01"),
        [
            Violation(
                "section47",
                "s47_id=RAWID-S47-01 (line 2)",
                "start_date",
                "2022-05-01",
                "start_date is before referrals.referral_date",
            )
        ],
    ),
    "plan about another child": (
        _set("cin_plans", "RAWID-CINPLAN-01", "person_id", "RAWID-PERSON-0002"),
        [
            Violation(
                "cin_plans",
                "plan_id=RAWID-CINPLAN-01 (line 2)",
                "person_id",
                "RAWID-PERSON-0002",
                "person_id differs from referrals.person_id",
            )
        ],
    ),
    "household not in household_members": (
        _set("early_help", "RAWID-EH-02", "household_id", "RAWID-HOUSEHOLD-09"),
        [
            Violation(
                "early_help",
                "episode_id=RAWID-EH-02 (line 3)",
                "household_id",
                "RAWID-HOUSEHOLD-09",
                "not found in household_members.household_id",
            )
        ],
    ),
    "NFA referral with an assessment": (
        _set("referrals", "RAWID-REFERRAL-001", "nfa", "true"),
        [
            Violation(
                "referrals",
                "referral_id=RAWID-REFERRAL-001 (line 2)",
                "nfa",
                "true",
                "NFA referral has an assessment",
            )
        ],
    ),
    "closure date without reason, reason without date": (
        lambda b: (
            _set("referrals", "RAWID-REFERRAL-001", "closure_reason", "")(b),
            _set("referrals", "RAWID-REFERRAL-003", "closure_reason", "RC1")(b),
        ),
        [
            Violation(
                "referrals",
                "referral_id=RAWID-REFERRAL-001 (line 2)",
                "closure_reason",
                "",
                "closure_date is set but closure_reason is empty",
            ),
            Violation(
                "referrals",
                "referral_id=RAWID-REFERRAL-003 (line 4)",
                "closure_date",
                "",
                "closure_reason is set but closure_date is empty",
            ),
        ],
    ),
}


def test_every_rule_reports_exactly_its_violations_all_at_once(extract: ExtractBuilder) -> None:
    # One run with every case applied: each case touches different rows, so a missing,
    # extra or masked violation from any rule shows up as a difference. (Running the
    # cases one by one costs a validation each; test_ingest does that for five cases.)
    for edit, _ in CASES.values():
        edit(extract)
    found = check(extract)
    expected = [x for _, violations in CASES.values() for x in violations]
    assert sorted(found, key=repr) == sorted(expected, key=repr)
    assert len(found) == 19
    tables = [t.name for t in v.TABLES]
    keys = [(tables.index(x.table), x.row_key != "", _line(x.row_key)) for x in found]
    assert keys == sorted(keys)  # report order: table, file-level first, then line


def _line(row_key: str) -> int:
    return int(row_key.rsplit("line ", 1)[1].rstrip(")")) if row_key else 0


@pytest.mark.parametrize("case", ["empty key", "NFA referral with an assessment"])
def test_single_rules_alone(extract: ExtractBuilder, case: str) -> None:
    edit, expected = CASES[case]
    edit(extract)
    assert check(extract) == expected


def test_birth_month_may_be_given_as_year_and_month(extract: ExtractBuilder) -> None:
    for r in extract.tables["persons"]:
        r["birth_month"] = r.pop("birth_date")[:7]
    assert check(extract) == []
    extract.row("persons", "RAWID-PERSON-0003")["birth_month"] = "1985-13"
    assert check(extract) == [
        Violation(
            "persons",
            "person_id=RAWID-PERSON-0003 (line 4)",
            "birth_month",
            "1985-13",
            v.RULE_MONTH,
        )
    ]


def test_exact_birth_date_must_be_a_full_date(extract: ExtractBuilder) -> None:
    extract.row("persons", "RAWID-PERSON-0003")["birth_date"] = "1985-03"
    assert check(extract) == [
        Violation(
            "persons", "person_id=RAWID-PERSON-0003 (line 4)", "birth_month", "1985-03", v.RULE_DATE
        )
    ]


def test_write_report_and_render(tmp_path: Path) -> None:
    violations = [
        Violation("referrals", "referral_id=R1 (line 2)", "source", "[bold]99", "not a code"),
        Violation("persons", "", "surname", "", v.RULE_UNKNOWN_COLUMN),
    ]
    path = v.write_report(violations, tmp_path / "reports" / "v.csv")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["table", "row_key", "column", "value", "rule"]
    assert rows[1:] == [list(x.__dict__.values()) for x in violations]
    console = Console(record=True, width=200)
    console.print(v.violations_table(violations))
    assert "[bold]99" in console.export_text()  # shown literally, not as markup
