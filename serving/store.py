"""The BentoML model store under the working directory, filled from the MLflow registry.

``stratify import-model --target T`` looks up the version the ``champion`` alias points
at *now*, imports exactly that version (``models:/stratify-T/N``) as the BentoML model
``stratify-T:vN`` with the registry's tags recorded, and writes the pointer
``<work>/serving/champions.json``. The service loads what the pointer names, so it
serves a recorded version, never "latest"; after a promotion, import again and restart.

The store is ``<work>/bentoml`` (:func:`store_home`), not the user's home. Every function
takes the working directory and opens that store explicitly; nothing here reads or
changes the environment. Only BentoML's MLflow importer insists on the process-wide
store, so :func:`import_champion` points it at ours for the length of the import
(:func:`_process_store`); ``stratify serve`` starts BentoML with ``BENTOML_HOME`` set to
the same folder. Loading a model is :mod:`stratify.serving.scoring`'s business: this
module hands over a :class:`StoredModel`, and never imports the scorer.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stratify.core.environment import environment_kept
from stratify.core.files import write_atomic
from stratify.core.targets import CHAMPION, Target, model_name, target_of

if TYPE_CHECKING:
    from bentoml._internal.models import ModelStore

POINTERS = Path("serving") / "champions.json"
STORE_DIR = "bentoml"
#: where BentoML's MLflow importer keeps the MLflow model inside a stored model
MODEL_FOLDER = "mlflow_model"

ERR_REGISTRY = (
    "the MLflow registry at {uri} could not be used ({reason}); nothing was imported and "
    "the served champion is unchanged"
)
ERR_NO_CHAMPION = (
    "{name} has no champion in the registry at {uri}: promote a version first (stratify promote)"
)
ERR_NOT_IMPORTED = "no model imported for {target}: run `stratify import-model --target {target}`"
ERR_NOT_IN_STORE = (
    "the {target} champion {tag} is recorded in {pointers} but missing from the BentoML "
    "store {store}: run `stratify import-model --target {target}` again"
)


@dataclass(frozen=True)
class Champion:
    """An imported champion: the registry version the store holds for a target.

    Attributes
    ----------
    target : Target
        The prediction target.
    tag : str
        The BentoML tag, ``stratify-<target>:v<version>``.
    mlflow_version : int
        The registered MLflow version.
    run_id : str
        The MLflow run that trained it.
    tags : Mapping[str, str]
        The registry version's tags (verdicts, approval) when it was imported.
    """

    target: Target
    tag: str
    mlflow_version: int
    run_id: str
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The registered model name."""
        return model_name(self.target)

    def to_json(self) -> dict[str, Any]:
        """Return the pointer as ``champions.json`` stores it."""
        return {"tag": self.tag, "mlflow_version": self.mlflow_version, "run_id": self.run_id,
                "tags": dict(self.tags)}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Champion:
        """Read a pointer written by :meth:`to_json`."""
        tag = str(data["tag"])
        tags = {str(k): str(v) for k, v in data["tags"].items()}
        return cls(target_of(tag), tag, int(data["mlflow_version"]), str(data["run_id"]), tags)


@dataclass(frozen=True)
class StoredModel:
    """An imported champion and its MLflow model folder in the store."""

    champion: Champion
    path: Path


def store_home(work_dir: Path) -> Path:
    """Return the BentoML home of a working directory (``BENTOML_HOME`` for the service)."""
    return (work_dir / STORE_DIR).resolve()


def _model_store(work_dir: Path) -> ModelStore:
    from bentoml._internal.models import ModelStore

    models = store_home(work_dir) / "models"
    models.mkdir(parents=True, exist_ok=True)
    return ModelStore(str(models))


