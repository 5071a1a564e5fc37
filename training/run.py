"""One training run end to end: read the table, train, plot, record in MLflow, audit, card.

:func:`train_and_register` is what ``stratify train`` and ``stratify demo`` call. The
audit and the model card run at the end of every training run, so no registered
version exists without its card.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from stratify.core.progress import StageCallback as Progress
from stratify.core.targets import Target
from stratify.features.catalogue import catalogue_hash
from stratify.features.config import Config
from stratify.features.model_input import input_columns
from stratify.training import plots, tracking
from stratify.training.audit.report import audit
from stratify.training.card.approval import stamp_approval
from stratify.training.card.history import approval_of, card_history
from stratify.training.card.render import write_card
from stratify.training.data import TrainingTable, load_table
from stratify.training.evaluation import Evaluation, Lineage, RegisteredRun, registered_run_of
from stratify.training.followup.labels import measure
from stratify.training.models import booster_of
from stratify.training.policy import Policy
from stratify.training.train import TrainResult, train

CARDS_DIR = "model_cards"


@dataclass(frozen=True)
class RunOutcome:
    """What a training run recorded: its evaluation, its registered run and its card."""

    evaluation: Evaluation
    run: RegisteredRun
    card_dir: Path | None
    #: The registered model before its trees were refitted with the latest slice (in
    #: memory only): what a comparison on that slice may fairly score.
    held_out: Pipeline | None = field(default=None, repr=False, compare=False)

    @property
    def target(self) -> Target:
        """The run's target."""
        return self.evaluation.target

    @property
    def run_id(self) -> str:
        """The MLflow run id."""
        return self.run.run_id

    @property
    def version(self) -> int:
        """The registered model version."""
        return self.run.version


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


def lineage(table: TrainingTable, cfg: Config) -> Lineage:
    """Return the hashes that tie a run to its data, features and config."""
    meta = table.metadata
    return Lineage(
        warehouse_content_hash=str(meta.get("warehouse_content_hash")),
        feature_table_hash=str(meta["feature_table_hash"]),
        catalogue_hash=catalogue_hash(),
        extract_date=str(meta.get("extract_date")),
        config_hash=config_hash(cfg),
    )


def make_plots(result: TrainResult, out: Path) -> dict[str, Path]:
    """Write every performance plot of ``result`` into ``out``."""
    pred = result.predictions
    y = pred["label"].to_numpy()
    scores = {"lightgbm": pred["score"], "rule": pred["score_rule"], "logreg": pred["score_logreg"]}
    made = plots.curves(y, {k: v.to_numpy() for k, v in scores.items()}, out)
    made["calibration"] = plots.calibration(y, pred["score"].to_numpy(), out)
    made["capacity_over_time"] = plots.capacity_over_time(result.evaluation.per_quarter, out)
    booster = booster_of(result.pipeline)
    gain = booster.feature_importance(importance_type="gain")
    made["importance"] = plots.importance(booster.feature_name(), gain, out)
    rng = np.random.default_rng(0)
    take = rng.choice(len(pred), size=min(plots.SHAP_SAMPLE, len(pred)), replace=False)
    encoded = result.pipeline.named_steps["encode"].transform(result.X_test.iloc[np.sort(take)])
    contrib = np.asarray(booster.predict(encoded, pred_contrib=True))[:, :-1]
    made["shap_summary"] = plots.shap_summary(contrib, encoded, out)
    return made


def model_metadata(result: TrainResult, table: TrainingTable) -> dict[str, Any]:
    """Return what the service needs beside the pipeline: inputs, categories, bands, periods."""
    evaluation = result.evaluation
    return {
        "target": table.target,
        "input_columns": list(table.X.columns),
        "categories": table.categories,
        "band_edges": result.band_edges,
        "catalogue_hash": catalogue_hash(),
        # the registered model's own periods (refitted on every complete label window)
        "training_period": evaluation.champion.train.as_dict(),
        "calibration_period": evaluation.champion.calibrate.as_dict(),
        "operating_threshold": evaluation.champion.threshold,
        # the out-of-time evaluation of the procedure the figures on the card describe
        "evaluated_training_period": evaluation.split.train.as_dict(),
        "test_period": evaluation.split.test.as_dict(),
        "capacity": evaluation.capacity,
        "verdict": evaluation.verdict.overall,
        # feature groups the council's records could not supply (stratify.features.sources)
        "unavailable": table.metadata.get("unavailable", []),
    }


