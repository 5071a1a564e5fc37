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
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from stratify.core.progress import StageCallback as Progress
from stratify.features.build.cohorts import add_months
from stratify.features.config import Capacity, Config
from stratify.features.model_input import category_columns
from stratify.training import models
from stratify.training.data import TrainingTable
from stratify.training.evaluation import (
    CeilingGap,
    Evaluation,
    Interval,
    MetricTable,
    Period,
    QuarterRow,
    Search,
    Splits,
)
from stratify.training.metrics.bootstrap import family_codes
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
    evaluation: Evaluation
    search: models.SearchResult
    band_edges: list[float]


def _period(keys: pd.DataFrame, y: np.ndarray, mask: np.ndarray) -> Period:
    dates = keys.loc[mask, "as_of_date"]
    return Period(
        start=str(dates.min()),
        end=str(dates.max()),
        rows=int(mask.sum()),
        positives=int(y[mask].sum()),
        families=int(keys.loc[mask, "household_id"].nunique()),
    )


def _validation_masks(
    as_of: pd.Series, split: FinalSplit, horizon: int, months: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split the training period into an earlier part and a later early-stopping slice."""
    val_stop = add_months(split.train_until, -horizon)  # last label window ends by train_until
    val_start = add_months(val_stop, -months)
    days = pd.to_datetime(as_of).to_numpy(dtype="datetime64[D]")
    ends = window_end(as_of, horizon)
    inner = ends <= np.datetime64(val_start)
    validation = (days >= np.datetime64(val_start)) & (days < np.datetime64(val_stop))
    return inner, validation


def _shown(params: dict[str, Any]) -> dict[str, Any]:
    """Return LightGBM parameters with the per-column constraint list reduced to a flag."""
    out = {name: value for name, value in params.items() if name != "monotone_constraints"}
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
    codes, families = family_codes(family)
    keep_share = max_rows / mask.sum()
    chosen = np.random.default_rng(seed).random(families) < keep_share
    return mask & chosen[codes]


def _select(
    scores: dict[str, np.ndarray], keys: pd.DataFrame, capacity: Capacity
) -> dict[str, np.ndarray]:
    return {
        model: select_at_capacity(
            score,
            quarter=keys["quarter"].to_numpy(),
            family=keys["household_id"],
            capacity=capacity,
        )
        for model, score in scores.items()
    }


def _scores(
    lgbm: Pipeline | lgb.LGBMClassifier, logreg: Pipeline, X: pd.DataFrame, lgbm_input: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Score ``X`` with each model (LightGBM reads ``lgbm_input``: X, or X encoded)."""
    return {
        "lightgbm": np.asarray(lgbm.predict_proba(lgbm_input))[:, 1],
        "rule": models.rule_score(X),
        "logreg": logreg.predict_proba(X)[:, 1],
    }


def _rolling(
    table: TrainingTable,
    encoded: pd.DataFrame,
    cfg: Config,
    *,
    found: models.SearchResult,
    logreg_c: float,
    cats: list[str],
    capacity: Capacity,
    progress: Progress,
) -> tuple[QuarterRow, ...]:
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
    rows: list[QuarterRow] = []
    for number, fold in enumerate(folds, 1):
        progress(f"rolling-origin refit {number} of {len(folds)} ({fold.name})")
        train_rows, test_rows = fold_masks(as_of, fold, horizon)
        y = table.y
        lgbm = models.fit_lightgbm(
            encoded[train_rows], y[train_rows], found.params, n_estimators=found.n_estimators,
            seed=cfg.training.seed, categorical=cats,
        )  # fmt: skip
        few = _family_sample(
            train_rows, table.keys["household_id"], cfg.training.search.max_rows, number
        )
        logreg = models.logistic_regression(list(table.X.columns), logreg_c)
        logreg.fit(table.X[few], y[few])
        scores = _scores(lgbm, logreg, table.X[test_rows], encoded[test_rows])
        keys = table.keys[test_rows].reset_index(drop=True)
        selected = _select(scores, keys, capacity)
        period = np.full(int(test_rows.sum()), fold.name)
        frame = per_period(y[test_rows], scores, selected, period=period)
        records = frame.assign(period=str(keys["quarter"].iloc[0])).to_dict("records")
        for record in records:
            rows.append(QuarterRow(**{str(name): value for name, value in record.items()}))
    return tuple(rows)


def _intervals(table: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, Interval]]:
    """Return :func:`evaluate`'s ``metrics`` or ``lift_over`` as typed intervals."""
    return {
        name: {metric: Interval.from_dict(ci) for metric, ci in per.items()}
        for name, per in table.items()
    }


