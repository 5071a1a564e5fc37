"""Fit and evaluate one target: baselines, the searched LightGBM, calibration, the verdict.

:func:`train` is pure of MLflow: it takes a :class:`~stratify.training.data.TrainingTable` and the
run config, and returns the calibrated pipeline, the test window's predictions and the
evaluation (metrics with family-bootstrap CIs, lifts over the baselines, per-quarter
figures from rolling-origin refits, the ceiling on synthetic data, the verdict).
:mod:`stratify.training.tracking` records it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from stratify.features.cohorts import add_months
from stratify.features.config import Capacity, Config
from stratify.features.model_input import category_columns
from stratify.training import models
from stratify.training.metrics.bootstrap import family_codes
from stratify.training.data import TrainingTable
from stratify.training.metrics.evaluate import evaluate, per_period, select_at_capacity
from stratify.training.policy import Policy
from stratify.training.split import (
    FinalSplit,
    SplitError,
    final_masks,
    final_split,
    fold_masks,
    rolling_origin,
    window_end,
)
from stratify.training.verdict import performance_verdict

Progress = Callable[[str], None]
BASELINES = ("rule", "logreg")
MIN_PER_CLASS = 5
ERR_PERIOD = (
    "the {period} period has {rows} decision points with {positives} positive(s): the data "
    "({start} to {end}) are too short for the configured splits; each period needs at "
    "least {need} positives and {need} negatives (shorten training.test_months, "
    "calibrate_months or validation_months, or use a longer extract)"
)


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` produced."""

    pipeline: Pipeline
    logreg: Pipeline
    predictions: pd.DataFrame
    X_test: pd.DataFrame
    evaluation: dict[str, Any]
    search: models.SearchResult
    band_edges: list[float]


