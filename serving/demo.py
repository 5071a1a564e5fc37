"""The serving part of ``stratify demo``: champions imported, a demo token, outreach lists.

Run-level functions of a typed :class:`~stratify.features.config.Config`. Each does its
work and returns what it produced; the caller (:mod:`stratify.demo`) decides what to
print. Call them after promotion, in this order: :func:`import_champions`, then
:func:`write_demo_outreach` (it scores with the imported escalation champion), then
:func:`demo_token` and :func:`write_example_request` for :func:`service_instructions`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from stratify.core.files import write_atomic
from stratify.core.targets import TARGETS, Target
from stratify.features.config import Config
from stratify.features.warehouse.store import read_meta
from stratify.serving import store
from stratify.serving.api.auth import Role, add_token
from stratify.serving.example import example_request
from stratify.serving.outreach.cohort import TARGET, cohort_at, known_localities
from stratify.serving.outreach.run import (
    WAREHOUSE_FILE,
    OutreachOutcome,
    check_inputs,
    latest_snapshot,
    list_and_write,
)
from stratify.serving.scoring import Scorer
from stratify.serving.settings import Settings

DEMO_SUBJECT = "demo"
DEMO_ROLES: tuple[Role, ...] = ("scorer", "reviewer")
EXAMPLE_REQUEST = Path("serving") / "example_request.json"


@dataclass(frozen=True)
class Imported:
    """What :func:`import_champions` did.

    Attributes
    ----------
    champions : dict[Target, Champion]
        The champions now in the store, by target.
    missing : dict[Target, str]
        Why the other targets are not served (no champion in the registry).
    """

    champions: dict[Target, store.Champion]
    missing: dict[Target, str]


def import_champions(cfg: Config) -> Imported:
    """Import every target's current champion into the store (as ``import-model`` does)."""
    champions: dict[Target, store.Champion] = {}
    missing: dict[Target, str] = {}
    for target in TARGETS:
        try:
            champions[target] = store.import_champion(
                cfg.work_dir, target, mlflow_uri=cfg.mlflow_uri
            )
        except LookupError as err:
            missing[target] = str(err)
    return Imported(champions, missing)


def demo_token(cfg: Config) -> str:
    """Create the demo token (scorer and reviewer roles) and return it.

    A new token each run (only hashes are kept); the previous demo token is revoked.
    """
    tokens_file = Settings.from_config(cfg).tokens_file
    token, _ = add_token(tokens_file, DEMO_SUBJECT, DEMO_ROLES, replace=True)
    return token


def write_example_request(cfg: Config, target: Target) -> Path:
    """Write a ``/score`` body for the imported champion of ``target``; return its path.

    Raises
    ------
    LookupError
        If no champion of ``target`` has been imported.
    """
    body = json.dumps(example_request(cfg.work_dir, target), indent=2)
    return write_atomic(cfg.work_dir / EXAMPLE_REQUEST, lambda tmp: tmp.write_text(body))


def service_instructions(
    token: str, example: Path, target: Target, config: Path | None = None
) -> list[str]:
    """Return the lines that say how to start the service and call it with the demo token."""
    flag = f" --config {config}" if config is not None else ""
    auth = f"-H 'Authorization: Bearer {token}'"
    return [
        "Start the scoring service:",
        f"  stratify serve{flag}",
        "Then, in another shell (demo token with the scorer and reviewer roles):",
        f"  curl -s -X POST http://127.0.0.1:3000/score {auth} "
        f"-H 'Content-Type: application/json' -d @{example}",
        f"  curl -s 'http://127.0.0.1:3000/model?target={target}' {auth}",
    ]


def write_demo_outreach(cfg: Config) -> list[OutreachOutcome]:
    """Write the latest quarter's outreach lists: the borough's, then one per locality.

    The cohort is built once; the borough's list has the config's capacity (the one the
    model card's figures describe) and each locality's list is its part of it (its own
    K, when the capacity is set per locality). Needs the escalation champion imported
    (:func:`import_champions`).

    Returns
    -------
    list[OutreachOutcome]
        Each list with its workbook and web page (``summary(outcome.outreach)`` in
        :mod:`stratify.serving.outreach.guide` describes it in words).

    Raises
    ------
    LookupError
        If the escalation champion has not been imported.
    """
    warehouse = cfg.work_dir / WAREHOUSE_FILE
    extract = dt.date.fromisoformat(read_meta(warehouse)["extract_date"])
    as_of = latest_snapshot(extract, cfg.features.snapshot_months)
    check_inputs(cfg, as_of, None)
    scorer = Scorer.from_store(cfg.work_dir, TARGET)
    cohort = cohort_at(warehouse, as_of, cfg.features)
    localities = [None, *known_localities(warehouse)]
    return [list_and_write(cfg, cohort, scorer, None, name) for name in localities]
