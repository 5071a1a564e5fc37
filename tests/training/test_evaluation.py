"""The typed evaluation: the evaluation.json it writes, and reading that back."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from stratify.training.evaluation import Evaluation, registered_run_of
from tests.training.factories import evaluation, registered_run

#: evaluation.json's keys, in the order every run has written them.
KEYS = [
    "target", "model_name", "model_version", "run_id", "created", "capacity", "calibration",
    "split", "metrics", "lift_over", "ceiling_gap", "per_quarter", "n_boot", "base_rate",
    "search", "features", "protected_inputs", "truth_sample", "train_seconds", "verdict",
    "horizon_months", "eligibility", "operating_point", "backtest", "champion",
    "monthly_backtest",
]  # fmt: skip


def test_evaluation_json_shape():
    doc = evaluation().as_dict(registered_run())
    assert list(doc) == [*KEYS, "lineage"]
    assert (doc["model_name"], doc["model_version"], doc["run_id"]) == (
        "stratify-escalation", 3, "run-0123",
    )  # fmt: skip
    assert doc["split"]["test"] == {
        "start": "2016-04-01", "end": "2022-01-01", "rows": 5002, "positives": 122,
        "families": 3000,
    }  # fmt: skip
    assert doc["metrics"]["lightgbm"]["roc_auc"] == {
        "value": pytest.approx(0.05041), "low": pytest.approx(0.02911),
        "high": pytest.approx(0.06911),
    }  # fmt: skip
    assert doc["ceiling_gap"]["rows"] == 1500 and set(doc["ceiling_gap"]) == {
        "rows", "positives", "families", "families_with_outcome", "lightgbm",
    }  # fmt: skip
    assert doc["truth_sample"] == {"rows": 1500, "positives": 40}
    assert doc["per_quarter"][0] == {
        "period": "2023Q2", "model": "lightgbm", "rows": 900, "positives": 21, "roc_auc": 0.8123,
        "average_precision": 0.2, "precision_at_capacity": 0.31, "recall_at_capacity": 0.4,
        "families": 0, "families_with_outcome": 0,
    }  # fmt: skip
    assert doc["champion"]["train"]["end"] == "2023-10-01" and doc["champion"]["trees"] == 140
    assert doc["backtest"][1]["listed_with_outcome"] == "suppressed"
    assert doc["eligibility"]["eligible_rows"] == 5002
    assert doc["search"]["logreg_C"] == 0.1 and doc["search"]["chosen"]["trees"] == 120
    assert doc["verdict"] == {
        "criteria": [{"name": "average precision of LightGBM", "threshold": ">= 0.080",
                      "value": 0.2, "low": 0.15, "high": 0.25, "outcome": "met"}],
        "overall": "met",
    }  # fmt: skip
    assert doc["lineage"]["config_hash"] == "cfg-9"
    assert doc["features"] == ["referrals_3m", "referrals_12m"] and doc["protected_inputs"] == []


def test_unregistered_evaluation_has_no_ids_and_no_lineage():
    doc = evaluation(ceiling_gap=False).as_dict()
    assert list(doc) == KEYS
    assert doc["model_version"] is None and doc["run_id"] is None
    assert doc["ceiling_gap"] is None and doc["truth_sample"] is None


def test_json_round_trip():
    ev, run = evaluation(), registered_run()
    text = ev.to_json(run)
    assert "NaN" in text  # the rule's undefined ECE
    data = json.loads(text)
    back, back_run = Evaluation.from_dict(data), registered_run_of(data)
    assert back_run == run
    assert back.to_json(back_run) == text
    assert math.isnan(back.metrics["rule"]["ece"].value)
    assert back.split == ev.split and back.verdict == ev.verdict
    assert back.per_quarter[0] == ev.per_quarter[0]


def test_evaluation_is_frozen():
    ev = evaluation()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.target = "rereferral"  # type: ignore[misc]
    assert ev.model_name == "stratify-escalation"
