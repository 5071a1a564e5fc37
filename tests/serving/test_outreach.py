"""The outreach list: ranking, exclusions, reasons, fairness check, workbook and web page.

Hand-built cohorts check the logic against results worked out by hand; the end-to-end
tests train a real model on the small borough, promote and import it, build the list for
one date and check it against an independent computation (the registered pyfunc on the
full feature table's rows of that date).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape
from typer.testing import CliRunner

from stratify.features.catalogue import FEATURE_BY_NAME
from stratify.features.config import PROTECTED_COLUMNS, Config, load_config
from stratify.features.model_input import input_columns, model_frame
from stratify.serving import store
from stratify.serving.outreach.ranking import (
    ERR_CAPACITY,
    UNSHOWN_REASONS,
    build_list,
    family_reasons,
    rank_families,
)
from stratify.serving.outreach_cli import demo_outreach
from stratify.serving.outreach.cohort import ERR_NOT_FIRST, cohort_at
from stratify.serving.outreach.excel import FAIRNESS_SHEET, GUIDE_SHEET, LIST_SHEET
from stratify.serving.outreach.fairness import SUPPRESSED, group_label, hidden_groups
from stratify.serving.outreach.run import OutreachOutcome, card_path, run_outreach
from stratify.serving.reasons import Reason
from stratify.serving.scoring import Scorer
from stratify.cli import app
from tests.borough import copy_borough
from stratify.training import tracking
from stratify.training.policy import load_policy
from stratify.training.run import train_and_register

AS_OF = dt.date(2024, 10, 1)
CAPACITY = 30
MIN_PEOPLE = 10
RAW_ID = re.compile(r"\b[PHRAS]\d{8}\b")
runner = CliRunner()


# -- hand-built cohorts -----------------------------------------------------------------


class FakeScorer:
    """Scores are the records' ``x``; one reason per record; remembers what it explained."""

    version = 7
    columns = ["x"]

    def __init__(self) -> None:
        self.explained: list[str] = []

    def score(self, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        p = records["x"].to_numpy(dtype=float)
        return p, np.ceil(p * 10).astype(int)

    def explain(self, records: pd.DataFrame, top: int = 3) -> list[list[Reason]]:
        self.explained += list(records["person_id"])
        return [[Reason(f"f_{r.person_id}", f"reason of {r.person_id}", r.x)]
                for r in records.itertuples()]  # fmt: skip


def tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Five families: H2 has a sibling open to social care, H3 and H4 tie on 0.7."""
    rows = [  # child, family, score, open siblings, locality
        ("a", "H1", 0.9, 0, "North"), ("b", "H1", 0.2, 0, "North"),
        ("c", "H2", 0.95, 1, "North"),
        ("d", "H3", 0.5, 0, "North"), ("e", "H3", 0.7, 0, "North"),
        ("f", "H4", 0.7, 0, "South"),
        ("g", "H5", 0.1, 0, "South"),
    ]  # fmt: skip
    features = pd.DataFrame(
        {"person_id": [r[0] for r in rows], "household_id": [r[1] for r in rows],
         "x": [r[2] for r in rows], "siblings_open_statutory": [r[3] for r in rows]}
    )  # fmt: skip
    audit = pd.DataFrame(
        {"person_id": features["person_id"], "locality": [r[4] for r in rows],
         "age_band": ["5-9"] * len(rows), "sex": ["1", "2", "1", "2", "1", "2", "1"]}
    )  # fmt: skip
    return features, audit


def test_tiny_cohort_ranks_excludes_and_explains_only_the_listed():
    features, audit = tiny()
    scorer = FakeScorer()
    lst = build_list(features, audit, scorer, as_of=AS_OF, capacity=3, dimensions=("sex",))
    assert list(lst.families["family"]) == ["H1", "H3", "H4"]  # H2 excluded; tie by id
    assert list(lst.families["family_score"]) == [0.9, 0.7, 0.7]
    assert list(lst.families["children"]) == [2, 2, 1]
    assert (lst.excluded_families, lst.excluded_children) == (1, 1)
    assert (lst.eligible_families, lst.eligible_children, lst.cohort_families) == (4, 6, 5)
    assert list(lst.children["child"]) == ["a", "b", "e", "d", "f"]  # by rank, then score
    assert sorted(scorer.explained) == ["a", "b", "d", "e", "f"]  # never c or g
    assert list(lst.families["reason_1"]) == ["reason of a", "reason of e", "reason of f"]
    assert list(lst.families["reason_2"]) == ["reason of b", "reason of d", ""]


def test_tiny_cohort_locality_keeps_only_its_families():
    features, audit = tiny()
    lst = build_list(features, audit, FakeScorer(), as_of=AS_OF, capacity=3, locality="North")
    assert list(lst.families["family"]) == ["H1", "H3"]  # shorter than the capacity
    assert (lst.cohort_families, lst.excluded_families, lst.scored_children) == (3, 1, 7)
    assert set(lst.children["child"]) == {"a", "b", "d", "e"}


def test_capacity_must_be_positive():
    features, audit = tiny()
    with pytest.raises(ValueError, match=ERR_CAPACITY.format(capacity=0)):
        build_list(features, audit, FakeScorer(), as_of=AS_OF, capacity=0)


def test_family_reasons_are_distinct_and_by_contribution():
    r = Reason
    child1 = [r("referrals_12m", "2 referrals", 0.9), r("siblings_s47_ever", "s", 0.4)]
    child2 = [r("siblings_s47_ever", "s", 0.5), r("referrals_12m", "3 referrals", 0.3),
              r("household_moves_12m", "1 move", 0.2), r("cp_plans_ever", "cp", 0.1)]  # fmt: skip
    got = family_reasons([child1, child2])
    assert [(r.feature, r.contribution) for r in got] == [
        ("referrals_12m", 0.9), ("siblings_s47_ever", 0.5), ("household_moves_12m", 0.2)
    ]  # fmt: skip
    assert family_reasons([[], []]) == []
    aged = [r("age_months", "the child is 150 months old", 2.0), *child1]
    assert [x.feature for x in family_reasons([aged])] == ["referrals_12m", "siblings_s47_ever"]


def _reference_ranking(children: pd.DataFrame, capacity: int) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    closed: set[str] = set()
    for fam, score, is_open in zip(children["family"], children["score"],
                                   children["open_sibling"], strict=True):  # fmt: skip
        best[fam] = max(best.get(fam, -1.0), score)
        if is_open:
            closed.add(fam)
    ranked = sorted(((-s, f) for f, s in best.items() if f not in closed))
    return [(f, -s) for s, f in ranked[:capacity]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.sampled_from([0.1, 0.3, 0.5, 0.8]),
                          st.booleans()), min_size=1, max_size=40),
       st.integers(1, 8))  # fmt: skip
def test_ranking_matches_a_plain_loop(rows, capacity):
    children = pd.DataFrame(
        {"family": [f"H{r[0]:02d}" for r in rows], "score": [r[1] for r in rows],
         "band": [int(r[1] * 10) for r in rows], "open_sibling": [r[2] for r in rows],
         "locality": "North"}
    )  # fmt: skip
    top = rank_families(children, capacity)
    assert list(zip(top["family"], top["family_score"], strict=True)) == _reference_ranking(
        children, capacity
    )
    assert list(top["rank"]) == list(range(1, len(top) + 1))


def _counts(cells: dict[str, list[tuple[str, int, int]]]) -> pd.DataFrame:
    rows = [(d, g, e, n) for d, groups in cells.items() for g, e, n in groups]
    return pd.DataFrame(rows, columns=["dimension", "group", "eligible", "listed"])


def test_one_small_group_hides_the_next_smallest_too():
    counts = _counts({
        "sex": [("Male", 500, 40), ("Female", 480, 38)],
        "ethnic_group": [("White", 600, 50), ("Asian", 200, 15), ("Black", 150, 12),
                         ("Other", 30, 4)],
        "age_band": [("<1", 8, 0), ("1-4", 9, 0), ("5-9", 300, 30), ("10-15", 663, 48)],
    })  # fmt: skip
    hidden = hidden_groups(counts, MIN_PEOPLE)
    # Other alone is small (4 listed) -> Black (the next smallest) too; two small age bands
    # protect each other; nothing about sex is hidden
    assert hidden == {("ethnic_group", "Other"), ("ethnic_group", "Black"),
                      ("age_band", "<1"), ("age_band", "1-4")}  # fmt: skip


def test_group_labels_are_words():
    assert list(group_label("sex", pd.Series(["1", "2", None]))) == ["Male", "Female", "Unknown"]
    assert list(group_label("has_disability", pd.Series([True, False]))) == [
        "Disabled", "Not disabled"
    ]  # fmt: skip
    assert list(group_label("imd_quintile", pd.Series([1, None], dtype="Int8"))) == ["1", "Unknown"]


def test_as_of_must_be_a_month_start(tmp_path: Path):
    with pytest.raises(ValueError, match=re.escape(ERR_NOT_FIRST.split("{")[0])):
        cohort_at(tmp_path / "none.duckdb", dt.date(2024, 10, 2), Config().features)


# -- the small borough, a real champion -------------------------------------------------


@pytest.fixture(scope="module")
def champion(shared_borough: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, int]:
    home = tmp_path_factory.mktemp("outreach")
    cfg = load_config(copy_borough(shared_borough, home))
    outcome = train_and_register(cfg, "escalation", load_policy(None))
    tracking.promote(cfg.work_dir, "escalation", outcome.version, approved_by="test",
                     reason="test", override_reason="test")  # fmt: skip
    store.import_champion(cfg.work_dir, "escalation")
    return cfg, outcome.version


@pytest.fixture(scope="module")
def outcome(champion: tuple[Config, int]) -> OutreachOutcome:
    return run_outreach(champion[0], AS_OF, CAPACITY)


@pytest.fixture(scope="module")
def reference(champion: tuple[Config, int]) -> pd.DataFrame:
    """The date's rows of the full feature table, scored with the registered pyfunc."""
    cfg, version = champion
    where = cfg.work_dir / "features" / "escalation"
    feats = pd.read_parquet(where / "features.parquet")
    audit = pd.read_parquet(where / "audit.parquet")
    on = (feats["as_of_date"] == AS_OF).to_numpy()
    rows, audit = feats.loc[on].reset_index(drop=True), audit.loc[on].reset_index(drop=True)
    model = tracking.load_pyfunc(cfg.work_dir, "escalation", version)
    p = np.asarray(model.predict(model_frame(rows, input_columns("escalation"))))[:, 1]
    closed = set(rows.loc[rows["siblings_open_statutory"] > 0, "household_id"])
    groups = ("ethnic_group", "sex", "has_disability", "age_band", "imd_quintile", "locality")
    return rows.assign(
        score=p, closed=rows["household_id"].isin(closed), **{c: audit[c] for c in groups}
    )


def _top(ref: pd.DataFrame, k: int, locality: str | None = None) -> pd.DataFrame:
    if locality is not None:
        ref = ref[ref["locality"] == locality]
    fam = ref[~ref["closed"]].groupby("household_id")["score"].max().reset_index()
    return fam.sort_values(["score", "household_id"], ascending=[False, True]).head(k)


def test_one_date_cohort_is_the_full_builds_rows_of_that_date(champion, reference):
    cohort = cohort_at(champion[0].work_dir / "warehouse.duckdb", AS_OF, champion[0].features)
    cols = [c for c in cohort.features.columns if c != "label"]
    pd.testing.assert_frame_equal(cohort.features[cols], reference[cols], check_dtype=False)


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


def test_locality_list_and_reasons_only_for_listed_families(champion, reference):
    cfg, _ = champion
    scorer = Scorer.from_bento("escalation", cfg.work_dir)
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


def test_fairness_sheet_matches_the_cohort_and_suppresses_small_groups(outcome, reference):
    eligible = reference[~reference["closed"]]
    listed = eligible["household_id"].isin(set(outcome.outreach.families["family"]))
    header, *rows = _sheet(outcome.workbook, FAIRNESS_SHEET)
    assert header[:5] == ("Characteristic", "Group", "Eligible children", "Share of eligible",
                          "Listed children")  # fmt: skip
    dims = {"Ethnic group": "ethnic_group", "Sex": "sex", "Disability": "has_disability",
            "Age band": "age_band", "IMD quintile (1 = most deprived)": "imd_quintile",
            "Locality": "locality"}  # fmt: skip
    hidden: dict[str, int] = defaultdict(int)
    for dim, group, n_eligible, _, n_listed, *_ in rows:
        labels = group_label(dims[dim], eligible[dims[dim]])
        e, n = int((labels == group).sum()), int(((labels == group) & listed).sum())
        if e < MIN_PEOPLE or n < MIN_PEOPLE:
            assert n_eligible == n_listed == SUPPRESSED
        if n_eligible == SUPPRESSED:
            hidden[dim] += 1
        else:
            assert (n_eligible, n_listed) == (e, n)
    assert set(dims) == {r[0] for r in rows}
    assert hidden and all(n != 1 for n in hidden.values())  # never one hidden group alone


def test_workbook_has_its_sheets_frozen_headers_and_filters(outcome, champion):
    wb = openpyxl.load_workbook(outcome.workbook)
    assert wb.sheetnames == [LIST_SHEET, GUIDE_SHEET, FAIRNESS_SHEET]
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
    assert not list(outcome.page.parent.glob(".*tmp"))  # written atomically


def test_outputs_hold_pseudonyms_only(outcome, champion):
    cells = " ".join(str(v) for name in (LIST_SHEET, FAIRNESS_SHEET)
                     for row in _sheet(outcome.workbook, name) for v in row)  # fmt: skip
    html = outcome.page.read_text()
    assert not RAW_ID.search(cells) and not RAW_ID.search(html)
    raw = pd.read_csv(champion[0].work_dir / "sim" / "extract" / "persons.csv")["person_id"]
    assert not set(raw) & set(outcome.outreach.children["child"])


def test_demo_writes_the_borough_list_and_one_per_locality(champion, reference):
    cfg, _ = champion
    demo_outreach(cfg)
    folder = cfg.work_dir / "outreach" / "2025-01-01"
    names = {p.name for p in folder.iterdir()}
    localities = sorted(reference["locality"].dropna().unique())
    expected = {f"outreach-{n}.{x}" for n in ["all", *(s.lower() for s in localities)]
                for x in ("xlsx", "html")}  # fmt: skip
    assert names == expected
    listed = len(openpyxl.load_workbook(folder / "outreach-all.xlsx")[LIST_SHEET]["A"]) - 1
    assert listed >= CAPACITY  # one row per child of the 30 families


def test_no_eligible_family_gives_an_empty_list():
    features, audit = tiny()
    features["siblings_open_statutory"] = 1
    lst = build_list(features, audit, FakeScorer(), as_of=AS_OF, capacity=3, dimensions=("sex",))
    assert lst.families.empty and lst.children.empty and lst.excluded_families == 5


def _outreach(config: Path, *args: str):
    return runner.invoke(app, ["outreach", "--config", str(config), *args])


def test_cli_writes_the_locality_list_and_prints_counts_only(champion, reference):
    cfg, _ = champion
    config = cfg.work_dir / "stratify.yaml"
    name = sorted(reference["locality"].dropna().unique())[-1]
    result = _outreach(config, "--as-of", AS_OF.isoformat(), "--capacity", "5",
                       "--locality", name.lower())  # fmt: skip
    assert result.exit_code == 0, result.output
    slug = name.lower()
    assert (cfg.work_dir / "outreach" / AS_OF.isoformat() / f"outreach-{slug}.xlsx").exists()
    assert "excluded (a child open to social care)" in result.output
    assert not re.search(r"\b[0-9a-f]{24}\b", result.output)  # no pseudonym printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2024-13-01"], "Invalid value for '--as-of'"),
        (["--as-of", "2024-10-02"], "the as-of date must be the first day of a month"),
        (["--as-of", "2024-10-01", "--locality", "Atlantis"], "unknown locality 'Atlantis'"),
        (["--as-of", "2040-01-01"], "after the warehouse's extract date"),
    ],
)
def test_cli_errors_are_one_short_line(borough_home, args, message):
    _, config = borough_home
    result = _outreach(config, "--capacity", "5", *args)
    assert result.exit_code == 2
    assert message in result.output
    if "locality" in message:
        assert "the warehouse has:" in result.output


def test_cli_without_a_champion_or_warehouse(borough_home, tmp_path: Path):
    _, config = borough_home
    result = _outreach(config, "--as-of", "2024-10-01", "--capacity", "5")
    assert result.exit_code == 2
    assert "run `stratify import-model --target escalation`" in result.output
    empty = tmp_path / "empty.yaml"
    empty.write_text(f"home: {tmp_path / 'nowhere'}\n")
    result = _outreach(empty, "--as-of", "2024-10-01", "--capacity", "5")
    assert result.exit_code == 2 and "no warehouse at" in result.output
