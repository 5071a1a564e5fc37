"""The card describes the deployed list: the evaluated lists are the lists `outreach` writes.

On the small borough: train escalation (without MLflow), then for every test quarter
build that date's cohort from the warehouse exactly as ``stratify outreach`` does and
list it with the evaluated model through the outreach code. The families must be the
ones the evaluation listed; the card's figures at capacity must be what those lists
hold; and no listed family may have anyone open to statutory care or with an open
referral on the date (checked in plain SQL, apart from the build's rule).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stratify.core.text import SUPPRESSED
from stratify.features.config import load_config
from stratify.features.model_input import model_frame
from stratify.serving.outreach.cohort import cohort_at
from stratify.serving.outreach.ranking import build_list
from stratify.training.data import load_table
from stratify.training.models import booster_of
from stratify.training.policy import load_policy
from stratify.training.run import feature_dir, truth_dir
from stratify.training.train import train
from tests.borough import copy_borough
from tests.open_families import open_households


class EvaluatedScorer:
    """The outreach list's view of the evaluated pipeline (scores only; no reasons)."""

    version = 0

    def __init__(self, pipeline, columns):
        self.pipeline, self.columns = pipeline, list(columns)

    def score(self, records):
        p = self.pipeline.predict_proba(model_frame(records, self.columns))[:, 1]
        return p, np.ones(len(p), dtype=int)

    def explain(self, records, top=3):
        return [[] for _ in range(len(records))]


@pytest.fixture(scope="module")
def deployed(shared_borough, tmp_path_factory):
    home = tmp_path_factory.mktemp("deployed")
    cfg = load_config(copy_borough(shared_borough, home))
    table = load_table(feature_dir(cfg, "escalation"), "escalation", (), truth_dir(cfg))
    result = train(table, cfg, load_policy(None))
    scorer = EvaluatedScorer(result.evaluated, table.X.columns)
    pred = result.predictions
    lists = {}
    for day in sorted(pred["as_of_date"].unique()):
        cohort = cohort_at(cfg.work_dir / "warehouse.duckdb", day, cfg.features)
        lists[day] = build_list(
            cohort.features, cohort.audit, scorer, as_of=day,
            capacity=cfg.training.capacity["escalation"],
        )  # fmt: skip
    return cfg, result, lists


def test_each_quarters_evaluated_list_is_the_list_outreach_writes(deployed):
    cfg, result, lists = deployed
    pred = result.predictions
    assert len(lists) == 4  # the test window's four quarterly snapshots
    for day, lst in lists.items():
        evaluated = set(pred.loc[pred["selected"] & (pred["as_of_date"] == day), "household_id"])
        assert set(lst.families["family"]) == evaluated, day
        assert len(evaluated) == cfg.training.capacity["escalation"].families_per_quarter


def test_the_cards_figures_at_capacity_are_what_the_lists_held(deployed):
    _, result, lists = deployed
    pred = result.predictions
    outcome = pred.groupby(["as_of_date", "household_id"])["label"].max()
    listed = hits = 0
    rows = {r.quarter: r for r in result.evaluation.backtest if r.model == "lightgbm"}
    for day, lst in lists.items():
        families = list(lst.families["family"])
        with_outcome = int(sum(outcome.loc[(day, f)] for f in families))
        row = rows[f"{pd.Timestamp(day).year}Q{(pd.Timestamp(day).month - 1) // 3 + 1}"]
        assert row.listed == len(families)
        assert row.listed_with_outcome in (with_outcome, SUPPRESSED)
        if row.listed_with_outcome == SUPPRESSED:
            assert 0 < with_outcome < 5
        listed, hits = listed + len(families), hits + with_outcome
    metrics = result.evaluation.metrics["lightgbm"]
    assert metrics["precision_at_capacity"].value == pytest.approx(hits / listed)
    eligible_with_outcome = int(outcome.sum())
    assert metrics["recall_at_capacity"].value == pytest.approx(hits / eligible_with_outcome)
    assert result.evaluation.operating_point.listed == listed


def test_no_listed_family_is_open_on_its_date(deployed):
    cfg, _, lists = deployed
    warehouse = cfg.work_dir / "warehouse.duckdb"
    checked = 0
    for day, lst in lists.items():
        families = set(lst.families["family"])
        assert open_households(warehouse, day, families) == set(), day
        checked += len(families)
        # and the rule does bite: some families of the cohort were left out as open
        assert lst.excluded_families > 0
    assert checked == 4 * 30


def test_the_registered_model_learnt_from_the_latest_complete_windows(deployed):
    _, result, _ = deployed
    champion = result.evaluation.champion
    extract = dt.date(2025, 3, 31)
    last = dt.date.fromisoformat(champion.train.end)
    # the trees learnt up to the latest snapshot whose 12-month window is complete:
    # within 15 months of the extract; the calibration slice is that snapshot
    assert last == dt.date(2024, 1, 1) and (extract - last).days <= 15 * 31
    assert champion.calibrate.start == champion.calibrate.end == "2024-01-01"
    assert result.evaluation.split.train.end < champion.train.end
    # the registered trees are not the evaluated ones, and they hold the champion's count
    booster = booster_of(result.pipeline)
    assert booster.num_trees() == champion.trees
    assert booster is not booster_of(result.evaluated)
    # the trees before the latest slice was added keep their own copy (the retraining
    # comparison scores its window with them)
    held = booster_of(result.held_out)
    assert held is not booster and held.num_trees() == champion.trees
    assert held.model_to_string() != booster.model_to_string()


def _top_share(frame: pd.DataFrame, score: str, share: dict) -> set:
    """Per date, the ceil(share x families) families with the highest score (ties by id)."""
    chosen = set()
    for day, rows in frame.groupby("as_of_date"):
        fam = rows.groupby("household_id")[score].max().reset_index()
        fam = fam.sort_values([score, "household_id"], ascending=[False, True])
        k = int(np.ceil(share[day] * len(fam) - 1e-9))
        chosen |= {(day, f) for f in fam["household_id"].head(k)}
    return chosen


def test_the_ceiling_is_computed_on_its_own_sample_at_the_lists_share(deployed):
    from sklearn.metrics import roc_auc_score

    _, result, lists = deployed
    ev, pred = result.evaluation, result.predictions
    sample = pred[pred["p_true"].notna()]
    assert ev.ceiling_gap.rows == len(sample) and ev.ceiling_gap.positives == sample["label"].sum()
    ceiling, ours = ev.metrics["ceiling"], ev.metrics["lightgbm_on_truth_sample"]
    assert ceiling["roc_auc"].value == pytest.approx(
        roc_auc_score(sample["label"], sample["p_true"])
    )
    assert ours["roc_auc"].value == pytest.approx(roc_auc_score(sample["label"], sample["score"]))
    # the deployed lists' share of eligible families on each date, applied to the sample
    share = {day: len(lst.families) / lst.eligible_families for day, lst in lists.items()}
    outcome = sample.groupby(["as_of_date", "household_id"])["label"].max()
    for name, score in (("ceiling", "p_true"), ("lightgbm_on_truth_sample", "score")):
        chosen = _top_share(sample, score, share)
        hits = sum(outcome.loc[key] for key in chosen)
        assert ev.metrics[name]["precision_at_capacity"].value == pytest.approx(hits / len(chosen))
        assert ev.metrics[name]["recall_at_capacity"].value == pytest.approx(hits / outcome.sum())
    gap = ev.ceiling_gap.difference["roc_auc"]
    assert gap.value == pytest.approx(ceiling["roc_auc"].value - ours["roc_auc"].value)
    assert gap.low <= gap.value <= gap.high
