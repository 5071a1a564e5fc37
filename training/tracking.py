"""MLflow, behind one module: runs, artefacts, the registry and its aliases.

Every function takes the run :class:`~stratify.features.config.Config`: the tracking
store is its ``mlflow_uri`` (``MLFLOW_TRACKING_URI`` as resolved once at the edge, else
a SQLite database under the working directory). Models are registered as
``stratify-<target>``; a new version gets the alias ``challenger``; ``champion`` moves
only through :func:`promote`, with a named approver and a reason recorded as tags.
Nothing here logs a feature value or an identifier: the model's input example is a
made-up neutral record, not a child's.

This is the one training module that touches ``os.environ``, and only to keep MLflow's
habits out of it (:func:`mlflow_environment`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import skops.io
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from stratify.core.environment import environment_kept
from stratify.core.targets import CHALLENGER, CHAMPION, Target, model_name
from stratify.features.catalogue import catalogue_hash
from stratify.features.config import MLFLOW_ENV, Config
from stratify.features.model_input import category_columns
from stratify.training.evaluation import Evaluation, Lineage, RegisteredRun

#: MLflow draws a progress bar for artefact transfers unless this says "false".
PROGRESS_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
ARTIFACTS_DIR = "mlartifacts"
ERR_NO_VERSION = "{name} has no version {version} in the registry at {uri}"
ERR_NO_APPROVER = "promotion needs a named approver and a reason (--approved-by, --reason)"
ERR_VERDICT = (
    "{name} version {version}: the verdict against the bar is '{verdict}'; promotion "
    "needs --override-reason to say why it should be used anyway"
)
ERR_UNASSESSABLE = (
    "{name} version {version}: the fairness verdict is 'not assessable' (checks the "
    "policy requires could not be assessed); promotion needs --acknowledge-unassessable "
    "to say why it may be used without them"
)
#: The version tag that records the acknowledgement of an unassessable fairness verdict.
UNASSESSABLE_TAG = "unassessable_acknowledged"

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "alias_version",
    "connect",
    "download",
    "flat_metrics",
    "load_pyfunc",
    "load_sklearn",
    "log_artifacts",
    "log_training",
    "mlflow_environment",
    "model_name",
    "neutral_example",
    "promote",
    "read_json_artifact",
    "set_version_tags",
    "version_info",
]


@contextmanager
def mlflow_environment() -> Iterator[None]:
    """Run a block of MLflow calls, leaving the process environment as it was.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI``; left there, it
    would be taken for the user's own setting by the next command that resolves a config
    in the same process. Inside the block MLflow's artefact progress bar is off (unless
    the user turned it on), as it would garble the command line's own progress display.
    """
    with environment_kept((*MLFLOW_ENV, PROGRESS_ENV)):
        os.environ.setdefault(PROGRESS_ENV, "false")
        yield


def _point(cfg: Config) -> MlflowClient:
    """Point MLflow's tracking and registry at ``cfg``'s store (creating the working dir)."""
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(cfg.mlflow_uri)
    mlflow.set_registry_uri(cfg.mlflow_uri)
    return MlflowClient(tracking_uri=cfg.mlflow_uri, registry_uri=cfg.mlflow_uri)


@contextmanager
def _session(cfg: Config) -> Iterator[MlflowClient]:
    with mlflow_environment():
        yield _point(cfg)


def connect(cfg: Config) -> MlflowClient:
    """Point MLflow at ``cfg``'s store (creating the working directory) and return a client."""
    with mlflow_environment():
        return _point(cfg)


def _experiment(client: MlflowClient, cfg: Config, target: Target) -> str:
    name = model_name(target)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if cfg.mlflow_uri.startswith("sqlite:"):  # a server keeps its own artefact store
        location = (cfg.work_dir / ARTIFACTS_DIR).resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