def _ceiling(
    pred: pd.DataFrame, capacity_share: float, cfg: Config
) -> tuple[MetricTable, CeilingGap | None]:
    """Metrics of the simulator's true probabilities and of LightGBM on the same points.

    Returns the rows to add to ``metrics`` (``ceiling``, ``lightgbm_on_truth_sample``)
    and the paired gap; nothing when the truth sample is too small.
    """
    sample = pred[pred["p_true"].notna()].reset_index(drop=True)
    if sample["label"].sum() < 2 or len(sample) < 20:
        return {}, None
    share = Capacity(top_share=min(max(capacity_share, 1e-6), 0.999))
    scores = {"ceiling": sample["p_true"].to_numpy(), "lightgbm": sample["score"].to_numpy()}
    selected = _select(scores, sample, share)
    report = evaluate(
        sample["label"].to_numpy(),
        scores,
        selected,
        family=sample["household_id"],
        n_boot=cfg.training.n_boot,
        seed=cfg.training.seed,
        compare_to="ceiling",
    )
    metrics = _intervals(report["metrics"])
    gap = CeilingGap(
        rows=len(sample),
        positives=int(sample["label"].sum()),
        difference=_intervals(report["lift_over"])["lightgbm"],
    )
    return {"ceiling": metrics["ceiling"], "lightgbm_on_truth_sample": metrics["lightgbm"]}, gap


def band_edges(scores: np.ndarray) -> list[float]:
    """Return the nine decile cut points of ``scores`` (band 1 lowest, band 10 highest)."""
    return [float(cut) for cut in np.quantile(scores, np.linspace(0.1, 0.9, 9))]


@dataclass(frozen=True)
class _Masks:
    """Rows of the final split, and the search's earlier part and early-stopping slice."""

    train: np.ndarray
    calibrate: np.ndarray
    test: np.ndarray
    search: np.ndarray
    validation: np.ndarray


def _masks(table: TrainingTable, cfg: Config) -> _Masks:
    tcfg, horizon = cfg.training, cfg.features.horizon_months
    as_of = pd.Series(table.keys["as_of_date"])
    split = final_split(
        as_of,
        horizon_months=horizon,
        extract_date=table.extract_date,
        test_months=tcfg.test_months,
        calibrate_months=tcfg.calibrate_months,
    )
    train_rows, calibrate_rows, test_rows = final_masks(as_of, split, horizon)
    search_rows, validation = _validation_masks(as_of, split, horizon, tcfg.validation_months)
    _check_periods(table.y, {"search training": search_rows, "early-stopping": validation,
                             "calibration": calibrate_rows, "test": test_rows},
                   table.keys["as_of_date"])  # fmt: skip
    return _Masks(train_rows, calibrate_rows, test_rows, search_rows, validation)


@dataclass(frozen=True)
class _Fitted:
    """The calibrated LightGBM pipeline, the logistic baseline and how they were chosen."""

    pipeline: Pipeline
    logreg: Pipeline
    logreg_c: float
    found: models.SearchResult
    encoded: pd.DataFrame
    cats: list[str]


def _fit(table: TrainingTable, cfg: Config, masks: _Masks, progress: Progress) -> _Fitted:
    tcfg, X, y = cfg.training, table.X, table.y
    encoder = models.encoder(list(X.columns), table.categories)
    encoded = encoder.fit_transform(X)
    cats = category_columns(list(X.columns))
    progress("choosing the LightGBM parameters (early stopping on a later slice)")
    sample = _family_sample(
        masks.search, table.keys["household_id"], tcfg.search.max_rows, tcfg.seed
    )
    validation = masks.validation
    found = models.search(
        encoded[sample], y[sample], encoded[validation], y[validation],
        space=tcfg.search, seed=tcfg.seed, categorical=cats, monotone=tcfg.monotone,
    )  # fmt: skip
    progress("fitting the baselines")
    logreg, logreg_c = models.fit_logistic(X[sample], y[sample], X[validation], y[validation])
    progress("fitting LightGBM on the training period and calibrating it")
    train_rows, calibrate_rows = masks.train, masks.calibrate
    lgbm = models.fit_lightgbm(
        encoded[train_rows],
        y[train_rows],
        found.params,
        n_estimators=found.n_estimators,
        seed=tcfg.seed,
        categorical=cats,
    )
    pipeline = models.calibrated_pipeline(
        encoder, lgbm, X[calibrate_rows], y[calibrate_rows], tcfg.calibration
    )
    return _Fitted(pipeline, logreg, logreg_c, found, encoded, cats)


