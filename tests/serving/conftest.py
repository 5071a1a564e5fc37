"""Fixtures of the serving tests: real champions in real stores, and the service in process.

A small real model per target is registered, promoted and imported once per session; the
escalation champion of the small borough (trained by the real training run) too, for
the outreach lists. The in-process service is built once per session: BentoML registers
its Prometheus metrics when an app is built, so a second ``to_asgi()`` in one process
would clash.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stratify.core.targets import TARGETS
from stratify.features.config import Config, load_config
from stratify.serving import store
from stratify.serving.api.auth import ROLES, add_token
from stratify.serving.settings import CONFIG_ENV, TOKENS_ENV
from tests.borough import copy_borough
from tests.serving import factory


@pytest.fixture(scope="session")
def served_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work dir with both targets' champions registered in MLflow and imported."""
    work = tmp_path_factory.mktemp("work")
    uri = factory.config(work).mlflow_uri
    with pytest.MonkeyPatch.context() as mp:
        factory.skip_requirement_inference(mp)
        for i, target in enumerate(TARGETS):
            factory.register(work, target, seed=i)
            store.import_champion(work, target, mlflow_uri=uri)
    return work


@pytest.fixture(scope="session")
def service(
    served_work: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[factory.Service]:
    """The service through ``to_asgi()`` and Starlette's TestClient (lifespan included).

    Its start-up reads the environment, as in a worker started by ``bentoml serve``.
    """
    from starlette.testclient import TestClient

    from stratify.serving.api import service as module

    here = tmp_path_factory.mktemp("service")
    tokens_file, audit = here / "tokens.json", here / "audit" / "requests.jsonl"
    config = factory.write_config(here / "config.yaml", served_work, tokens_file=str(tokens_file),
                                  audit_log=str(audit), max_batch=factory.MAX_BATCH)  # fmt: skip
    tokens = {r: add_token(tokens_file, f"{r} subject", [r])[0] for r in ROLES}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CONFIG_ENV, str(config))
        mp.delenv(TOKENS_ENV, raising=False)
        module.from_environment.cache_clear()
        with TestClient(module.Stratify.to_asgi()) as client:
            yield factory.Service(client, tokens, audit)
        module.from_environment.cache_clear()


@pytest.fixture
def svc(service: factory.Service) -> factory.Service:
    """The session's service with an empty audit log."""
    if service.audit_log.exists():
        service.audit_log.write_text("")
    return service


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    return tmp_path / "tokens.json"


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "requests.jsonl"


@pytest.fixture(scope="session")
def champion(shared_borough: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, int]:
    """The small borough with its escalation model trained, promoted and imported."""
    from stratify.training import tracking
    from stratify.training.policy import load_policy
    from stratify.training.run import train_and_register

    home = tmp_path_factory.mktemp("outreach")
    cfg = load_config(copy_borough(shared_borough, home))
    outcome = train_and_register(cfg, "escalation", load_policy(None))
    tracking.promote(cfg, "escalation", outcome.version, approved_by="test",
                     reason="test", override_reason="test")  # fmt: skip
    store.import_champion(cfg.work_dir, "escalation", mlflow_uri=cfg.mlflow_uri)
    return cfg, outcome.version