def neutral_example(X: pd.DataFrame, categories: Mapping[str, list[str]]) -> pd.DataFrame:
    """Return a made-up record with X's columns and dtypes: zero counts, first categories."""
    row: dict[str, Any] = {}
    for c in X.columns:
        if c in category_columns([c]) and c in categories and categories[c]:
            row[c] = categories[c][0]
        elif c in category_columns([c]):
            row[c] = None
        else:
            row[c] = 0.0
    return pd.DataFrame([row]).astype({c: X[c].dtype for c in X.columns})


def flat_metrics(evaluation: Evaluation) -> dict[str, float]:
    """Flatten ``metrics`` and ``lift_over`` into MLflow metric names (NaN dropped)."""
    out: dict[str, float] = {}
    for table, prefix in ((evaluation.metrics, "test"), (evaluation.lift_over, "lift_over")):
        for model, metrics in table.items():
            for metric, ci in metrics.items():
                for suffix, value in (("", ci.value), ("_ci_low", ci.low), ("_ci_high", ci.high)):
                    if value is not None and np.isfinite(value):
                        out[f"{prefix}.{model}.{metric}{suffix}"] = float(value)
    return out


@contextmanager
def _staging() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="stratify-") as tmp:
        yield Path(tmp)


def log_training(
    cfg: Config,
    *,
    pipeline: Pipeline,
    example: pd.DataFrame,
    evaluation: Evaluation,
    params: Mapping[str, Any],
    lineage: Lineage,
    artifacts: Mapping[str, Path],
    model_metadata: Mapping[str, Any],
) -> RegisteredRun:
    """Log a training run of ``evaluation.target``, register its model as ``challenger``.

    ``example`` is the model's input example (:func:`neutral_example`: never a real
    record); ``artifacts`` maps an artefact folder inside the run to a local file or
    folder. The resolved ``cfg`` is logged as ``config/resolved_config.json``.

    Returns
    -------
    RegisteredRun
        The MLflow run id, the registered version and ``lineage``.
    """
    target = evaluation.target
    name = model_name(target)
    tags = {f"lineage.{k}": v for k, v in lineage.as_dict().items()}
    with _session(cfg) as client:
        with mlflow.start_run(experiment_id=_experiment(client, cfg, target)) as run:
            mlflow.set_tags({"target": target, **tags})
            mlflow.log_params(dict(params))
            mlflow.log_dict(cfg.model_dump(mode="json"), "config/resolved_config.json")
            mlflow.log_metrics(flat_metrics(evaluation))
            for where, path in artifacts.items():
                (mlflow.log_artifacts if path.is_dir() else mlflow.log_artifact)(str(path), where)
            signature = infer_signature(example, pipeline.predict_proba(example))
            info = mlflow.sklearn.log_model(
                pipeline,
                name="model",
                serialization_format="skops",
                skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)),
                pyfunc_predict_fn="predict_proba",
                signature=signature,
                input_example=example,
                metadata=dict(model_metadata),
                pip_requirements=pip_requirements(),
                registered_model_name=name,
            )
            version = int(info.registered_model_version)
        client.set_registered_model_alias(name, CHALLENGER, str(version))
        for key, value in _version_tags(evaluation, run.info.run_id).items():
            client.set_model_version_tag(name, str(version), key, value)
        return RegisteredRun(run_id=run.info.run_id, version=version, lineage=lineage)


def pip_requirements() -> list[str]:
    """Return the exact packages the logged pipeline needs (MLflow's inference is slow)."""
    from importlib.metadata import version

    return [
        f"{p}=={version(p)}"
        for p in ("mlflow", "scikit-learn", "lightgbm", "skops", "pandas", "numpy")
    ]


def _version_tags(evaluation: Evaluation, run_id: str) -> dict[str, str]:
    train = evaluation.champion.train
    return {
        "run_id": run_id,
        "verdict": evaluation.verdict.overall,
        "catalogue_hash": catalogue_hash(),
        "training_period": f"{train.start} to {train.end}",
    }


