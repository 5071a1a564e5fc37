"""Fixtures of the step-down tests: the small borough's re-referral champion, imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratify.features.config import Config, load_config
from stratify.serving import store
from tests.borough import copy_borough


@pytest.fixture(scope="session")
def rereferral_champion(
    shared_borough: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Config, int]:
    """The small borough with its re-referral model trained, promoted and imported."""
    from stratify.training import tracking
    from stratify.training.policy import load_policy
    from stratify.training.run import train_and_register

    home = tmp_path_factory.mktemp("stepdown")
    cfg = load_config(copy_borough(shared_borough, home))
    outcome = train_and_register(cfg, "rereferral", load_policy(None))
    tracking.promote(cfg, "rereferral", outcome.version, approved_by="test",
                     reason="test", override_reason="test")  # fmt: skip
    store.import_champion(cfg.work_dir, "rereferral", mlflow_uri=cfg.mlflow_uri)
    return cfg, outcome.version
