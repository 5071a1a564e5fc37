"""The BentoML model store under the working directory, filled from the MLflow registry.

``stratify import-model --target T`` looks up the version the ``champion`` alias points
at *now*, imports exactly that version (``models:/stratify-T/N``) as the BentoML model
``stratify-T:vN`` with the registry's tags recorded, and writes the pointer
``<work>/serving/champions.json``. The service loads what the pointer names, so it
serves a recorded version, never "latest"; after a promotion, import again and restart.

The store lives in ``<work>/bentoml`` (``BENTOML_HOME``), not in the user's home.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from stratify.features.config import MLFLOW_ENV, mlflow_tracking_uri

HOME_ENV = "BENTOML_HOME"
CHAMPION = "champion"
POINTERS = Path("serving") / "champions.json"

ERR_NO_CHAMPION = (
    "{name} has no champion in the registry at {uri}: promote a version first (stratify promote)"
)
ERR_NOT_IMPORTED = "no model imported for {target}: run `stratify import-model --target {target}`"


def model_name(target: str) -> str:
    """Return the registered (MLflow) and stored (BentoML) model name of ``target``."""
    return f"stratify-{target}"


def tracking_uri(work_dir: Path) -> str:
    """Return ``$MLFLOW_TRACKING_URI`` or the SQLite store under ``work_dir``."""
    return mlflow_tracking_uri(work_dir)


def resolve_work_dir(work_dir: Path | None = None) -> Path:
    """Return ``work_dir``, else the one of the config named by ``$STRATIFY_CONFIG``."""
    if work_dir is not None:
        return work_dir
    from stratify.serving.settings import Settings

    return Settings.from_env().work_dir


def use_store(work_dir: Path) -> Path:
    """Point BentoML's model store at ``<work>/bentoml`` for this process; return it.

    BentoML resolves its home once per process, so the store is set explicitly (and
    exported for child processes such as ``bentoml serve``).
    """
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.models import ModelStore

    home = (work_dir / "bentoml").resolve()
    (home / "models").mkdir(parents=True, exist_ok=True)
    os.environ[HOME_ENV] = str(home)
    BentoMLContainer.bentoml_home.set(str(home))
    BentoMLContainer.model_store_dir.set(str(home / "models"))
    BentoMLContainer.model_store.set(ModelStore(str(home / "models")))
    return home


def _registry(work_dir: Path) -> Any:
    from mlflow import MlflowClient

    uri = tracking_uri(work_dir)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def import_champion(work_dir: Path, target: str) -> dict[str, Any]:
    """Import the current champion of ``target`` into the store; return its pointer.

    Raises
    ------
    LookupError
        If the registry has no champion for ``target``.
    """
    import bentoml
    import mlflow
    from bentoml.exceptions import NotFound

    client, name = _registry(work_dir), model_name(target)
    try:
        mv = client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        raise LookupError(ERR_NO_CHAMPION.format(name=name, uri=tracking_uri(work_dir))) from None
    use_store(work_dir)
    tag = f"{name}:v{mv.version}"
    tags = {k: str(v) for k, v in mv.tags.items()}
    try:
        bentoml.models.get(tag)
    except NotFound:
        saved = {k: os.environ.get(k) for k in MLFLOW_ENV}  # as stratify.training.tracking.point_mlflow
        mlflow.set_tracking_uri(tracking_uri(work_dir))
        mlflow.set_registry_uri(tracking_uri(work_dir))
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        bentoml.mlflow.import_model(
            tag,
            f"models:/{name}/{mv.version}",
            labels={"target": target, "mlflow_version": str(mv.version)},
            metadata={"mlflow_version": int(mv.version), "run_id": mv.run_id, "tags": tags},
        )
    pointer = {"tag": tag, "mlflow_version": int(mv.version), "run_id": mv.run_id, "tags": tags}
    _write_pointer(work_dir, target, pointer)
    return pointer


def _pointers_file(work_dir: Path) -> Path:
    return work_dir / POINTERS


def _write_pointer(work_dir: Path, target: str, pointer: dict[str, Any]) -> None:
    path = _pointers_file(work_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    pointers = read_pointers(work_dir)
    pointers[target] = pointer
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(pointers, indent=2, sort_keys=True))
    tmp.replace(path)


def read_pointers(work_dir: Path) -> dict[str, dict[str, Any]]:
    """Return target -> the imported champion (tag, MLflow version, run id, tags)."""
    path = _pointers_file(work_dir)
    if not path.exists():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return data


def champion_dir(work_dir: Path, target: str) -> tuple[Path, dict[str, Any]]:
    """Return the stored MLflow model folder of ``target``'s champion and its pointer.

    Raises
    ------
    LookupError
        If no champion of ``target`` has been imported.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    pointer = read_pointers(work_dir).get(target)
    if pointer is None:
        raise LookupError(ERR_NOT_IMPORTED.format(target=target))
    use_store(work_dir)
    try:
        model = bentoml.models.get(pointer["tag"])
    except NotFound:
        raise LookupError(ERR_NOT_IMPORTED.format(target=target)) from None
    return Path(model.path_of("mlflow_model")), pointer


def load_champion(work_dir: Path, target: str, threads: int = 0) -> Any:
    """Return a :class:`~stratify.serving.scoring.Scorer` for ``target``'s imported champion."""
    from stratify.serving.scoring import Scorer

    path, pointer = champion_dir(work_dir, target)
    return Scorer.from_mlflow_dir(path, pointer["mlflow_version"], threads)