def set_version_tags(cfg: Config, target: Target, version: int, tags: Mapping[str, str]) -> None:
    """Set tags on one registered version (e.g. the fairness verdict after the audit)."""
    with _session(cfg) as client:
        for key, value in tags.items():
            client.set_model_version_tag(model_name(target), str(version), key, str(value))


def version_info(cfg: Config, target: Target, version: int) -> dict[str, Any]:
    """Return a registered version's run id, tags, aliases and model URI.

    Raises
    ------
    LookupError
        If the version is not in the registry.
    """
    name = model_name(target)
    with _session(cfg) as client:
        try:
            mv = client.get_model_version(name, str(version))
        except mlflow.exceptions.MlflowException:
            raise LookupError(
                ERR_NO_VERSION.format(name=name, version=version, uri=cfg.mlflow_uri)
            ) from None
    return {
        "name": name,
        "version": int(mv.version),
        "run_id": mv.run_id,
        "tags": dict(mv.tags),
        "aliases": list(mv.aliases),
        "model_uri": f"models:/{name}/{mv.version}",
        "source": mv.source,
    }


def alias_version(cfg: Config, target: Target, alias: str) -> int | None:
    """Return the version an alias points at, or None."""
    with _session(cfg) as client:
        try:
            return int(client.get_model_version_by_alias(model_name(target), alias).version)
        except mlflow.exceptions.MlflowException:
            return None


def download(cfg: Config, run_id: str, path: str, dst: Path) -> Path:
    """Download one artefact file or folder of a run into ``dst``; return the local path."""
    dst.mkdir(parents=True, exist_ok=True)
    with _session(cfg):
        return Path(
            mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=path, dst_path=str(dst)
            )
        )


def read_json_artifact(cfg: Config, run_id: str, path: str) -> dict[str, Any]:
    """Return a JSON artefact of a run."""
    with _staging() as tmp:
        return json.loads(download(cfg, run_id, path, tmp).read_text())


def log_artifacts(cfg: Config, run_id: str, local: Path, where: str) -> None:
    """Add a file or folder to an existing run's artefacts."""
    with _session(cfg) as client:
        if local.is_dir():
            client.log_artifacts(run_id, str(local), where)
        else:
            client.log_artifact(run_id, str(local), where)


def load_pyfunc(cfg: Config, target: Target, version: int) -> Any:
    """Load a registered version as an MLflow pyfunc (``predict`` returns probabilities)."""
    with _session(cfg):
        return mlflow.pyfunc.load_model(f"models:/{model_name(target)}/{version}")


def _refusals(
    info: dict[str, Any], override_reason: str | None, acknowledge_unassessable: str | None
) -> list[str]:
    """Return why a version may not be promoted with the reasons given (none: it may)."""
    tags, name, version = info["tags"], info["name"], info["version"]
    failed = []
    if tags.get("verdict", "met") != "met":
        failed.append(f"verdict={tags['verdict']}")
    # "not assessable" is no failure to override: it needs its own acknowledgement
    if tags.get("fairness_verdict", "met") not in ("met", "not assessable"):
        failed.append(f"fairness_verdict={tags['fairness_verdict']}")
    out = []
    if failed and not override_reason:
        out.append(ERR_VERDICT.format(name=name, version=version, verdict=", ".join(failed)))
    if tags.get("fairness_verdict") == "not assessable" and not acknowledge_unassessable:
        out.append(ERR_UNASSESSABLE.format(name=name, version=version))
    return out


