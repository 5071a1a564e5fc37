"""The Decisions sheet, ``stratify decisions import`` and the follow-up, on the small borough.

One list of the small borough (the package's ``outcome``) is filled in as a manager
would, imported, imported again, changed, and followed up; every bad input is refused
with its sheet, row and column and records nothing. Expected figures are counted here
with plain loops over the warehouse's and the decisions database's rows.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from stratify.features.build.cohorts import add_months
from stratify.features.config import Config
from stratify.features.decisions import CONTACTED, DECISIONS, NOT_APPROPRIATE, DecisionStore
from stratify.serving.decisions import DecisionsInvalid, import_workbook
from stratify.serving.decisions.sheet import FIRST_ROW, SHEET, fill
from stratify.serving.outreach.run import OutreachOutcome
from stratify.training.followup import follow_up


def decisions_for(families: list[str]) -> list[tuple[str, str, str]]:
    """Cycle through the drop-down's values, one family after another."""
    return [(f, DECISIONS[i % len(DECISIONS)], "note" if i % 3 == 0 else "")
            for i, f in enumerate(families)]  # fmt: skip


def listed(outcome: OutreachOutcome) -> list[str]:
    return [str(f) for f in outcome.outreach.families["family"]]


def test_sheet_names_the_list_and_offers_the_drop_down(outcome: OutreachOutcome) -> None:
    wb = load_workbook(outcome.workbook)
    ws = wb[SHEET]
    assert wb.sheetnames[1] == SHEET and wb["Choices"].sheet_state == "hidden"
    assert str(ws["B2"].value).startswith("L20241001-v")
    assert ws["B3"].value.date() == outcome.outreach.as_of
    assert ws["B4"].value.endswith(f"v{outcome.outreach.model_version}")
    fams = outcome.outreach.families
    ranks = [ws[f"A{FIRST_ROW + i}"].value for i in range(len(fams))]
    assert ranks == list(range(1, len(fams) + 1))
    assert [ws[f"B{FIRST_ROW + i}"].value for i in range(len(fams))] == listed(outcome)
    [dv] = ws.data_validations.dataValidation
    assert dv.type == "list" and dv.formula1 == "'Choices'!$A$1:$A$5"
    assert str(dv.sqref) == f"D{FIRST_ROW}:D{FIRST_ROW + len(fams) - 1}"
    assert [wb["Choices"][f"A{i}"].value for i in range(1, 6)] == list(DECISIONS)
    assert "never read into a model" in ws["E8"].value


def test_round_trip_import_and_follow_up(
    outcome: OutreachOutcome, champion: tuple[Config, int], tmp_path: Path
) -> None:
    cfg = champion[0]
    store = DecisionStore.in_work(cfg.work_dir)
    fams = listed(outcome)
    chosen = decisions_for(fams)
    returned = fill(outcome.workbook, chosen, tmp_path / "returned.xlsx")
    first = import_workbook(returned, store, submitted_by="manager")
    assert (first.families, first.decided, first.appended) == (len(fams), len(fams), len(fams))
    again = import_workbook(returned, store, submitted_by="manager")
    assert (again.appended, again.unchanged) == (0, len(fams))
    changed = fill(returned, [(fams[0], NOT_APPROPRIATE, "changed")], tmp_path / "changed.xlsx")
    third = import_workbook(changed, store, submitted_by="manager")
    assert third.appended == 1
    history = store.history(first.list_id)
    assert len(history) == len(fams) + 1
    rows0 = history.loc[history["family"] == fams[0]]
    assert list(rows0["decision"]) == [chosen[0][1], NOT_APPROPRIATE]
    assert rows0["recorded_at"].is_monotonic_increasing

    decision = {f: d for f, d, _ in chosen} | {fams[0]: NOT_APPROPRIATE}
    _check_follow_up(cfg, outcome, first.list_id, decision, champion[1])


def _check_follow_up(
    cfg: Config, outcome: OutreachOutcome, list_id: str, decision: dict[str, str], version: int
) -> None:
    """The follow-up's counts by decision equal the plain loops' count; its files exist."""
    fams = listed(outcome)
    done = follow_up(cfg, list_id)
    expected = _outcomes_by_loops(cfg, outcome, decision)
    got = done.outcomes.set_index("decision")
    for d, counts in expected.items():
        assert int(got.loc[d, "families"]) == counts["families"]
        for name in ("early_help", "referral", "section47", "plan_or_care"):
            assert int(got.loc[d, name]) == counts[name], (d, name)
    # the list of 2024-10-01 against the extract of 2025-03-31: 6 of 12 months recorded
    assert done.months_observed == 6
    assert sum(c["referral"] for c in expected.values()) > 0  # not a vacuous comparison
    contacted = sum(d in CONTACTED for d in decision.values())
    assert done.contact_rate == pytest.approx(contacted / len(fams))
    assert done.files["html"].exists() and done.files["rates"].exists()
    assert "training decision points" in done.files["html"].read_text()
    # the card of the model (trained before any list) states the share, measured
    card = cfg.work_dir / "model_cards" / "escalation" / f"v{version}" / "model_card.md"
    assert "No outreach list decisions were recorded before these training labels" in (
        card.read_text()
    )


