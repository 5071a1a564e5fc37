"""MLflow, behind one module: runs, artefacts, the registry and its aliases.

The tracking store is a SQLite database under the working directory unless
``MLFLOW_TRACKING_URI`` names another (any MLflow server). Models are registered as
``stratify-<target>``; a new version gets the alias ``challenger``; ``champion`` moves
only through :func:`promote`, with a named approver and a reason recorded as tags.
Nothing here logs a feature value or an identifier: the model's input example is a
made-up neutral record, not a child's.
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

from stratify.features.catalogue import Target, catalogue_hash
from stratify.features.config import MLFLOW_ENV, mlflow_tracking_uri
from stratify.features.model_input import category_columns

URI_ENV = "MLFLOW_TRACKING_URI"
DB_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
CHALLENGER, CHAMPION = "challenger", "champion"
ERR_NO_VERSION = "{name} has no version {version} in the registry at {uri}"
ERR_VERDICT = (
    "{name} version {version}: the verdict against the bar is '{verdict}'; promotion "
    "needs --override-reason to say why it should be used anyway"
)


def model_name(target: Target | str) -> str:
    """Return the registered model name of ``target``."""
    return f"stratify-{target}"


def tracking_uri(work_dir: Path) -> str:
    """Return ``$MLFLOW_TRACKING_URI`` or the SQLite store under ``work_dir``."""
    return mlflow_tracking_uri(work_dir)


def point_mlflow(uri: str) -> None:
    """Point MLflow's tracking and registry at ``uri`` without changing the environment.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI``; left there, it
    would be taken for the user's own setting by the next :func:`tracking_uri` call
    for another working directory in the same process.
    """
    saved = {k: os.environ.get(k) for k in MLFLOW_ENV}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def connect(work_dir: Path) -> MlflowClient:
    """Point MLflow at the store (creating the working directory) and return a client."""
    work_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(work_dir)
    point_mlflow(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment(client: MlflowClient, work_dir: Path, target: str) -> str:
    name = model_name(target)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if tracking_uri(work_dir).startswith("sqlite:"):  # a server keeps its own artefact store
        location = (work_dir / ARTIFACTS_DIR).resolve().as_uri()
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


def flat_metrics(evaluation: Mapping[str, Any]) -> dict[str, float]:
    """Flatten ``metrics`` and ``lift_over`` into MLflow metric names (NaN dropped)."""
    out: dict[str, float] = {}
    for section, prefix in (("metrics", "test"), ("lift_over", "lift_over")):
        for model, metrics in evaluation.get(section, {}).items():
            for metric, ci in metrics.items():
                for part, suffix in (("value", ""), ("low", "_ci_low"), ("high", "_ci_high")):
                    v = ci.get(part)
                    if v is not None and np.isfinite(v):
                        out[f"{prefix}.{model}.{metric}{suffix}"] = float(v)
    return out


@contextmanager
def _staging() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="stratify-") as tmp:
        yield Path(tmp)


def log_training(
    work_dir: Path,
    *,
    target: Target,
    pipeline: Pipeline,
    X_example_like: pd.DataFrame,
    categories: Mapping[str, list[str]],
    evaluation: dict[str, Any],
    params: Mapping[str, Any],
    config: Mapping[str, Any],
    lineage: Mapping[str, str],
    artifacts: Mapping[str, Path],
    model_metadata: Mapping[str, Any],
) -> tuple[str, int]:
    """Log a training run, register its model with alias ``challenger``; return (run, version).

    ``artifacts`` maps an artefact folder inside the run to a local file or folder.
    """
    client = connect(work_dir)
    name = model_name(target)
    with mlflow.start_run(experiment_id=_experiment(client, work_dir, target)) as run:
        mlflow.set_tags({"target": target, **{f"lineage.{k}": v for k, v in lineage.items()}})
        mlflow.log_params(dict(params))
        mlflow.log_dict(dict(config), "config/resolved_config.json")
        mlflow.log_metrics(flat_metrics(evaluation))
        for where, path in artifacts.items():
            (mlflow.log_artifacts if path.is_dir() else mlflow.log_artifact)(str(path), where)
        example = neutral_example(X_example_like, categories)
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
    return run.info.run_id, version


def pip_requirements() -> list[str]:
    """Return the exact packages the logged pipeline needs (MLflow's inference is slow)."""
    from importlib.metadata import version

    return [
        f"{p}=={version(p)}"
        for p in ("mlflow", "scikit-learn", "lightgbm", "skops", "pandas", "numpy")
    ]


def _version_tags(evaluation: Mapping[str, Any], run_id: str) -> dict[str, str]:
    tags = {"run_id": run_id, "verdict": evaluation["verdict"]["overall"]}
    tags["catalogue_hash"] = catalogue_hash()
    tags["training_period"] = "{start} to {end}".format(**evaluation["split"]["train"])
    return tags


def set_version_tags(work_dir: Path, target: Target, version: int, tags: Mapping[str, str]) -> None:
    """Set tags on one registered version (e.g. the fairness verdict after the audit)."""
    client = connect(work_dir)
    for key, value in tags.items():
        client.set_model_version_tag(model_name(target), str(version), key, str(value))


def version_info(work_dir: Path, target: Target | str, version: int) -> dict[str, Any]:
    """Return a registered version's run id, tags, aliases and model URI.

    Raises
    ------
    LookupError
        If the version is not in the registry.
    """
    client = connect(work_dir)
    name = model_name(target)
    try:
        mv = client.get_model_version(name, str(version))
    except mlflow.exceptions.MlflowException:
        raise LookupError(
            ERR_NO_VERSION.format(name=name, version=version, uri=tracking_uri(work_dir))
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


def alias_version(work_dir: Path, target: Target | str, alias: str) -> int | None:
    """Return the version an alias points at, or None."""
    client = connect(work_dir)
    try:
        return int(client.get_model_version_by_alias(model_name(target), alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def download(work_dir: Path, run_id: str, path: str, dst: Path) -> Path:
    """Download one artefact file or folder of a run into ``dst``; return the local path."""
    connect(work_dir)
    dst.mkdir(parents=True, exist_ok=True)
    return Path(
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(dst))
    )


def read_json_artifact(work_dir: Path, run_id: str, path: str) -> dict[str, Any]:
    """Return a JSON artefact of a run."""
    with _staging() as tmp:
        return json.loads(download(work_dir, run_id, path, tmp).read_text())


def log_artifacts(work_dir: Path, run_id: str, local: Path, where: str) -> None:
    """Add a file or folder to an existing run's artefacts."""
    client = connect(work_dir)
    if local.is_dir():
        client.log_artifacts(run_id, str(local), where)
    else:
        client.log_artifact(run_id, str(local), where)


def load_pyfunc(work_dir: Path, target: Target | str, version: int) -> Any:
    """Load a registered version as an MLflow pyfunc (``predict`` returns probabilities)."""
    connect(work_dir)
    return mlflow.pyfunc.load_model(f"models:/{model_name(target)}/{version}")


def promote(
    work_dir: Path,
    target: Target | str,
    version: int,
    *,
    approved_by: str,
    reason: str,
    override_reason: str | None = None,
) -> dict[str, str]:
    """Move ``champion`` to ``version``, recording who approved it and why.

    Raises
    ------
    LookupError
        If the version does not exist.
    PermissionError
        If the version's verdict (performance or fairness) is not met and no
        ``override_reason`` is given.
    """
    info = version_info(work_dir, target, version)
    failed = [
        f"{k}={v}"
        for k, v in info["tags"].items()
        if k in ("verdict", "fairness_verdict") and v != "met"
    ]
    if failed and not override_reason:
        raise PermissionError(
            ERR_VERDICT.format(name=info["name"], version=version, verdict=", ".join(failed))
        )
    tags = {"approved_by": approved_by, "approval_reason": reason}
    tags["approved_at"] = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    tags["previous_champion"] = str(alias_version(work_dir, target, CHAMPION) or "none")
    if override_reason:
        tags["override_reason"] = override_reason
    client = connect(work_dir)
    for key, value in tags.items():
        client.set_model_version_tag(info["name"], str(version), key, value)
    client.set_registered_model_alias(info["name"], CHAMPION, str(version))
    return tags


def load_sklearn(work_dir: Path, model_uri: str) -> Pipeline:
    """Load a registered version as its scikit-learn pipeline (skops, trusted types only)."""
    connect(work_dir)
    return mlflow.sklearn.load_model(model_uri)
