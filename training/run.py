"""One training run end to end: read the table, train, plot, record in MLflow, audit, card.

:func:`train_and_register` is what ``stratify train`` and ``stratify demo`` call. The
audit and the model card run at the end of every training run, so no registered
version exists without its card.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stratify.features.catalogue import Target, catalogue_hash
from stratify.features.config import Config
from stratify.training import plots
from stratify.training import tracking
from stratify.training.audit.report import audit
from stratify.training.card.render import write_card
from stratify.training.data import TrainingTable, load_table
from stratify.training.models import booster_of
from stratify.training.policy import Policy
from stratify.training.train import TrainResult, train

Progress = Callable[[str], None]
CARDS_DIR = "model_cards"


@dataclass(frozen=True)
class RunOutcome:
    """What a training run recorded."""

    target: Target
    run_id: str
    version: int
    evaluation: dict[str, Any]
    card_dir: Path | None


def feature_dir(cfg: Config, target: Target) -> Path:
    """Return where ``stratify features`` wrote ``target``'s table."""
    return cfg.work_dir / "features" / target


def truth_dir(cfg: Config) -> Path | None:
    """Return the simulator's truth folder if the working directory has one."""
    path = cfg.work_dir / "sim" / "truth"
    return path if path.exists() else None


def config_hash(cfg: Config) -> str:
    """Return a stable hash of the resolved config."""
    text = json.dumps(cfg.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lineage(table: TrainingTable, cfg: Config) -> dict[str, str]:
    """Return the hashes that tie a run to its data, features and config."""
    meta = table.metadata
    return {
        "warehouse_content_hash": str(meta.get("warehouse_content_hash")),
        "feature_table_hash": str(meta["feature_table_hash"]),
        "catalogue_hash": catalogue_hash(),
        "extract_date": str(meta.get("extract_date")),
        "config_hash": config_hash(cfg),
    }


def make_plots(result: TrainResult, out: Path) -> dict[str, Path]:
    """Write every performance plot of ``result`` into ``out``."""
    pred = result.predictions
    y = pred["label"].to_numpy()
    scores = {"lightgbm": pred["score"], "rule": pred["score_rule"], "logreg": pred["score_logreg"]}
    made = plots.curves(y, {k: v.to_numpy() for k, v in scores.items()}, out)
    made["calibration"] = plots.calibration(y, pred["score"].to_numpy(), out)
    made["capacity_over_time"] = plots.capacity_over_time(result.evaluation["per_quarter"], out)
    booster = booster_of(result.pipeline)
    gain = booster.feature_importance(importance_type="gain")
    made["importance"] = plots.importance(booster.feature_name(), gain, out)
    rng = np.random.default_rng(0)
    take = rng.choice(len(pred), size=min(plots.SHAP_SAMPLE, len(pred)), replace=False)
    Xe = result.pipeline.named_steps["encode"].transform(result.X_test.iloc[np.sort(take)])
    contrib = np.asarray(booster.predict(Xe, pred_contrib=True))[:, :-1]
    made["shap_summary"] = plots.shap_summary(contrib, Xe, out)
    return made


def model_metadata(result: TrainResult, table: TrainingTable) -> dict[str, Any]:
    """Return what the service needs beside the pipeline: inputs, categories, bands, periods."""
    ev = result.evaluation
    return {
        "target": table.target,
        "input_columns": list(table.X.columns),
        "categories": table.categories,
        "band_edges": result.band_edges,
        "catalogue_hash": catalogue_hash(),
        "training_period": ev["split"]["train"],
        "test_period": ev["split"]["test"],
        "capacity": ev["capacity"],
        "verdict": ev["verdict"]["overall"],
    }


def train_and_register(
    cfg: Config, target: Target, policy: Policy, progress: Progress = lambda _: None
) -> RunOutcome:
    """Train ``target``, log and register it (alias ``challenger``), then audit and card it."""
    progress("reading the feature table")
    table = load_table(
        feature_dir(cfg, target), target, cfg.training.include_protected, truth_dir(cfg)
    )
    result = train(table, cfg, policy, progress)
    with tempfile.TemporaryDirectory(prefix="stratify-run-") as tmp:
        staging = Path(tmp)
        (staging / "plots").mkdir()
        progress("drawing the plots")
        plots_made = make_plots(result, staging / "plots")
        (staging / "evaluation").mkdir()
        result.predictions.to_parquet(staging / "evaluation" / "predictions.parquet", index=False)
        progress("recording the run in MLflow and registering the model")
        hashes = lineage(table, cfg)
        run_id, version = tracking.log_training(
            cfg.work_dir,
            target=target,
            pipeline=result.pipeline,
            X_example_like=table.X,
            categories=table.categories,
            evaluation=result.evaluation,
            params=_params(result, cfg, target),
            config=cfg.model_dump(mode="json"),
            lineage=hashes,
            artifacts={"plots": staging / "plots", "evaluation": staging / "evaluation"},
            model_metadata=model_metadata(result, table),
        )
        # evaluation.json is logged once the run id and version it records are known
        evaluation = {**result.evaluation, "run_id": run_id, "model_version": version}
        evaluation["lineage"] = hashes
        tracking.log_artifacts(cfg.work_dir, run_id, _dump(staging, evaluation), "evaluation")
        progress("auditing fairness and writing the model card")
        Xe = result.pipeline.named_steps["encode"].transform(result.X_test)
        card_dir = audit_and_card(
            cfg, policy, evaluation, result.predictions, Xe, plots_made, table.metadata
        )
    return RunOutcome(target, run_id, version, evaluation, card_dir)


def card_dir_of(cfg: Config, target: str, version: int) -> Path:
    """Return where the card of one registered version is written."""
    return cfg.work_dir / CARDS_DIR / target / f"v{version}"


def audit_and_card(
    cfg: Config,
    policy: Policy,
    evaluation: dict[str, Any],
    predictions: pd.DataFrame,
    X: pd.DataFrame | None,
    plots_made: dict[str, Path],
    metadata: dict[str, Any],
) -> Path:
    """Audit a registered version, write its card, log both to its run, tag the verdict."""
    target, version = evaluation["target"], int(evaluation["model_version"])
    result = audit(
        predictions, config=cfg.audit, policy=policy.fairness, X=X, seed=cfg.training.seed
    )
    out = card_dir_of(cfg, target, version)
    write_card(
        out, evaluation=evaluation, audit=result, plots=plots_made, policy=policy,
        metadata=metadata,
    )  # fmt: skip
    tracking.log_artifacts(cfg.work_dir, evaluation["run_id"], out, "model_card")
    tracking.set_version_tags(
        cfg.work_dir, target, version, {"fairness_verdict": result.verdict.overall}
    )
    return out


def _dump(staging: Path, evaluation: dict[str, Any]) -> Path:
    path = staging / "evaluation" / "evaluation.json"
    path.write_text(json.dumps(evaluation, indent=2, default=str))
    return path


def _params(result: TrainResult, cfg: Config, target: Target) -> dict[str, Any]:
    chosen = result.evaluation["search"]["chosen"]
    return {
        **{f"lightgbm.{k}": v for k, v in chosen.items()},
        "logreg.C": result.evaluation["search"]["logreg_C"],
        "calibration": cfg.training.calibration,
        "capacity": result.evaluation["capacity"],
        "n_boot": cfg.training.n_boot,
        "horizon_months": cfg.features.horizon_months,
        "protected_inputs": ",".join(cfg.training.include_protected) or "none",
        "target": target,
    }


def reaudit(cfg: Config, target: Target, version: int, policy: Policy) -> Path:
    """Audit a registered version again (e.g. under a new policy) and rewrite its card.

    The predictions, evaluation and plots come from the version's run. The proxy check
    needs the model's inputs: they are rebuilt from the feature table when it is the
    one the run was trained on (same hash), and the check is left out otherwise.
    """
    info = tracking.version_info(cfg.work_dir, target, version)
    run_id = info["run_id"]
    with tempfile.TemporaryDirectory(prefix="stratify-audit-") as tmp:
        staging = Path(tmp)
        pred = pd.read_parquet(
            tracking.download(cfg.work_dir, run_id, "evaluation/predictions.parquet", staging)
        )
        evaluation = tracking.read_json_artifact(cfg.work_dir, run_id, "evaluation/evaluation.json")
        plots_dir = tracking.download(cfg.work_dir, run_id, "plots", staging)
        made = {p.stem: p for p in plots_dir.glob("*.png")}
        table = load_table(feature_dir(cfg, target), target, tuple(evaluation["protected_inputs"]))
        X = None
        if table.metadata["feature_table_hash"] == evaluation["lineage"]["feature_table_hash"]:
            X = _inputs_of(cfg, info["model_uri"], table, pred)
        return audit_and_card(cfg, policy, evaluation, pred, X, made, table.metadata)


def _inputs_of(
    cfg: Config, model_uri: str, table: TrainingTable, pred: pd.DataFrame
) -> pd.DataFrame:
    """Return the encoded model inputs of the predictions' rows, in their order."""
    pipeline = tracking.load_sklearn(cfg.work_dir, model_uri)
    keys = table.keys[["person_id", "as_of_date"]].reset_index(names="row")
    rows = pred[["person_id", "as_of_date"]].merge(keys, how="left", on=["person_id", "as_of_date"])
    return pipeline.named_steps["encode"].transform(table.X.iloc[rows["row"].to_numpy()])