def _period(keys: pd.DataFrame, y: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    dates = keys.loc[mask, "as_of_date"]
    return {
        "start": str(dates.min()),
        "end": str(dates.max()),
        "rows": int(mask.sum()),
        "positives": int(y[mask].sum()),
        "families": int(keys.loc[mask, "household_id"].nunique()),
    }


def _validation_masks(
    as_of: pd.Series, split: FinalSplit, horizon: int, months: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split the training period into an earlier part and a later early-stopping slice."""
    val_stop = add_months(split.train_until, -horizon)  # last label window ends by train_until
    val_start = add_months(val_stop, -months)
    days = pd.to_datetime(as_of).to_numpy(dtype="datetime64[D]")
    ends = window_end(as_of, horizon)
    inner = ends <= np.datetime64(val_start)
    val = (days >= np.datetime64(val_start)) & (days < np.datetime64(val_stop))
    return inner, val


def _shown(params: dict[str, Any]) -> dict[str, Any]:
    """Return LightGBM parameters with the per-column constraint list reduced to a flag."""
    out = {k: v for k, v in params.items() if k != "monotone_constraints"}
    out["monotone"] = "monotone_constraints" in params
    return out


def _check_periods(y: np.ndarray, masks: dict[str, np.ndarray], as_of: pd.Series) -> None:
    """Raise :class:`SplitError` naming the first period with too few positives or negatives."""
    for name, mask in masks.items():
        positives = int(y[mask].sum())
        if min(positives, int(mask.sum()) - positives) < MIN_PER_CLASS:
            raise SplitError(
                ERR_PERIOD.format(
                    period=name, rows=int(mask.sum()), positives=positives,
                    start=as_of.min(), end=as_of.max(), need=MIN_PER_CLASS,
                )
            )  # fmt: skip


def _family_sample(mask: np.ndarray, family: pd.Series, max_rows: int, seed: int) -> np.ndarray:
    """Return ``mask`` reduced to whole families drawn at random, at most ``max_rows`` rows."""
    if mask.sum() <= max_rows:
        return mask
    codes, n = family_codes(family)
    keep_share = max_rows / mask.sum()
    chosen = np.random.default_rng(seed).random(n) < keep_share
    return mask & chosen[codes]


def _select(
    scores: dict[str, np.ndarray], keys: pd.DataFrame, capacity: Capacity
) -> dict[str, np.ndarray]:
    return {
        m: select_at_capacity(
            s, quarter=keys["quarter"].to_numpy(), family=keys["household_id"], capacity=capacity
        )
        for m, s in scores.items()
    }


def _scores(
    lgbm: Pipeline | lgb.LGBMClassifier, logreg: Pipeline, X: pd.DataFrame, Xe: pd.DataFrame
) -> dict[str, np.ndarray]:
    return {
        "lightgbm": np.asarray(lgbm.predict_proba(Xe))[:, 1],
        "rule": models.rule_score(X),
        "logreg": logreg.predict_proba(X)[:, 1],
    }


def _rolling(
    table: TrainingTable,
    Xe: pd.DataFrame,
    cfg: Config,
    found: models.SearchResult,
    C: float,
    cats: list[str],
    capacity: Capacity,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Refit every model before each test quarter and score it, as quarterly retraining would."""
    horizon = cfg.features.horizon_months
    as_of = pd.Series(table.keys["as_of_date"])
    folds = rolling_origin(
        as_of,
        horizon_months=horizon,
        extract_date=table.extract_date,
        test_months=cfg.training.fold_months,
        folds=cfg.training.folds,
    )
    rows = []
    for i, fold in enumerate(folds, 1):
        progress(f"rolling-origin refit {i} of {len(folds)} ({fold.name})")
        tr, te = fold_masks(as_of, fold, horizon)
        y = table.y
        lgbm = models.fit_lightgbm(
            Xe[tr], y[tr], found.params, found.n_estimators, cfg.training.seed, cats
        )
        few = _family_sample(tr, table.keys["household_id"], cfg.training.search.max_rows, i)
        logreg = models.logistic_regression(list(table.X.columns), C).fit(table.X[few], y[few])
        scores = _scores(lgbm, logreg, table.X[te], Xe[te])
        keys = table.keys[te].reset_index(drop=True)
        selected = _select(scores, keys, capacity)
        frame = per_period(y[te], scores, selected, period=np.full(int(te.sum()), fold.name))
        records = frame.assign(period=str(keys["quarter"].iloc[0])).to_dict("records")
        rows += [{str(k): v for k, v in r.items()} for r in records]
    return rows


def _ceiling(
    pred: pd.DataFrame, capacity_share: float, cfg: Config
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Metrics of the simulator's true probabilities and of LightGBM on the same points."""
    sample = pred[pred["p_true"].notna()].reset_index(drop=True)
    if sample["label"].sum() < 2 or len(sample) < 20:
        return None, None
    share = Capacity(top_share=min(max(capacity_share, 1e-6), 0.999))
    scores = {"ceiling": sample["p_true"].to_numpy(), "lightgbm": sample["score"].to_numpy()}
    selected = _select(scores, sample, share)
    ev = evaluate(
        sample["label"].to_numpy(),
        scores,
        selected,
        family=sample["household_id"],
        n_boot=cfg.training.n_boot,
        seed=cfg.training.seed,
        compare_to="ceiling",
    )
    return ev, {"rows": len(sample), "positives": int(sample["label"].sum()), **ev["lift_over"]}


def band_edges(scores: np.ndarray) -> list[float]:
    """Return the nine decile cut points of ``scores`` (band 1 lowest, band 10 highest)."""
    return [float(q) for q in np.quantile(scores, np.linspace(0.1, 0.9, 9))]


def train(
    table: TrainingTable, cfg: Config, policy: Policy, progress: Progress = lambda _: None
) -> TrainResult:
    """Fit the baselines and LightGBM for ``table.target`` and evaluate them honestly.

    Train on the earliest period (the last ``validation_months`` of it for early
    stopping), calibrate on a later slice, test on the latest complete window; every
    split respects the label windows (:mod:`stratify.training.split`).
    """
    started = time.perf_counter()
    tcfg, horizon, target = cfg.training, cfg.features.horizon_months, table.target
    capacity = tcfg.capacity[target]
    as_of = pd.Series(table.keys["as_of_date"])
    split = final_split(
        as_of,
        horizon_months=horizon,
        extract_date=table.extract_date,
        test_months=tcfg.test_months,
        calibrate_months=tcfg.calibrate_months,
    )
    tr, ca, te = final_masks(as_of, split, horizon)
    inner, val = _validation_masks(as_of, split, horizon, tcfg.validation_months)
    X, y = table.X, table.y
    _check_periods(y, {"search training": inner, "early-stopping": val, "calibration": ca,
                       "test": te}, table.keys["as_of_date"])  # fmt: skip
    enc = models.encoder(list(X.columns), table.categories)
    Xe = enc.fit_transform(X)
    cats = category_columns(list(X.columns))
    progress("choosing the LightGBM parameters (early stopping on a later slice)")
    sub = _family_sample(inner, table.keys["household_id"], tcfg.search.max_rows, tcfg.seed)
    found = models.search(
        Xe[sub], y[sub], Xe[val], y[val], tcfg.search, tcfg.seed, cats, tcfg.monotone
    )
    progress("fitting the baselines")
    logreg, C = models.fit_logistic(X[sub], y[sub], X[val], y[val])
    progress("fitting LightGBM on the training period and calibrating it")
    lgbm = models.fit_lightgbm(Xe[tr], y[tr], found.params, found.n_estimators, tcfg.seed, cats)
    pipeline = models.calibrated_pipeline(enc, lgbm, X[ca], y[ca], tcfg.calibration)
    progress("scoring the test window")
    scores = _scores(pipeline, logreg, X[te], X[te])
    keys = table.keys[te].reset_index(drop=True)
    selected = _select(scores, keys, capacity)
    pred = _predictions(table, te, keys, scores, selected)
    progress(f"evaluating with {tcfg.n_boot} family bootstrap resamples")
    ev = evaluate(
        pred["label"].to_numpy(),
        scores,
        selected,
        family=keys["household_id"],
        n_boot=tcfg.n_boot,
        seed=tcfg.seed,
        compare_to="lightgbm",
    )
    share = float(pred.loc[pred["selected"], "household_id"].nunique()) / max(
        1, pred["household_id"].nunique()
    )
    ceiling, gap = _ceiling(pred, share, cfg) if "p_true" in pred else (None, None)
    quarters = _rolling(table, Xe, cfg, found, C, cats, capacity, progress)
    evaluation = {
        "target": target,
        "model_name": f"stratify-{target}",
        "model_version": None,
        "run_id": None,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "capacity": capacity.describe(),
        "calibration": tcfg.calibration,
        "split": {
            "train": _period(table.keys, y, tr),
            "calibrate": _period(table.keys, y, ca),
            "test": _period(table.keys, y, te),
        },
        "metrics": {**ev["metrics"], **(_ceiling_metrics(ceiling) if ceiling else {})},
        "lift_over": ev["lift_over"],
        "ceiling_gap": gap,
        "per_quarter": quarters,
        "n_boot": tcfg.n_boot,
        "base_rate": ev["base_rate"],
        "search": {
            "chosen": {**_shown(found.params), "trees": found.n_estimators},
            "candidates": [_shown(c) for c in found.candidates],
            "logreg_C": C,
        },
        "features": list(X.columns),
        "protected_inputs": list(tcfg.include_protected),
        "truth_sample": None
        if gap is None
        else {"rows": gap["rows"], "positives": gap["positives"]},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    evaluation["verdict"] = performance_verdict(evaluation, policy.performance, target)
    edges = band_edges(pipeline.predict_proba(X[tr])[:, 1])
    return TrainResult(
        pipeline, logreg, pred, X[te].reset_index(drop=True), evaluation, found, edges
    )


def _ceiling_metrics(ceiling: dict[str, Any]) -> dict[str, Any]:
    m = ceiling["metrics"]
    return {"ceiling": m["ceiling"], "lightgbm_on_truth_sample": m["lightgbm"]}


def _predictions(
    table: TrainingTable,
    te: np.ndarray,
    keys: pd.DataFrame,
    scores: dict[str, np.ndarray],
    selected: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Return the test window's rows: keys, label, scores and selections, audit, truth."""
    pred = keys.assign(label=table.y[te].astype(int))
    for m in scores:
        suffix = "" if m == "lightgbm" else f"_{m}"
        pred[f"score{suffix}"] = scores[m]
        pred[f"selected{suffix}"] = selected[m]
    if table.truth is not None:
        pred = pred.join(table.truth[te].reset_index(drop=True))
    else:
        pred["p_true"], pred["in_need"] = np.nan, pd.array([pd.NA] * len(pred), dtype="boolean")
    return pred.join(
        table.audit[te].reset_index(drop=True).drop(columns=_KEY_DUPES, errors="ignore")
    )


_KEY_DUPES = ["target", "person_id", "as_of_date", "household_id"]
