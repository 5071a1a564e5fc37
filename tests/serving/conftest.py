"""A small real model per target, registered, promoted and imported once per session.

The in-process service is built once per session too: BentoML registers its Prometheus
metrics when an app is built, so a second ``to_asgi()`` in one process would clash.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from stratify.serving import store
from stratify.serving.api.auth import add_token
from tests.serving import factory

TARGETS = ("escalation", "rereferral")
MAX_BATCH = 5


@pytest.fixture(scope="session")
def served_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work dir with both targets' champions registered in MLflow and imported."""
    work = tmp_path_factory.mktemp("work")
    with pytest.MonkeyPatch.context() as mp:
        factory.skip_requirement_inference(mp)
        for i, target in enumerate(TARGETS):
            factory.register(work, target, seed=i)
            store.import_champion(work, target)
    return work


@dataclass(frozen=True)
class Service:
    """The in-process service, its tokens (by role) and its audit log."""

    client: Any
    tokens: dict[str, str]
    audit_log: Path


def write_config(path: Path, work: Path, **serving: object) -> Path:
    """Write a run config with a serving section."""
    path.write_text(yaml.safe_dump({"home": str(work), "serving": serving}))
    return path


@pytest.fixture(scope="session")
def service(served_work: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service through ``to_asgi()`` and Starlette's TestClient (lifespan included)."""
    from starlette.testclient import TestClient

    from stratify.serving.api.service import Stratify

    here = tmp_path_factory.mktemp("service")
    tokens_file, audit = here / "tokens.json", here / "audit" / "requests.jsonl"
    config = write_config(here / "config.yaml", served_work, tokens_file=str(tokens_file),
                          audit_log=str(audit), max_batch=MAX_BATCH)  # fmt: skip
    tokens = {r: add_token(tokens_file, f"{r} subject", [r])[0] for r in ("scorer", "reviewer")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATIFY_CONFIG", str(config))
        mp.delenv("STRATIFY_TOKENS", raising=False)
        store.use_store(served_work)
        with TestClient(Stratify.to_asgi()) as client:
            yield Service(client, tokens, audit)


@pytest.fixture
def svc(service: Service) -> Service:
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
