"""What ``/score`` and ``/model`` answer, as plain functions of the loaded models.

The BentoML class (:mod:`stratify.serving.api.service`) only wires these to routes, so they are
tested without a server. Each returns ``(status, body)`` and records what the audit
log needs (target, pseudonymous record ids, model version) in ``audit``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from stratify.core.targets import model_name
from stratify.serving.api.schema import (
    ERR_BATCH,
    ERR_BODY,
    ERR_EMPTY,
    ERR_INVALID,
    ERR_TARGET,
    ScoreEnvelope,
    problems,
    record_ids,
    record_model,
    validate_records,
)
from stratify.serving.scoring import Scorer
from stratify.serving.store import Champion, locate_champion, read_pointers, store_home

BAND_DEFINITION = (
    "band 1-10: the decile of the probability among the model's training population "
    "(band 10 holds the highest-scored tenth)"
)
ERR_MEDIA = "the body must be application/json, not {media}"
ERR_BODY_SIZE = "the body is larger than {limit:,} bytes; send fewer records per request"
ERR_JSON = "the body is not valid JSON (UTF-8)"
ERR_NOTHING_IMPORTED = (
    "no model has been imported into {work}/bentoml: run "
    "`stratify import-model --target escalation` (and rereferral) first"
)
ERR_MODEL_BROKEN = (
    "the {target} champion {tag} in the BentoML store ({path}) cannot be loaded ({reason}); "
    "nothing is served: run `stratify import-model --target {target}` again"
)
ERR_NO_CARD = "no model card has been written for {name} version {version}"
CARD_PATH = "model_cards/{target}/v{version}/model_card.html"


@dataclass(frozen=True)
class Served:
    """One served model: its scorer, generated request model and imported champion."""

    scorer: Scorer
    record: type[BaseModel]
    champion: Champion

    @classmethod
    def build(cls, scorer: Scorer, champion: Champion) -> Served:
        """Generate the request model of ``scorer``'s model."""
        meta = scorer.metadata
        model = record_model(scorer.target, scorer.columns, meta.get("categories", {}))
        return cls(scorer, model, champion)

    @property
    def name(self) -> str:
        """The registered model name."""
        return model_name(self.scorer.target)


class ServingError(RuntimeError):
    """The imported champions cannot be served: the service must not start."""


def load_served(work_dir: Path, threads: int = 1) -> dict[str, Served]:
    """Load every imported champion (one LightGBM thread each: a worker per core).

    Each scorer's fast TreeSHAP is built and checked here, so no request waits for it.

    A pointer to a model missing from the store, or a model that does not load,
    stops everything: a service must not start with one of its champions silently
    absent or replaced.

    Raises
    ------
    ServingError
        If no model has been imported, or one cannot be found or loaded.
    """
    served: dict[str, Served] = {}
    for target, champion in sorted(read_pointers(work_dir).items()):
        try:
            stored = locate_champion(work_dir, target)
            scorer = Scorer.from_stored(stored, threads)
            scorer.fast_shap()  # built, compiled and checked before the first request
            served[target] = Served.build(scorer, stored.champion)
        except LookupError as err:
            raise ServingError(str(err)) from None
        except Exception as err:  # any damage to the stored files: one clear message
            reason = " ".join(f"{type(err).__name__}: {err}".split())[:200]
            path = store_home(work_dir) / "models" / champion.tag.replace(":", "/")
            raise ServingError(ERR_MODEL_BROKEN.format(
                target=target, tag=champion.tag, path=path, reason=reason)) from err  # fmt: skip
    if not served:
        raise ServingError(ERR_NOTHING_IMPORTED.format(work=work_dir))
    return served


def _problem(field: str | None, problem: str, kind: str = "value_error") -> dict[str, Any]:
    return {"record": None, "field": field, "problem": problem, "type": kind}


@dataclass(frozen=True)
class ScoreBody:
    """A ``/score`` body whose envelope is valid (its records are checked later)."""

    target: str
    records: list[Any]