def _outcomes_by_loops(
    cfg: Config, outcome: OutreachOutcome, decision: dict[str, str]
) -> dict[str, dict[str, int]]:
    """Count families with each outcome per decision, one record at a time."""
    as_of = outcome.outreach.as_of
    end = add_months(as_of, 12)
    con = duckdb.connect(str(cfg.work_dir / "warehouse.duckdb"), read_only=True)
    sources = {"early_help": [("early_help", "start_date")],
               "referral": [("referrals", "referral_date")],
               "section47": [("section47", "start_date")],
               "plan_or_care": [("cin_plans", "start_date"), ("cp_plans", "start_date"),
                                ("looked_after", "start_date")]}  # fmt: skip
    events: dict[str, list[tuple[str, dt.date]]] = {}
    for name, tables in sources.items():
        events[name] = []
        for table, column in tables:
            events[name] += con.execute(f"SELECT person_id, {column} FROM {table}").fetchall()
    con.close()
    kids: dict[str, list[str]] = {}
    for row in outcome.outreach.children.itertuples():
        kids.setdefault(str(row.family), []).append(str(row.child))
    out: dict[str, dict[str, int]] = {}
    for family, d in decision.items():
        counts = out.setdefault(d, {"families": 0, **dict.fromkeys(sources, 0)})
        counts["families"] += 1
        for name in sources:
            hit = any(p in kids[family] and as_of <= day < end for p, day in events[name])
            counts[name] += int(hit)
    return out


@pytest.fixture
def private_store(
    champion: tuple[Config, int], outcome: OutreachOutcome, tmp_path: Path
) -> DecisionStore:
    """A copy of the decisions database (the list is recorded in it)."""
    src = champion[0].work_dir / "decisions.duckdb"
    shutil.copy2(src, tmp_path / "decisions.duckdb")
    return DecisionStore(tmp_path / "decisions.duckdb")


def _edit(src: Path, dst: Path, cells: dict[str, object], delete_row: int | None = None) -> Path:
    wb = load_workbook(src)
    ws = wb[SHEET]
    for ref, value in cells.items():
        ws[ref] = value
    if delete_row is not None:
        ws.delete_rows(delete_row)
    wb.save(dst)
    return dst


R1, R2 = FIRST_ROW, FIRST_ROW + 1
BAD = {
    "unknown list": ({"B2": "L20241001-v1-000000000000"}, None, "row 2, column B (List id)",
                     "unknown list id"),
    "other date": ({"B3": dt.datetime(2024, 7, 1)}, None, "row 3, column B (List date)",
                   "another list"),
    "other version": ({"B4": "stratify-escalation v99"}, None, "row 4, column B (Model version)",
                      "not stratify-escalation v99"),
    "edited rank": ({f"A{R2}": 1}, None, f"row {R2}, column A (Rank)", "ranks must not change"),
    "edited family": ({f"B{R1}": "someone-else"}, None, f"row {R1}, column B (Family)",
                      "is not on list"),
    "outside the drop-down": ({f"D{R1}": "phoned twice"}, None, f"row {R1}, column D (Decision)",
                              "not one of the drop-down's values"),
    "blank decision": ({f"D{R2}": None}, None, f"row {R2}, column D (Decision)",
                       "no decision chosen"),
    "partial": ({}, R2, "column B (Family)", "families of rank 2 are missing"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_workbooks_are_refused_and_record_nothing(
    case: str, outcome: OutreachOutcome, private_store: DecisionStore, tmp_path: Path
) -> None:
    cells, delete_row, where, what = BAD[case]
    good = fill(outcome.workbook, decisions_for(listed(outcome)), tmp_path / "good.xlsx")
    bad = _edit(good, tmp_path / "bad.xlsx", cells, delete_row)
    before = len(private_store.history())
    with pytest.raises(DecisionsInvalid) as err:
        import_workbook(bad, private_store, submitted_by="manager")
    message = str(err.value)
    assert f"bad.xlsx: sheet '{SHEET}', {where}" in message and what in message
    assert "nothing was recorded" in message
    assert len(private_store.history()) == before


def test_duplicate_family_row_is_refused(
    outcome: OutreachOutcome, private_store: DecisionStore, tmp_path: Path
) -> None:
    fams = listed(outcome)
    good = fill(outcome.workbook, decisions_for(fams), tmp_path / "good.xlsx")
    last = FIRST_ROW + len(fams)
    bad = _edit(good, tmp_path / "bad.xlsx",
                {f"A{last}": 1, f"B{last}": fams[0], f"D{last}": DECISIONS[1]})  # fmt: skip
    pattern = rf"row {last}, column B \(Family\): family .* appears again"
    with pytest.raises(DecisionsInvalid, match=pattern):
        import_workbook(bad, private_store, submitted_by="manager")


def test_not_a_workbook(private_store: DecisionStore, tmp_path: Path) -> None:
    path = tmp_path / "list.xlsx"
    path.write_text("rank,family\n")
    with pytest.raises(ValueError, match="list.xlsx is not an Excel workbook"):
        import_workbook(path, private_store, submitted_by="manager")