def train_and_register(
    cfg: Config,
    target: Target,
    policy: Policy,
    progress: Progress = lambda _: None,
    *,
    truth: Path | None = None,
) -> RunOutcome:
    """Train ``target``, log and register it (alias ``challenger``), then audit and card it.

    ``truth`` is the simulator's ground truth of the extract (default: the working
    directory's ``sim/truth``, if any).
    """
    progress("reading the feature table")
    table = load_table(
        feature_dir(cfg, target),
        target,
        cfg.training.include_protected,
        truth if truth is not None else truth_dir(cfg),
        pseudonym_secret=cfg.pseudonym_secret,
        exclude=cfg.training.exclude_features,
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
        run = tracking.log_training(
            cfg,
            pipeline=result.pipeline,
            example=tracking.neutral_example(table.X, table.categories),
            evaluation=result.evaluation,
            params=_params(result, cfg, target),
            lineage=lineage(table, cfg),
            artifacts={"plots": staging / "plots", "evaluation": staging / "evaluation"},
            model_metadata=model_metadata(result, table),
        )
        # evaluation.json is logged once the run id and version it records are known
        dumped = _dump(staging, result.evaluation, run)
        tracking.log_artifacts(cfg, run.run_id, dumped, "evaluation")
        progress("auditing fairness and writing the model card")
        encoded = result.pipeline.named_steps["encode"].transform(result.X_test)
        card_dir = audit_and_card(
            cfg, policy, result.evaluation, run, predictions=result.predictions, X=encoded,
            plots_made=plots_made, metadata=card_metadata(cfg, table),
        )  # fmt: skip
    return RunOutcome(result.evaluation, run, card_dir, result.held_out)


def card_metadata(cfg: Config, table: TrainingTable) -> dict[str, Any]:
    """Return the metadata the card shows: the build's and the labels touched by the lists.

    The measured share of training decision points whose family was contacted from an
    earlier list within the label window (:mod:`stratify.training.followup.labels`).
    """
    touch = measure(cfg.work_dir, table.keys, cfg.features.horizon_months)
    return {**table.metadata, "labels_touched": touch.sentence()}


def card_dir_of(cfg: Config, target: str, version: int) -> Path:
    """Return where the card of one registered version is written."""
    return cfg.work_dir / CARDS_DIR / target / f"v{version}"


def stamp_card(cfg: Config, target: Target, version: int) -> list[Path]:
    """Rewrite a version's card to name its approver (after ``stratify promote``).

    The card's Markdown, HTML and PDF in the card folder are rewritten together, and
    the run's logged copy of the card is replaced when the version has a run.
    """
    info = tracking.version_info(cfg, target, version)
    folder = card_dir_of(cfg, target, version)
    written = stamp_approval(folder, approval_of(info["tags"]))
    if info["run_id"]:
        tracking.log_artifacts(cfg, info["run_id"], folder, "model_card")
    return written


def audit_and_card(
    cfg: Config,
    policy: Policy,
    evaluation: Evaluation,
    run: RegisteredRun,
    *,
    predictions: pd.DataFrame,
    X: pd.DataFrame | None,
    plots_made: dict[str, Path],
    metadata: dict[str, Any],
) -> Path:
    """Audit a registered version, write its card, log both to its run, tag the verdict."""
    result = audit(
        predictions, config=cfg.audit, policy=policy.fairness, X=X, seed=cfg.training.seed
    )
    out = card_dir_of(cfg, evaluation.target, run.version)
    write_card(
        out, evaluation=evaluation, run=run, audit=result, plots=plots_made, policy=policy,
        metadata=metadata, history=card_history(cfg, evaluation.target, run.version),
    )  # fmt: skip
    tracking.log_artifacts(cfg, run.run_id, out, "model_card")
    tracking.set_version_tags(
        cfg, evaluation.target, run.version, {"fairness_verdict": result.verdict.overall}
    )
    return out


def _dump(staging: Path, evaluation: Evaluation, run: RegisteredRun) -> Path:
    path = staging / "evaluation" / "evaluation.json"
    path.write_text(evaluation.to_json(run))
    return path


def _params(result: TrainResult, cfg: Config, target: Target) -> dict[str, Any]:
    search = result.evaluation.search
    return {
        **{f"lightgbm.{k}": v for k, v in search.chosen.items()},
        "logreg.C": search.logreg_c,
        "calibration": cfg.training.calibration,
        "capacity": result.evaluation.capacity,
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
    info = tracking.version_info(cfg, target, version)
    run_id = info["run_id"]
    with tempfile.TemporaryDirectory(prefix="stratify-audit-") as tmp:
        staging = Path(tmp)
        pred = pd.read_parquet(
            tracking.download(cfg, run_id, "evaluation/predictions.parquet", staging)
        )
        data = tracking.read_json_artifact(cfg, run_id, "evaluation/evaluation.json")
        evaluation, run = Evaluation.from_dict(data), registered_run_of(data)
        plots_dir = tracking.download(cfg, run_id, "plots", staging)
        made = {p.stem: p for p in plots_dir.glob("*.png")}
        left_out = tuple(
            c for c in input_columns(target) if c not in set(evaluation.features)
        )  # the version's own inputs, whatever the config says now
        table = load_table(
            feature_dir(cfg, target), target, evaluation.protected_inputs,
            pseudonym_secret=cfg.pseudonym_secret, exclude=left_out,
        )  # fmt: skip
        X = None
        if table.metadata["feature_table_hash"] == run.lineage.feature_table_hash:
            X = _inputs_of(cfg, info["model_uri"], table, pred)
        return audit_and_card(
            cfg, policy, evaluation, run, predictions=pred, X=X, plots_made=made,
            metadata=card_metadata(cfg, table),
        )  # fmt: skip


def _inputs_of(
    cfg: Config, model_uri: str, table: TrainingTable, pred: pd.DataFrame
) -> pd.DataFrame:
    """Return the encoded model inputs of the predictions' rows, in their order."""
    pipeline = tracking.load_sklearn(cfg, model_uri)
    keys = table.keys[["person_id", "as_of_date"]].reset_index(names="row")
    rows = pred[["person_id", "as_of_date"]].merge(keys, how="left", on=["person_id", "as_of_date"])
    return pipeline.named_steps["encode"].transform(table.X.iloc[rows["row"].to_numpy()])
