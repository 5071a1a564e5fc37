"""Helpers of the serving tests and the benchmark: a small real model, configs, the service.

Records are synthesised with the catalogue's columns (counts, flags, codes from their
lists), labels come from a known logistic rule on a few risk factors, and the model is
fitted, calibrated and registered through the real training code into a given work
directory's SQLite MLflow store. Run configs are written and loaded as the edges do,
with an explicit environment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.models
import numpy as np
import pandas as pd
import pytest
import yaml

from stratify.core.targets import Target
from stratify.features.catalogue import features_for
from stratify.features.config import HOME_ENV, Config, load_config
from stratify.features.model_input import category_columns, input_columns, model_frame

LOCALITIES = ["North", "South", "East", "West"]
#: the in-process service's request limit
MAX_BATCH = 5
#: the date and capacity of the small borough's outreach list in the tests
AS_OF = dt.date(2024, 10, 1)
CAPACITY = 30
APPROVER = "test approver"
#: log-odds weights of the known rule (a bool flag or a count)
RULE = {"referrals_12m": 0.6, "s47_ever": 0.8, "open_referral": 1.2, "cp_plans_ever": 0.9}


def categories(target: Target) -> dict[str, list[str]]:
    """The category values of the synthetic borough."""
    cats = {"locality": LOCALITIES}
    for f in features_for(target):
        if f.categories is not None:
            cats[f.name] = list(f.categories)
    return cats


def records(target: Target, n: int, seed: int = 0) -> pd.DataFrame:
    """Synthesise ``n`` valid records of ``target`` (JSON-ready values)."""
    rng = np.random.default_rng(seed)
    cats = categories(target)
    out: dict[str, Any] = {}
    for f in features_for(target):
        if f.dtype == "bool":
            values: Any = rng.random(n) < 0.3
        elif f.dtype == "category":
            values = rng.choice(cats[f.name], n).astype(object)
        else:
            high = f.maximum if f.maximum is not None else 6
            low = f.minimum or 0
            values = (
                rng.integers(low, min(high, 216) + 1, n)
                if f.name == "age_months"
                else (low + rng.poisson(0.8, n).clip(0, high - low))
            )
            values = values.astype(object)
        if f.nullable:
            values = np.where(rng.random(n) < 0.1, None, values).astype(object)
        out[f.name] = values
    frame = pd.DataFrame(out, dtype=object)  # None stays None (JSON null)
    frame.insert(0, "record_id", [f"p{seed}-{i:05d}" for i in range(n)])
    return frame


def labels(frame: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """Labels from the known logistic rule."""
    rng = np.random.default_rng(seed + 1)
    logit = -2.5 + sum(w * frame[c].astype(float).to_numpy() for c, w in RULE.items())
    return (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)


def skip_requirement_inference(mp: pytest.MonkeyPatch) -> None:
    """Skip MLflow's pip-requirement inference (a subprocess, ~5 s a model): defaults suffice."""
    mp.setattr(mlflow.models, "infer_pip_requirements", lambda *a, fallback=None, **k: fallback)


def _evaluation(target: Target, train: tuple[str, str]) -> Any:
    """A minimal evaluation record: the training period and a met verdict, no figures."""
    from stratify.training.evaluation import Evaluation

    part = {"rows": 0, "positives": 0, "families": 0}
    return Evaluation.from_dict({
        "target": target, "created": "2024-04-01T00:00:00+00:00",
        "capacity": "200 families per quarter", "calibration": "sigmoid",
        "split": {"train": {"start": train[0], "end": train[1], **part},
                  "calibrate": {"start": train[1], "end": train[1], **part},
                  "test": {"start": "2023-03-31", "end": "2024-03-31", **part}},
        "metrics": {}, "lift_over": {}, "ceiling_gap": None, "per_quarter": [], "n_boot": 0,
        "base_rate": 0.0, "search": {"chosen": {}, "candidates": [], "logreg_C": 1.0},
        "features": [], "protected_inputs": [], "train_seconds": 0.0,
        "verdict": {"criteria": [], "overall": "met"},
        "horizon_months": 12,
        "eligibility": {"learn_from": "eligible", "test_rows": 0, "test_positives": 0,
                        "eligible_rows": 0, "eligible_positives": 0},
        "operating_point": {"families": 0, "families_with_outcome": 0, "listed": 0,
                            "threshold": None},
        "backtest": [],
        "champion": {"train": {"start": train[0], "end": train[1], **part},
                     "calibrate": {"start": train[1], "end": train[1], **part},
                     "trees": 0, "threshold": None},
    })  # fmt: skip


def register(work_dir: Path, target: Target, *, rows: int = 3000, trees: int = 40,
             seed: int = 0, leaves: int = 15) -> int:  # fmt: skip
    """Fit, register and promote a model of ``target`` into ``work_dir``; return its version."""
    from stratify.training import models, tracking
    from stratify.training.evaluation import Lineage
    from stratify.training.train import band_edges

    raw = records(target, rows + 1000, seed)
    y = labels(raw, seed)
    columns = input_columns(target)
    X = model_frame(raw, columns)
    cats = categories(target)
    enc = models.encoder(columns, cats)
    Xe = enc.fit_transform(X[:rows])
    params = {"num_leaves": leaves, "min_child_samples": 20, "learning_rate": 0.1}
    lgbm = models.fit_lightgbm(
        Xe, y[:rows], params, n_estimators=trees, seed=seed, categorical=category_columns(columns)
    )
    pipe = models.calibrated_pipeline(enc, lgbm, X[rows:], y[rows:], "sigmoid")
    period = ("2019-03-31", "2022-03-31")
    metadata = {
        "target": target, "input_columns": columns, "categories": cats,
        "band_edges": band_edges(pipe.predict_proba(X[:rows])[:, 1]),
        "catalogue_hash": "test", "training_period": {"start": period[0], "end": period[1]},
        "test_period": {"start": "2023-03-31", "end": "2024-03-31"},
        "capacity": "200 families per quarter", "verdict": "met",
    }  # fmt: skip
    cfg = config(work_dir)
    run = tracking.log_training(
        cfg, pipeline=pipe, example=tracking.neutral_example(X, cats),
        evaluation=_evaluation(target, period), params=params,
        lineage=Lineage("test", "test", "test", "2024-04-01", "test"), artifacts={},
        model_metadata=metadata,
    )  # fmt: skip
    tracking.promote(
        cfg, target, run.version, approved_by=APPROVER, reason="test model",
        override_reason="synthetic test model",
    )  # fmt: skip
    return run.version


def write_config(path: Path, work: Path, **serving: object) -> Path:
    """Write a run config with ``home`` and a serving section."""
    path.write_text(yaml.safe_dump({"home": str(work), "serving": serving}))
    return path


def config(work: Path) -> Config:
    """The default run config of a working directory, resolved as an edge would (no env)."""
    return load_config(None, {HOME_ENV: str(work)})


@dataclass(frozen=True)
class Service:
    """The in-process service, its tokens (by role) and its audit log."""

    client: Any
    tokens: dict[str, str]
    audit_log: Path