def train(
    table: TrainingTable, cfg: Config, policy: Policy, progress: Progress = lambda _: None
) -> TrainResult:
    """Fit the baselines and LightGBM for ``table.target`` and evaluate them honestly.

    Train on the earliest period (the last ``validation_months`` of it for early
    stopping), calibrate on a later slice, test on the latest complete window; every
    split respects the label windows (:mod:`stratify.training.split`).
    """
    started = time.perf_counter()
    tcfg, target, X = cfg.training, table.target, table.X
    capacity = tcfg.capacity[target]
    masks = _masks(table, cfg)
    fitted = _fit(table, cfg, masks, progress)
    progress("scoring the test window")
    scores = _scores(fitted.pipeline, fitted.logreg, X[masks.test], X[masks.test])
    keys = table.keys[masks.test].reset_index(drop=True)
    selected = _select(scores, keys, capacity)
    pred = _predictions(table, masks.test, keys, scores, selected)
    progress(f"evaluating with {tcfg.n_boot} family bootstrap resamples")
    report = evaluate(
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
    on_truth, gap = _ceiling(pred, share, cfg) if "p_true" in pred else ({}, None)
    quarters = _rolling(
        table, fitted.encoded, cfg, found=fitted.found, logreg_c=fitted.logreg_c,
        cats=fitted.cats, capacity=capacity, progress=progress,
    )  # fmt: skip
    metrics = {**_intervals(report["metrics"]), **on_truth}
    lift_over = _intervals(report["lift_over"])
    y = table.y
    evaluation = Evaluation(
        target=target,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        capacity=capacity.describe(),
        calibration=tcfg.calibration,
        split=Splits(
            train=_period(table.keys, y, masks.train),
            calibrate=_period(table.keys, y, masks.calibrate),
            test=_period(table.keys, y, masks.test),
        ),
        metrics=metrics,
        lift_over=lift_over,
        ceiling_gap=gap,
        per_quarter=quarters,
        n_boot=tcfg.n_boot,
        base_rate=report["base_rate"],
        search=_search(fitted),
        features=tuple(X.columns),
        protected_inputs=tuple(tcfg.include_protected),
        train_seconds=round(time.perf_counter() - started, 1),
        verdict=performance_verdict(metrics, lift_over, policy.performance, target),
    )
    edges = band_edges(fitted.pipeline.predict_proba(X[masks.train])[:, 1])
    X_test = X[masks.test].reset_index(drop=True)
    return TrainResult(
        fitted.pipeline, fitted.logreg, pred, X_test, evaluation, fitted.found, edges
    )


def _search(fitted: _Fitted) -> Search:
    found = fitted.found
    return Search(
        chosen={**_shown(found.params), "trees": found.n_estimators},
        candidates=tuple(_shown(candidate) for candidate in found.candidates),
        logreg_c=fitted.logreg_c,
    )


def _predictions(
    table: TrainingTable,
    test_rows: np.ndarray,
    keys: pd.DataFrame,
    scores: dict[str, np.ndarray],
    selected: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Return the test window's rows: keys, label, scores and selections, audit, truth."""
    pred = keys.assign(label=table.y[test_rows].astype(int))
    for model in scores:
        suffix = "" if model == "lightgbm" else f"_{model}"
        pred[f"score{suffix}"] = scores[model]
        pred[f"selected{suffix}"] = selected[model]
    if table.truth is not None:
        pred = pred.join(table.truth[test_rows].reset_index(drop=True))
    else:
        pred["p_true"], pred["in_need"] = np.nan, pd.array([pd.NA] * len(pred), dtype="boolean")
    return pred.join(
        table.audit[test_rows].reset_index(drop=True).drop(columns=_KEY_DUPES, errors="ignore")
    )


_KEY_DUPES = ["target", "person_id", "as_of_date", "household_id"]
