"""The BentoML store: champions imported with an explicit registry, typed pointers."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from stratify.core.targets import TARGETS, model_name
from stratify.serving import store
from stratify.serving.store import ERR_NOT_IMPORTED, POINTERS, Champion
from tests.serving import factory


def test_pointers_are_typed_champions(served_work: Path):
    pointers = store.read_pointers(served_work)
    assert set(pointers) == set(TARGETS)
    for target, champion in pointers.items():
        assert champion.target == target and champion.name == model_name(target)
        assert champion.tag == f"{champion.name}:v{champion.mlflow_version}"
        assert champion.tags["approved_by"] == factory.APPROVER
        assert Champion.from_json(champion.to_json()) == champion


def test_a_target_not_imported_is_a_lookup_error(tmp_path: Path):
    with pytest.raises(LookupError, match=re.escape(ERR_NOT_IMPORTED.format(target="rereferral"))):
        store.locate_champion(tmp_path, "rereferral")


def test_a_pointer_without_its_stored_model_is_a_lookup_error(served_work: Path, tmp_path: Path):
    (tmp_path / POINTERS).parent.mkdir(parents=True)
    shutil.copy(served_work / POINTERS, tmp_path / POINTERS)
    with pytest.raises(LookupError, match="missing from the BentoML store"):
        store.locate_champion(tmp_path, "escalation")


def test_import_uses_the_registry_and_store_it_is_given(served_work: Path, tmp_path: Path,
                                                        monkeypatch):  # fmt: skip
    """Another work dir's store is filled from ``served_work``'s registry; an unrelated
    ``MLFLOW_TRACKING_URI`` is ignored and the environment is left as it was."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'unrelated.db'}")
    before = dict(os.environ)
    uri = factory.config(served_work).mlflow_uri
    champion = store.import_champion(tmp_path, "escalation", mlflow_uri=uri)
    assert dict(os.environ) == before and not (tmp_path / "unrelated.db").exists()
    assert champion == store.read_pointers(served_work)["escalation"]
    stored = store.locate_champion(tmp_path, "escalation")
    assert stored.champion == champion
    assert stored.path.is_relative_to(store.store_home(tmp_path)) and stored.path.is_dir()
    assert [p.name for p in (tmp_path / "serving").iterdir()] == ["champions.json"]
