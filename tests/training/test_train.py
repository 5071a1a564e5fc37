"""Training end to end on the small borough: MLflow registry, pyfunc, verdict, behaviour."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from stratify.core.text import fmt_ci
from stratify.features.build.cohorts import add_months
from stratify.features.catalogue import FEATURE_BY_NAME
from stratify.features.config import MLFLOW_ENV, load_config
from stratify.features.model_input import model_frame
from stratify.training import tracking
from stratify.training.data import load_table
from stratify.training.policy import load_policy
from stratify.training.run import feature_dir, reaudit, train_and_register, truth_dir
from stratify.training.train import train
from tests.borough import copy_borough


@pytest.fixture(scope="module")
def trained(shared_borough, tmp_path_factory):
    home = tmp_path_factory.mktemp("trained")
    cfg = load_config(copy_borough(shared_borough, home))
    environment = {key: os.environ.get(key) for key in MLFLOW_ENV}
    outcome = train_and_register(cfg, "escalation", load_policy(None))
    # MLflow exports the tracking URI when pointed at a store; tracking puts it back
    assert {key: os.environ.get(key) for key in MLFLOW_ENV} == environment
    return cfg, outcome


def test_run_is_registered_as_challenger_with_lineage(trained):
    cfg, outcome = trained
    assert outcome.version == 1 and outcome.target == "escalation"
    assert tracking.alias_version(cfg, "escalation", "challenger") == 1
    assert tracking.alias_version(cfg, "escalation", "champion") is None
    info = tracking.version_info(cfg, "escalation", 1)
    assert info["run_id"] == outcome.run_id
    assert info["tags"]["verdict"] == outcome.evaluation.verdict.overall
    # the registered model's own training period: the refit on every complete window
    train_period = outcome.evaluation.champion.train
    assert info["tags"]["training_period"] == f"{train_period.start} to {train_period.end}"
    assert train_period.end > outcome.evaluation.split.train.end
    run = mlflow.MlflowClient().get_run(outcome.run_id)
    meta = json.loads((cfg.work_dir / "features" / "escalation" / "metadata.json").read_text())
    assert run.data.tags["lineage.warehouse_content_hash"] == meta["warehouse_content_hash"]
    assert run.data.tags["lineage.catalogue_hash"] == meta["catalogue_hash"]
    assert run.data.tags["lineage.feature_table_hash"] == outcome.run.lineage.feature_table_hash
    ap = outcome.evaluation.metrics["lightgbm"]["average_precision"]
    assert run.data.metrics["test.lightgbm.average_precision"] == pytest.approx(ap.value)
    assert run.data.metrics["test.lightgbm.average_precision_ci_low"] == pytest.approx(ap.low)
    logged = tracking.read_json_artifact(cfg, outcome.run_id, "evaluation/evaluation.json")
    assert logged["model_version"] == 1 and logged["run_id"] == outcome.run_id
    assert logged["metrics"]["lightgbm"]["average_precision"] == ap.as_dict()
    assert logged["lineage"]["feature_table_hash"] == meta_hash(cfg)
    assert list(logged)[-2:] == ["monthly_backtest", "lineage"]
    params = run.data.params
    assert float(params["logreg.C"]) == outcome.evaluation.search.logreg_c
    assert params["capacity"] == outcome.evaluation.capacity
    artefacts = {f.path for f in mlflow.MlflowClient().list_artifacts(outcome.run_id, "plots")}
    for plot in ("roc", "precision_recall", "calibration", "capacity_over_time", "importance",
                 "shap_summary"):  # fmt: skip
        assert f"plots/{plot}.png" in artefacts
    # the artefact store lives under the working directory, not the current directory
    assert (cfg.work_dir / "mlartifacts").is_dir()


def test_pyfunc_returns_probabilities_and_signature_round_trips(trained):
    cfg, outcome = trained
    table = load_table(feature_dir(cfg, "escalation"), "escalation")
    X = table.X.sample(200, random_state=1)
    model = tracking.load_pyfunc(cfg, "escalation", 1)
    proba = np.asarray(model.predict(X))
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    sk = mlflow.sklearn.load_model("models:/stratify-escalation/1")
    np.testing.assert_allclose(proba[:, 1], sk.predict_proba(X)[:, 1])
    info = mlflow.models.get_model_info("models:/stratify-escalation/1")
    assert info.signature.inputs.input_names() == list(table.X.columns)
    assert info.metadata["input_columns"] == list(table.X.columns)
    assert len(info.metadata["band_edges"]) == 9
    assert sorted(info.metadata["band_edges"]) == info.metadata["band_edges"]
    # saved with skops, not pickle
    local = Path(mlflow.artifacts.download_artifacts("models:/stratify-escalation/1"))
    assert (local / "model.skops").exists() and not list(local.glob("*.pkl"))


def test_splits_leave_no_label_unknown_at_test_time(trained):
    _, outcome = trained
    split = outcome.evaluation.split
    train_end = dt.date.fromisoformat(split.train.end)
    cal_start = dt.date.fromisoformat(split.calibrate.start)
    cal_end = dt.date.fromisoformat(split.calibrate.end)
    test_start = dt.date.fromisoformat(split.test.start)
    assert add_months(train_end, 12) <= cal_start
    assert add_months(cal_end, 12) <= test_start
    assert add_months(dt.date.fromisoformat(split.test.end), 12) <= dt.date(2025, 3, 31)


def test_promote_needs_override_when_the_verdict_failed(trained):
    cfg, outcome = trained
    # a fairness verdict of "not assessable" would need an acknowledgement as well
    # (tests/training/test_promote.py): fix both verdicts so the override alone decides
    tracking.set_version_tags(
        cfg, "escalation", 1, {"verdict": "not met", "fairness_verdict": "not met"}
    )
    with pytest.raises(PermissionError, match="override-reason"):
        tracking.promote(cfg, "escalation", 1, approved_by="A. Lead", reason="ok")
    assert tracking.alias_version(cfg, "escalation", "champion") is None
    tags = tracking.promote(
        cfg, "escalation", 1, approved_by="A. Lead", reason="pilot",
        override_reason="synthetic test",
    )  # fmt: skip
    assert tracking.alias_version(cfg, "escalation", "champion") == 1
    got = tracking.version_info(cfg, "escalation", 1)["tags"]
    assert got["approved_by"] == "A. Lead" and got["approval_reason"] == "pilot"
    assert got["override_reason"] == "synthetic test" and tags["previous_champion"] == "none"
    with pytest.raises(LookupError, match="no version 7"):
        tracking.promote(cfg, "escalation", 7, approved_by="A", reason="r")


def test_raising_a_risk_factor_does_not_lower_the_score_on_average(trained):
    cfg, _ = trained
    table = load_table(feature_dir(cfg, "escalation"), "escalation")
    model = mlflow.sklearn.load_model("models:/stratify-escalation/1")
    X = table.X.sample(3000, random_state=2)
    base = model.predict_proba(X)[:, 1]
    raises = [c for c in X.columns if c in FEATURE_BY_NAME and FEATURE_BY_NAME[c].direction ==
              "raises" and FEATURE_BY_NAME[c].dtype == "int"]  # fmt: skip
    assert len(raises) > 30
    for name in raises:
        bumped = X.assign(**{name: X[name] + 2})
        change = model.predict_proba(bumped)[:, 1] - base
        assert change.mean() >= -1e-3, name


def test_a_protected_characteristic_included_for_a_test_moves_scores_little(borough_home):
    home, config = borough_home
    cfg = load_config(config)
    cfg = cfg.model_copy(
        update={
            "training": cfg.training.model_copy(update={"include_protected": ("ethnic_group",)})
        }
    )
    table = load_table(feature_dir(cfg, "escalation"), "escalation", ("ethnic_group",))
    result = train(table, cfg, load_policy(None))
    X = result.X_test
    assert "ethnic_group" in X.columns
    base = result.pipeline.predict_proba(X)[:, 1]
    for group in ("White", "Asian", "Black"):
        moved = result.pipeline.predict_proba(X.assign(ethnic_group=group))[:, 1]
        assert np.abs(moved - base).mean() < 0.01, group


def test_missing_feature_table_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="stratify features --target rereferral"):
        load_table(tmp_path, "rereferral")


def test_model_frame_has_one_dtype_per_kind():
    records = pd.DataFrame(
        {
            "referrals_12m": [1, 2],
            "open_referral": [True, False],
            "locality": ["North", None],
            "months_since_referral": [3, None],
        }
    )
    X = model_frame(
        records, ["referrals_12m", "open_referral", "locality", "months_since_referral"]
    )
    assert X.dtypes.astype(str).tolist() == ["float64", "float64", "object", "float64"]
    assert X["locality"].tolist() == ["North", None]
    with pytest.raises(KeyError, match="imd_decile"):
        model_frame(records, ["imd_decile"])


def test_truth_dir_found_only_when_simulated(tmp_path):
    cfg = load_config(None).model_copy(update={"home": tmp_path})
    assert truth_dir(cfg) is None


def test_card_of_the_run_carries_the_logged_figures(trained):
    cfg, outcome = trained
    card = (outcome.card_dir / "model_card.md").read_text()
    run = mlflow.MlflowClient().get_run(outcome.run_id)
    for metric in ("roc_auc", "average_precision", "precision_at_capacity"):
        value = run.data.metrics[f"test.lightgbm.{metric}"]
        low = run.data.metrics[f"test.lightgbm.{metric}_ci_low"]
        high = run.data.metrics[f"test.lightgbm.{metric}_ci_high"]
        assert fmt_ci(value, low, high) in card, metric
    artefacts = {f.path for f in mlflow.MlflowClient().list_artifacts(outcome.run_id, "model_card")}
    assert {"model_card/model_card.html", "model_card/atrs.json"} <= artefacts
    tags = tracking.version_info(cfg, "escalation", 1)["tags"]
    audit = json.loads((outcome.card_dir / "audit.json").read_text())
    assert tags["fairness_verdict"] == audit["verdict"]["overall"]


def test_reaudit_rewrites_the_same_card_from_the_logged_evaluation(trained):
    cfg, outcome = trained
    before = (outcome.card_dir / "model_card.md").read_text()
    assert f"| Training run | {outcome.run_id} |" in before
    card = reaudit(cfg, "escalation", outcome.version, load_policy(None))
    assert card == outcome.card_dir
    # evaluation.json read back gives the card the in-memory evaluation gave; only the
    # approval can differ, when an earlier test promoted the version (the card says so)
    after = (card / "model_card.md").read_text()
    tags = tracking.version_info(cfg, "escalation", outcome.version)["tags"]
    if "approved_by" in tags:
        assert f"Approved by {tags['approved_by']} on {tags['approved_at'][:10]}" in after
    approval = re.compile(r"\*\*Approval\.\*\*.*?\n\n", re.S)
    assert approval.sub("", after) == approval.sub("", before)


def meta_hash(cfg) -> str:
    return load_table(feature_dir(cfg, "escalation"), "escalation").metadata["feature_table_hash"]
