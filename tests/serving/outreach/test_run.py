"""The outreach job end to end on the small borough with a real champion.

The list for one date is checked against an independent computation: the registered
pyfunc on the full feature table's rows of that date (the ``reference`` fixture).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from markupsafe import escape

from stratify.features.catalogue import FEATURE_BY_NAME
from stratify.features.config import PROTECTED_COLUMNS
from stratify.serving.outreach.excel import FAIRNESS_SHEET, GUIDE_SHEET, LIST_SHEET
from stratify.serving.outreach.fairness import DIMENSION_NAMES, SUPPRESSED, group_label
from stratify.serving.outreach.ranking import UNSHOWN_REASONS, build_list
from stratify.serving.outreach.run import card_path
from stratify.serving.scoring import Scorer
from tests.open_families import open_households
from tests.serving.factory import AS_OF, CAPACITY

RAW_ID = re.compile(r"\b[PHRAS]\d{8}\b")  # a raw (unpseudonymised) identifier


def _top(ref: pd.DataFrame, k: int, locality: str | None = None) -> pd.DataFrame:
    if locality is not None:
        ref = ref[ref["locality"] == locality]
    fam = ref[~ref["closed"]].groupby("household_id")["score"].max().reset_index()
    return fam.sort_values(["score", "household_id"], ascending=[False, True]).head(k)


def test_list_is_the_top_k_families_by_highest_child_score(outcome, reference):
    fams = outcome.outreach.families
    assert len(fams) == CAPACITY and list(fams["rank"]) == list(range(1, CAPACITY + 1))
    assert fams["family_score"].is_monotonic_decreasing
    expected = _top(reference, CAPACITY)
    assert list(fams["family"]) == list(expected["household_id"])
    np.testing.assert_allclose(fams["family_score"], expected["score"], rtol=1e-9)
    kids = outcome.outreach.children
    listed = reference[reference["household_id"].isin(set(fams["family"]))]
    assert sorted(kids["child"]) == sorted(listed["person_id"])  # every child of the family


def test_excluded_families_are_counted_from_the_feature_table(outcome, reference):
    lst = outcome.outreach
    closed = reference[reference["closed"]]
    assert lst.excluded_families == closed["household_id"].nunique() > 0
    assert lst.excluded_children == len(closed)
    assert lst.cohort_children == lst.scored_children == len(reference)
    assert not set(lst.families["family"]) & set(closed["household_id"])
    # checked apart from the build's rule, in plain SQL against the warehouse
    warehouse = outcome.workbook.parents[2] / "warehouse.duckdb"
    assert open_households(warehouse, AS_OF, set(lst.families["family"])) == set()
    assert open_households(warehouse, AS_OF, set(closed["household_id"])) == set(
        closed["household_id"]
    )


def test_locality_list_and_reasons_only_for_listed_families(champion, reference):
    cfg, _ = champion
    scorer = Scorer.from_store(cfg.work_dir, "escalation")
    explained: list[pd.DataFrame] = []
    explain = scorer.explain
    scorer.explain = lambda records, top=3: explained.append(records) or explain(records, top)  # type: ignore[method-assign]
    name = sorted(reference["locality"].dropna().unique())[0]
    feats = reference.drop(columns=["score", "closed"])
    lst = build_list(feats, reference[["person_id", "age_band", "locality"]], scorer,
                     as_of=AS_OF, capacity=10, locality=name)  # fmt: skip
    assert set(lst.families["locality"]) == {name}
    assert list(lst.families["family"]) == list(_top(reference, 10, name)["household_id"])
    assert len(explained) == 1
    assert sorted(explained[0]["person_id"]) == sorted(lst.children["child"])


def test_reasons_name_no_protected_characteristic(outcome):
    feats = {f for fs in outcome.outreach.reason_features for f in fs}
    assert feats and feats <= set(FEATURE_BY_NAME) and not feats & set(PROTECTED_COLUMNS)
    assert not feats & UNSHOWN_REASONS and "age_months" in UNSHOWN_REASONS
    texts = outcome.outreach.families[["reason_1", "reason_2", "reason_3"]].to_numpy().ravel()
    assert not any(re.search(r"ethnic|disab|\bmale|female|\bsex\b", t, re.I) for t in texts)
    assert (outcome.outreach.families["reason_1"] != "").all()


def _sheet(path: Path, name: str) -> list[tuple]:
    return list(openpyxl.load_workbook(path)[name].iter_rows(values_only=True))


def test_fairness_sheet_matches_the_cohort_and_suppresses_small_groups(outcome, reference,
                                                                       champion):  # fmt: skip
    min_people = champion[0].audit.min_people
    eligible = reference[~reference["closed"]]
    listed = eligible["household_id"].isin(set(outcome.outreach.families["family"]))
    header, *rows = _sheet(outcome.workbook, FAIRNESS_SHEET)
    assert header[:5] == ("Characteristic", "Group", "Eligible children", "Share of eligible",
                          "Listed children")  # fmt: skip
    dims = {words: dim for dim, words in DIMENSION_NAMES.items()}
    hidden: dict[str, int] = defaultdict(int)
    for dim, group, n_eligible, _, n_listed, *_ in rows:
        labels = group_label(dims[dim], eligible[dims[dim]])
        e, n = int((labels == group).sum()), int(((labels == group) & listed).sum())
        if e < min_people or n < min_people:
            assert n_eligible == n_listed == SUPPRESSED
        if n_eligible == SUPPRESSED:
            hidden[dim] += 1
        else:
            assert (n_eligible, n_listed) == (e, n)
    assert set(dims) == {r[0] for r in rows}
    assert hidden and all(n != 1 for n in hidden.values())  # never one hidden group alone


def test_workbook_has_its_sheets_frozen_headers_and_filters(outcome, champion):
    wb = openpyxl.load_workbook(outcome.workbook)
    assert wb.sheetnames == [LIST_SHEET, "Decisions", GUIDE_SHEET, FAIRNESS_SHEET, "Choices"]
    ws = wb[LIST_SHEET]
    assert ws.freeze_panes == "C2" and wb[FAIRNESS_SHEET].freeze_panes == "C2"
    assert ws.auto_filter.ref == f"A1:N{len(outcome.outreach.children) + 1}"
    assert wb[FAIRNESS_SHEET].auto_filter.ref
    header = [c.value for c in ws[1]]
    assert header[:6] == ["Rank", "Family", "Family score", "Band", "Children", "Child"]
    assert header[-1] == "Council reference" and all(c.value is None for c in ws["N"][1:])
    assert all(ws.column_dimensions[c].width >= 7 for c in "ABCDEFGHIJKLMN")
    assert ws["C2"].number_format == "0.000"
    guide = " ".join(str(v) for row in _sheet(outcome.workbook, GUIDE_SHEET) for v in row if v)
    lst, (cfg, version) = outcome.outreach, champion
    card = str(card_path(cfg.work_dir, version))
    assert Path(card).is_file()  # the card training wrote for this version
    for phrase in ("prioritisation aid", "statistical associations", "not findings",
                   "a practitioner decides", f"{lst.excluded_families:,} families",
                   f"{CAPACITY:,} families", AS_OF.isoformat(), f"stratify-escalation v{version}",
                   card):  # fmt: skip
        assert phrase in guide, phrase


def test_page_is_self_contained_and_shows_the_same_list(outcome):
    html = outcome.page.read_text()
    assert not re.search(r"\b(src|href)\s*=|@import|url\(|<script|<link", html, re.I)
    lst = outcome.outreach
    for text in [*lst.children["child"], *lst.families["family"], *lst.families["reason_1"]]:
        assert str(escape(text)) in html
    assert "statistical associations, not findings" in html and "Fairness check" in html
    assert not list(outcome.page.parent.glob("*.tmp-*"))  # written atomically


def test_outputs_hold_pseudonyms_only(outcome, champion):
    cells = " ".join(str(v) for name in (LIST_SHEET, FAIRNESS_SHEET)
                     for row in _sheet(outcome.workbook, name) for v in row)  # fmt: skip
    html = outcome.page.read_text()
    assert not RAW_ID.search(cells) and not RAW_ID.search(html)
    raw = pd.read_csv(champion[0].work_dir / "sim" / "extract" / "persons.csv")["person_id"]
    assert not set(raw) & set(outcome.outreach.children["child"])