def promote(
    cfg: Config,
    target: Target,
    version: int,
    *,
    approved_by: str,
    reason: str,
    override_reason: str | None = None,
    acknowledge_unassessable: str | None = None,
) -> dict[str, str]:
    """Move ``champion`` to ``version``, recording who approved it and why.

    Parameters
    ----------
    cfg : Config
    target : Target
    version : int
        The registered version.
    approved_by, reason : str
        Who approves it and why (recorded as tags).
    override_reason : str, optional
        Why to promote although the performance verdict or the fairness verdict is not
        met (recorded as ``override_reason``).
    acknowledge_unassessable : str, optional
        Why to promote although the fairness verdict is "not assessable" (required
        checks could not be assessed); recorded as ``unassessable_acknowledged``. An
        override of a failed verdict does not stand in for it.

    Raises
    ------
    LookupError
        If the version does not exist.
    PermissionError
        If no approver or no reason is named, a verdict is not met without
        ``override_reason``, or the fairness verdict is not assessable without
        ``acknowledge_unassessable``.
    """
    if not approved_by.strip() or not reason.strip():
        raise PermissionError(ERR_NO_APPROVER)
    info = version_info(cfg, target, version)
    refusals = _refusals(info, override_reason, acknowledge_unassessable)
    if refusals:
        raise PermissionError("; ".join(refusals))
    tags = {"approved_by": approved_by, "approval_reason": reason}
    tags["approved_at"] = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    tags["previous_champion"] = str(alias_version(cfg, target, CHAMPION) or "none")
    if override_reason:
        tags["override_reason"] = override_reason
    if acknowledge_unassessable:
        tags[UNASSESSABLE_TAG] = acknowledge_unassessable
    with _session(cfg) as client:
        for key, value in tags.items():
            client.set_model_version_tag(info["name"], str(version), key, value)
        client.set_registered_model_alias(info["name"], CHAMPION, str(version))
        retraining = info["tags"].get("retraining_run")
        if retraining:  # the retraining report's run records what was decided on it
            client.set_tag(retraining, "decision", f"promoted by {approved_by}")
            client.set_tag(retraining, "decided_at", tags["approved_at"])
    return tags


def load_sklearn(cfg: Config, model_uri: str) -> Pipeline:
    """Load a registered version as its scikit-learn pipeline (skops, trusted types only)."""
    with _session(cfg):
        return mlflow.sklearn.load_model(model_uri)


def model_metadata(cfg: Config, target: Target, version: int) -> dict[str, Any]:
    """Return a registered version's model metadata (input columns, bands, periods...)."""
    with _session(cfg):
        info = mlflow.models.get_model_info(f"models:/{model_name(target)}/{version}")
    return dict(info.metadata or {})


def log_comparison(
    cfg: Config,
    target: Target,
    *,
    versions: Mapping[str, int],
    recommendation: str,
    metrics: Mapping[str, float],
    report_dir: Path,
) -> str:
    """Record a retraining comparison as its own MLflow run referencing both versions.

    The run (named ``retrain v<champion> -> v<challenger>``) holds the paired figures as
    metrics, the report as artefacts, and tags naming both registered versions and the
    recommendation; the challenger's version gets a tag pointing back at the run.
    Returns the run id.
    """
    name = model_name(target)
    with _session(cfg) as client:
        run = client.create_run(
            _experiment(client, cfg, target),
            run_name=f"retrain v{versions['champion']} -> v{versions['challenger']}",
            tags={
                "stratify.kind": "retraining comparison",
                "recommendation": recommendation,
                **{f"{role}_version": str(v) for role, v in versions.items()},
                **{f"{role}_model_uri": f"models:/{name}/{v}" for role, v in versions.items()},
            },
        )
        run_id = run.info.run_id
        for key, value in metrics.items():
            if np.isfinite(value):
                client.log_metric(run_id, key, float(value))
        client.log_artifacts(run_id, str(report_dir), "retraining_report")
        client.set_terminated(run_id)
        client.set_model_version_tag(name, str(versions["challenger"]), "retraining_run", run_id)
        client.set_model_version_tag(
            name, str(versions["challenger"]), "recommendation", recommendation
        )
    return run_id


def tag_run(cfg: Config, run_id: str, tags: Mapping[str, str]) -> None:
    """Set tags on a run (e.g. the decision taken on a retraining report)."""
    with _session(cfg) as client:
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