def parse_score_body(body: bytes) -> ScoreBody | tuple[int, dict[str, Any]]:
    """Parse a ``/score`` body, or return (400, the problems)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return 400, {"error": ERR_JSON, "detail": [_problem(None, ERR_JSON, "json_invalid")]}
    try:
        envelope = ScoreEnvelope.model_validate(data)
    except ValidationError as err:
        return 400, {"error": ERR_BODY, "detail": problems(err)}
    return ScoreBody(envelope.target, envelope.records)


def score(
    served: Mapping[str, Served], target: str, records: Sequence[Any], *, max_batch: int,
    audit: MutableMapping[str, Any],
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """Validate and score a batch; return (HTTP status, body)."""
    model = served.get(target)
    audit["target"] = target if model is not None else None
    audit["record_ids"] = record_ids(records)
    if model is None:
        problem = ERR_TARGET.format(target=target[:40], served=", ".join(sorted(served)))
        return 400, {"error": problem, "detail": [_problem("target", problem)]}
    if len(records) > max_batch:
        return 413, {"error": ERR_BATCH.format(n=len(records), limit=max_batch)}
    if not records:
        return 400, {"error": ERR_EMPTY, "detail": [_problem("records", ERR_EMPTY)]}
    rows, found = validate_records(model.record, records)
    if found:
        return 400, {"error": ERR_INVALID.format(n=len(found)), "detail": found}
    scorer = model.scorer
    audit["model_version"] = scorer.version
    X = scorer.encode_rows(rows)
    p = scorer.probabilities(X)
    bands = scorer.bands(p)
    reasons = scorer.reasons(X, scorer.raw_values(rows))
    results = [
        {
            "record_id": row["record_id"],
            "probability": float(p[i]),
            "band": int(bands[i]),
            "reasons": [r.as_dict() for r in reasons[i]],
            "model_version": scorer.version,
        }  # fmt: skip
        for i, row in enumerate(rows)
    ]
    body = {"target": target, "model_name": model.name, "model_version": scorer.version}
    return 200, {**body, "band_definition": BAND_DEFINITION, "results": results}


def card_path(work_dir: Path, target: str, version: int) -> Path:
    """Return where training writes the model card of a version."""
    return work_dir / CARD_PATH.format(target=target, version=version)


def model_info(
    served: Mapping[str, Served], target: str | None, work_dir: Path,
    audit: MutableMapping[str, Any],
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """Describe the champion of ``target``: version, periods, verdicts, approval, card."""
    model = served.get(target or "")
    if model is None:
        problem = ERR_TARGET.format(target=(target or "")[:40], served=", ".join(sorted(served)))
        return 400, {"error": problem, "detail": [_problem("target", problem)]}
    scorer, tags = model.scorer, dict(model.champion.tags)
    audit.update(target=scorer.target, model_version=scorer.version)
    meta = scorer.metadata
    card = card_path(work_dir, scorer.target, scorer.version)
    body = {
        "target": scorer.target, "model_name": model.name, "model_version": scorer.version,
        "bento_tag": model.champion.tag, "run_id": model.champion.run_id,
        "training_period": meta.get("training_period"),
        "calibration_period": meta.get("calibration_period"),
        "test_period": meta.get("test_period"), "capacity": meta.get("capacity"),
        "operating_threshold": meta.get("operating_threshold"),
        "verdicts": {"performance": tags.get("verdict", meta.get("verdict")),
                     "fairness": tags.get("fairness_verdict", "not recorded")},
        "approval": {k: tags[k] for k in ("approved_by", "approved_at", "approval_reason",
                                          "override_reason") if k in tags},
        "band_definition": BAND_DEFINITION, "band_edges": meta.get("band_edges"),
        "catalogue_hash": meta.get("catalogue_hash"),
        # feature groups the council's records could not supply, and why
        "unavailable_feature_groups": meta.get("unavailable", []),
        "card": f"/model/card?target={scorer.target}" if card.exists() else None,
    }  # fmt: skip
    if not card.exists():
        body["card_missing"] = ERR_NO_CARD.format(name=model.name, version=scorer.version)
    return 200, body


def card_html(
    served: Mapping[str, Served], target: str | None, work_dir: Path,
    audit: MutableMapping[str, Any],
) -> tuple[int, str | dict[str, Any]]:  # fmt: skip
    """Return the champion's model card (HTML), or a JSON error."""
    status, info = model_info(served, target, work_dir, audit)
    if status != 200:
        return status, info
    path = card_path(work_dir, info["target"], info["model_version"])
    if not path.exists():
        return 404, {"error": info["card_missing"]}
    return 200, path.read_text(encoding="utf-8")