@contextmanager
def _process_store(store: ModelStore) -> Iterator[None]:
    """Point BentoML's process-wide model store at ``store`` for the block, then back."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    with BentoMLContainer.model_store.patch(store):
        yield


def import_champion(work_dir: Path, target: Target, *, mlflow_uri: str) -> Champion:
    """Import the current champion of ``target`` into the store; record and return it.

    Parameters
    ----------
    work_dir : Path
        The working directory whose store and pointers are written.
    target : Target
        The prediction target.
    mlflow_uri : str
        The MLflow tracking and registry URI (``Config.mlflow_uri``).

    Raises
    ------
    LookupError
        If the registry has no champion for ``target``.
    RegistryError
        If the registry cannot be reached or read (the pointers are left as they were).
    """
    from bentoml.exceptions import NotFound
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    name = model_name(target)
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    try:
        mv = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as err:
        if err.error_code in _NOT_FOUND:
            raise LookupError(ERR_NO_CHAMPION.format(name=name, uri=mlflow_uri)) from None
        raise RegistryError(_registry_error(mlflow_uri, err)) from err
    except Exception as err:  # a registry that cannot be reached: connection errors
        raise RegistryError(_registry_error(mlflow_uri, err)) from err
    tags = {k: str(v) for k, v in mv.tags.items()}
    champion = Champion(target, f"{name}:v{mv.version}", int(mv.version), str(mv.run_id), tags)
    store = _model_store(work_dir)
    try:
        store.get(champion.tag)
    except NotFound:
        try:
            _import(store, champion, mlflow_uri, store_home(work_dir))
        except Exception as err:  # the pointer is written only after a complete import
            raise RegistryError(_registry_error(mlflow_uri, err)) from err
    _write_pointer(work_dir, champion)
    return champion


class RegistryError(RuntimeError):
    """The registry could not be read; nothing was imported, the pointers are unchanged."""


#: MLflow's codes for "no such model or alias" (anything else is the registry failing)
_NOT_FOUND = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


def _registry_error(uri: str, err: BaseException) -> str:
    reason = " ".join(str(err).split())
    return ERR_REGISTRY.format(uri=uri, reason=f"{type(err).__name__}: {reason[:160]}")


@contextmanager
def _mlflow_at(uri: str) -> Iterator[None]:
    """Point MLflow's process-wide tracking and registry at ``uri`` for the block.

    ``download_artifacts`` of a ``models:/`` URI resolves the registry through MLflow's
    process-wide setting, whatever was set last in this process (by a training run, say),
    so it is set here explicitly; the environment MLflow exports is put back after.
    """
    import mlflow

    with environment_kept(("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        yield


def _import(store: ModelStore, champion: Champion, mlflow_uri: str, scratch: Path) -> None:
    """Download the registered version with an explicit URI, then store it."""
    import bentoml
    from mlflow.artifacts import download_artifacts

    uri = f"models:/{champion.name}/{champion.mlflow_version}"
    with tempfile.TemporaryDirectory(dir=scratch) as tmp, _mlflow_at(mlflow_uri):
        local = download_artifacts(
            artifact_uri=uri, dst_path=tmp, tracking_uri=mlflow_uri, registry_uri=mlflow_uri
        )
        with _process_store(store):
            bentoml.mlflow.import_model(
                champion.tag, local,
                labels={"target": champion.target, "mlflow_version": str(champion.mlflow_version)},
                metadata={"mlflow_version": champion.mlflow_version, "run_id": champion.run_id,
                          "tags": dict(champion.tags)},
            )  # fmt: skip


def _pointers_file(work_dir: Path) -> Path:
    return work_dir / POINTERS


def _write_pointer(work_dir: Path, champion: Champion) -> None:
    pointers = {t: c.to_json() for t, c in read_pointers(work_dir).items()}
    pointers[champion.target] = champion.to_json()
    text = json.dumps(pointers, indent=2, sort_keys=True)
    write_atomic(_pointers_file(work_dir), lambda tmp: tmp.write_text(text))


def read_pointers(work_dir: Path) -> dict[Target, Champion]:
    """Return target -> the imported champion (tag, MLflow version, run id, tags)."""
    path = _pointers_file(work_dir)
    if not path.exists():
        return {}
    champions = (Champion.from_json(v) for v in json.loads(path.read_text()).values())
    return {c.target: c for c in champions}


def locate_champion(work_dir: Path, target: Target) -> StoredModel:
    """Return the imported champion of ``target`` and its MLflow model folder in the store.

    Raises
    ------
    LookupError
        If no champion of ``target`` has been imported.
    """
    from bentoml.exceptions import NotFound

    champion = read_pointers(work_dir).get(target)
    if champion is None:
        raise LookupError(ERR_NOT_IMPORTED.format(target=target))
    try:
        model = _model_store(work_dir).get(champion.tag)
    except NotFound:
        raise LookupError(ERR_NOT_IN_STORE.format(
            target=target, tag=champion.tag, pointers=_pointers_file(work_dir),
            store=store_home(work_dir) / "models")) from None  # fmt: skip
    return StoredModel(champion, Path(model.path_of(MODEL_FOLDER)))
