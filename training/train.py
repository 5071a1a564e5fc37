"""Fit and evaluate one target: baselines, the searched LightGBM, calibration, the verdict.

:func:`train` is pure of MLflow: it takes a :class:`~stratify.training.data.TrainingTable` and the
run config, and returns the calibrated pipeline, the test window's predictions and the
evaluation (metrics with family-bootstrap CIs, lifts over the baselines, per-quarter
figures from rolling-origin refits, the ceiling on synthetic data, the verdict).
:mod:`stratify.training.tracking` records it.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from stratify.core.progress import StageCallback as Progress
from stratify.features.build.cohorts import add_months
from stratify.features.config import Capacity, Config
from stratify.features.model_input import category_columns
from stratify.training import models
from stratify.training.data import TrainingTable
from stratify.training.evaluation import (
    CeilingGap,
    Champion,
    Eligibility,
    Evaluation,
    Interval,
    MetricTable,
    MonthRow,
    OperatingPoint,
    Period,
    QuarterRow,
    Search,
    Splits,
)
from stratify.training.metrics.bootstrap import family_codes
from stratify.training.metrics.evaluate import evaluate, per_period
from stratify.training.metrics.recalibration import calibration_fit
from stratify.training.operating import (
    Lists,
    backtest,
    children_frame,
    listed_share,
    make_lists,
    monthly_backtest,
    select_share_per_date,
    share_thresholds,
    whole_window,
)
from stratify.training.policy import Policy
from stratify.training.split import (
    FinalSplit,
    Fold,
    SplitError,
    final_masks,
    final_split,
    fold_masks,
    last_complete,
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
    #: The pipeline the figures describe (fitted before the test window); ``pipeline``
    #: is the registered model, refitted on every complete label window.
    evaluated: Pipeline
    #: The registered model before its trees were refitted with the latest slice.
    held_out: Pipeline


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


def _scores(
    lgbm: Pipeline | lgb.LGBMClassifier, logreg: Pipeline, X: pd.DataFrame, lgbm_input: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Score ``X`` with each model (LightGBM reads ``lgbm_input``: X, or X encoded)."""
    return {
        "lightgbm": np.asarray(lgbm.predict_proba(lgbm_input))[:, 1],
        "rule": models.rule_score(X),
        "logreg": logreg.predict_proba(X)[:, 1],
    }


def _children(table: TrainingTable, rows: np.ndarray) -> pd.DataFrame:
    """Return the listing's view of the (eligible) decision points ``rows``."""
    locality = table.audit.loc[rows, "locality"] if "locality" in table.audit else None
    return children_frame(table.keys[rows].reset_index(drop=True), table.y[rows], locality)


def _thresholds(
    table: TrainingTable, scores: dict[str, np.ndarray], rows: np.ndarray, capacity: Capacity
) -> dict[str, float] | None:
    """Each model's operating threshold, fixed on the calibration slice ``rows`` (share only)."""
    if not capacity.is_threshold:
        return None
    return share_thresholds(_children(table, rows), scores, capacity.top_share or 0.0)


def _lists(
    table: TrainingTable,
    fitted: tuple[Pipeline | lgb.LGBMClassifier, Pipeline],
    rows: tuple[np.ndarray, np.ndarray],
    capacity: Capacity,
    encoded: pd.DataFrame | None = None,
) -> tuple[dict[str, np.ndarray], Lists, dict[str, float] | None]:
    """Score the test rows, fix thresholds on the calibration rows, and draw the lists."""
    lgbm, logreg = fitted
    calibrate, test = rows
    X = table.X

    def scored(mask: np.ndarray) -> dict[str, np.ndarray]:
        lgbm_input = X[mask] if encoded is None else encoded[mask]
        return _scores(lgbm, logreg, X[mask], lgbm_input)

    thresholds = (
        _thresholds(table, scored(calibrate), calibrate, capacity)
        if (capacity.is_threshold)
        else None
    )
    scores = scored(test)
    return scores, make_lists(_children(table, test), scores, capacity, thresholds), thresholds


def _fold_masks(
    as_of: pd.Series, fold: Fold, horizon: int, calibrate_months: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the final split's train, calibrate and test rows for ``fold``'s test start."""
    _, test = fold_masks(as_of, fold, horizon)
    calibrate_last = add_months(fold.test_start, -horizon)
    calibrate_start = add_months(calibrate_last, -calibrate_months)
    split = FinalSplit(calibrate_start, calibrate_start, fold.test_start, fold.test_start,
                       fold.test_end)  # fmt: skip
    train_rows, calibrate_rows, _ = final_masks(as_of, split, horizon)
    return train_rows, calibrate_rows, test


def _rolling(
    table: TrainingTable,
    fitted: _Fitted,
    cfg: Config,
    *,
    capacity: Capacity,
    progress: Progress,
) -> tuple[QuarterRow, ...]:
    """Repeat the whole procedure (fit, calibrate, list) before each of the last quarters.

    Each quarter's models learn from what was known before it, are calibrated on the
    slice before it, and list its families exactly as the final evaluation does: the
    rows are out-of-time estimates of the same procedure, refitted quarter by quarter.
    """
    tcfg, horizon = cfg.training, cfg.features.horizon_months
    as_of = pd.Series(table.keys["as_of_date"])
    eligible, learn = _populations(table, tcfg.learn_from)
    folds = rolling_origin(
        as_of, horizon_months=horizon, extract_date=table.extract_date,
        test_months=tcfg.fold_months, folds=tcfg.folds,
    )  # fmt: skip
    rows: list[QuarterRow] = []
    for number, fold in enumerate(folds, 1):
        progress(f"rolling-origin refit {number} of {len(folds)} ({fold.name})")
        train_rows, calibrate_rows, test_rows = _fold_masks(
            as_of, fold, horizon, tcfg.calibrate_months
        )
        train_rows, calibrate_rows, test_rows = (
            train_rows & learn,
            calibrate_rows & eligible,
            test_rows & eligible,
        )
        y = table.y
        lgbm = models.fit_lightgbm(
            fitted.encoded[train_rows], y[train_rows], fitted.found.params,
            n_estimators=fitted.found.n_estimators, seed=tcfg.seed, categorical=fitted.cats,
        )  # fmt: skip
        calibrated = models.calibrated_pipeline(
            fitted.encoder, lgbm, table.X[calibrate_rows], y[calibrate_rows], tcfg.calibration
        )
        few = _family_sample(train_rows, table.keys["household_id"], tcfg.search.max_rows, number)
        logreg = models.logistic_regression(list(table.X.columns), fitted.logreg_c)
        logreg.fit(table.X[few], y[few])
        scores, lists, _ = _lists(
            table, (calibrated, logreg), (calibrate_rows, test_rows), capacity
        )
        rows += _quarter_rows(
            y[test_rows], scores, lists, str(table.keys.loc[test_rows, "quarter"].iloc[0])
        )
    return tuple(rows)


def _quarter_rows(
    y: np.ndarray, scores: dict[str, np.ndarray], lists: Lists, quarter: str
) -> list[QuarterRow]:
    child = per_period(y, scores, lists.row_selected, period=np.full(len(y), quarter))
    family = per_period(
        lists.units["label"].to_numpy(), lists.unit_scores, lists.unit_selected,
        period=np.full(len(lists.units), quarter),
    )  # fmt: skip
    out = []
    for (_, c), (_, f) in zip(child.iterrows(), family.iterrows(), strict=True):
        out.append(
            QuarterRow(
                period=quarter, model=str(c["model"]), rows=int(c["rows"]),
                positives=int(c["positives"]), roc_auc=float(c["roc_auc"]),
                average_precision=float(c["average_precision"]), families=int(f["rows"]),
                families_with_outcome=int(f["positives"]),
                precision_at_capacity=float(f["precision_at_capacity"]),
                recall_at_capacity=float(f["recall_at_capacity"]),
            )
        )  # fmt: skip
    return out


def _intervals(table: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, Interval]]:
    """Return :func:`evaluate`'s ``metrics`` or ``lift_over`` as typed intervals."""
    return {
        name: {metric: Interval.from_dict(ci) for metric, ci in per.items()}
        for name, per in table.items()
    }


def _ceiling(
    pred: pd.DataFrame, lists: Lists, cfg: Config, *, by_window: bool
) -> tuple[MetricTable, CeilingGap | None]:
    """Compare the simulator's true probabilities with LightGBM on the same sampled points.

    The sample stands for the eligible test window: on each date both take the share of
    the sample's families that the deployed list takes of all eligible families, so the
    gap is at the list's capacity (``by_window``: for a threshold capacity, whose
    decisions are one closure at a time, the share over the whole window instead).
    Returns the metric rows (``ceiling``, ``lightgbm_on_truth_sample``) and the paired
    gap; nothing when the sample is tiny.
    """
    sample = pred[pred["p_true"].notna()].reset_index(drop=True)
    if sample["label"].sum() < 2 or len(sample) < 20:
        return {}, None
    children = children_frame(sample, sample["label"].to_numpy(), sample.get("locality"))
    scores = {"ceiling": sample["p_true"].to_numpy(), "lightgbm": sample["score"].to_numpy()}
    share = listed_share(lists)
    if by_window:
        children["date"] = "test window"
        share = {"test window": float(lists.unit_selected["lightgbm"].mean())}
    on_sample = select_share_per_date(children, scores, share)
    child = evaluate(
        sample["label"].to_numpy(), scores, on_sample.row_selected, family=children["family"],
        n_boot=cfg.training.n_boot, seed=cfg.training.seed, compare_to="ceiling",
    )  # fmt: skip
    family = _family_report(on_sample, cfg, compare_to="ceiling")
    metrics = _merge(child["metrics"], family["metrics"])
    difference = _merge(child["lift_over"], family["lift_over"])["lightgbm"]
    gap = CeilingGap(
        rows=len(sample),
        positives=int(sample["label"].sum()),
        families=len(on_sample.units),
        families_with_outcome=int(on_sample.units["label"].sum()),
        difference=difference,
    )
    return {"ceiling": metrics["ceiling"], "lightgbm_on_truth_sample": metrics["lightgbm"]}, gap


#: Figures of a family list (from the family-level evaluation); the rest are per child.
FAMILY_METRICS = ("precision_at_capacity", "recall_at_capacity", "lift_at_capacity")


def _family_report(lists: Lists, cfg: Config, compare_to: str) -> dict[str, Any]:
    return evaluate(
        lists.units["label"].to_numpy(), lists.unit_scores, lists.unit_selected,
        family=lists.units["family"], n_boot=cfg.training.n_boot, seed=cfg.training.seed,
        compare_to=compare_to,
    )  # fmt: skip


def _merge(
    child: dict[str, dict[str, dict[str, float]]], family: dict[str, dict[str, dict[str, float]]]
) -> dict[str, dict[str, Interval]]:
    """Child-level ranking and calibration figures, family-level figures at capacity."""
    out = {}
    for model, per in child.items():
        merged = {k: v for k, v in per.items() if k not in FAMILY_METRICS}
        merged |= {k: v for k, v in family.get(model, {}).items() if k in FAMILY_METRICS}
        out[model] = {k: Interval.from_dict(v) for k, v in merged.items()}
    return out


def band_edges(scores: np.ndarray) -> list[float]:
    """Return the nine decile cut points of ``scores`` (band 1 lowest, band 10 highest)."""
    return [float(cut) for cut in np.quantile(scores, np.linspace(0.1, 0.9, 9))]


def _populations(table: TrainingTable, learn_from: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (eligible, learn): rows that are evaluated and listed, and rows models learn from."""
    eligible = table.keys["eligible"].to_numpy(dtype=bool)
    learn = eligible if learn_from == "eligible" else np.ones(len(eligible), dtype=bool)
    return eligible, learn


@dataclass(frozen=True)
class _Masks:
    """Rows of the final split, and the search's earlier part and early-stopping slice.

    ``test`` and ``calibrate`` hold eligible points only (what a list can contain);
    ``train``, ``search`` and ``validation`` the points models learn from.
    """

    train: np.ndarray
    calibrate: np.ndarray
    test: np.ndarray
    search: np.ndarray
    validation: np.ndarray
    test_all: np.ndarray


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
    eligible, learn = _populations(table, tcfg.learn_from)
    masks = _Masks(
        train_rows & learn, calibrate_rows & eligible, test_rows & eligible,
        search_rows & learn, validation & learn, test_rows,
    )  # fmt: skip
    _check_periods(table.y, {"search training": masks.search, "early-stopping": masks.validation,
                             "calibration": masks.calibrate, "test": masks.test},
                   table.keys["as_of_date"])  # fmt: skip
    return masks


@dataclass(frozen=True)
class _Fitted:
    """The calibrated LightGBM pipeline, the logistic baseline and how they were chosen."""

    pipeline: Pipeline
    logreg: Pipeline
    logreg_c: float
    found: models.SearchResult
    encoder: ColumnTransformer
    encoded: pd.DataFrame
    cats: list[str]


def _fit(table: TrainingTable, cfg: Config, masks: _Masks, progress: Progress) -> _Fitted:
    tcfg, X, y = cfg.training, table.X, table.y
    encoder = models.encoder(list(X.columns), table.categories)
    encoded = encoder.fit_transform(X)
    cats = category_columns(list(X.columns))
    progress("choosing the LightGBM parameters (early stopping on a later slice)")
    households = table.keys["household_id"]
    sample = _family_sample(masks.search, households, tcfg.search.max_rows, tcfg.seed)
    validation = masks.validation
    found = models.search(
        encoded[sample], y[sample], encoded[validation], y[validation],
        space=tcfg.search, seed=tcfg.seed, categorical=cats, monotone=tcfg.monotone,
    )  # fmt: skip
    progress("fitting the baselines")
    _, logreg_c = models.fit_logistic(X[sample], y[sample], X[validation], y[validation])
    # the logistic regression then learns from the same period as LightGBM
    few = _family_sample(masks.train, households, tcfg.search.max_rows, tcfg.seed)
    logreg = models.logistic_regression(list(X.columns), logreg_c).fit(X[few], y[few])
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
    return _Fitted(pipeline, logreg, logreg_c, found, encoder, encoded, cats)


def _refit(
    table: TrainingTable, cfg: Config, fitted: _Fitted, capacity: Capacity, progress: Progress
) -> tuple[Pipeline, Champion, np.ndarray, Pipeline]:
    """Refit the registered model on every decision point with a complete label window.

    1. Trees learn from every such point before the latest ``refit_slice_months``; that
       slice stops them early, calibrates them (its eligible points) and fixes the
       operating threshold of a threshold capacity: all three out of sample.
    2. The trees are then refitted on every complete point, the latest slice included,
       with the same parameters and number of trees, and put under that calibration
       (:func:`stratify.training.models.with_trees`).

    Returns the pipeline, its description, its training rows and the pipeline of step 1.
    """
    tcfg, horizon, X, y = cfg.training, cfg.features.horizon_months, table.X, table.y
    as_of = pd.Series(table.keys["as_of_date"])
    eligible, learn = _populations(table, tcfg.learn_from)
    days = pd.to_datetime(as_of).to_numpy(dtype="datetime64[D]")
    end = last_complete(table.extract_date, horizon)
    slice_start = np.datetime64(add_months(end, -tcfg.refit_slice_months))
    latest = (days >= slice_start) & (days < np.datetime64(end))
    before_rows, all_rows = learn & (days < slice_start), learn & (days < np.datetime64(end))
    stop_rows, calibrate_rows = latest & learn, latest & eligible
    progress("refitting the registered model on every complete label window")
    held_out, trees = models.fit_lightgbm_early(
        fitted.encoded[before_rows], y[before_rows], fitted.encoded[stop_rows], y[stop_rows],
        fitted.found.params, space=tcfg.search, seed=tcfg.seed, categorical=fitted.cats,
    )  # fmt: skip
    pipeline = models.calibrated_pipeline(
        fitted.encoder, held_out, X[calibrate_rows], y[calibrate_rows], tcfg.calibration
    )
    threshold = None
    if capacity.is_threshold:
        score = {"lightgbm": pipeline.predict_proba(X[calibrate_rows])[:, 1]}
        threshold = share_thresholds(
            _children(table, calibrate_rows), score, capacity.top_share or 0.0
        )["lightgbm"]
    every = models.fit_lightgbm(
        fitted.encoded[all_rows], y[all_rows], fitted.found.params, n_estimators=trees,
        seed=tcfg.seed, categorical=fitted.cats,
    )  # fmt: skip
    champion = Champion(
        train=_period(table.keys, y, all_rows),
        calibrate=_period(table.keys, y, calibrate_rows),
        trees=trees,
        threshold=threshold,
    )
    held = copy.deepcopy(pipeline)
    return models.with_trees(pipeline, every), champion, all_rows, held


def train(
    table: TrainingTable, cfg: Config, policy: Policy, progress: Progress = lambda _: None
) -> TrainResult:
    """Estimate the procedure out of time, then refit the model that is registered.

    Evaluation: train on the earliest period (its last ``validation_months`` for early
    stopping), calibrate on a later slice, test on the latest complete window; every
    split respects the label windows (:mod:`stratify.training.split`), and only
    eligible families are calibrated on, scored and listed. The figures at capacity are
    those of the lists the procedure would have written (:mod:`stratify.training.operating`).
    Then :func:`_refit` fits the registered model on everything labelled.
    """
    started = time.perf_counter()
    tcfg, target, X = cfg.training, table.target, table.X
    capacity = tcfg.capacity[target]
    masks = _masks(table, cfg)
    fitted = _fit(table, cfg, masks, progress)
    progress("scoring the test window and drawing its lists")
    scores, lists, thresholds = _lists(
        table, (fitted.pipeline, fitted.logreg), (masks.calibrate, masks.test), capacity
    )
    keys = table.keys[masks.test].reset_index(drop=True)
    pred = _predictions(table, masks.test, keys, scores, lists.row_selected)
    progress(f"evaluating with {tcfg.n_boot} family bootstrap resamples")
    y_test = pred["label"].to_numpy()
    child = evaluate(
        y_test, scores, lists.row_selected, family=keys["household_id"], n_boot=tcfg.n_boot,
        seed=tcfg.seed, compare_to="lightgbm",
    )  # fmt: skip
    family = _family_report(lists, cfg, compare_to="lightgbm")
    metrics = _merge(child["metrics"], family["metrics"])
    metrics["lightgbm"] = {
        **metrics["lightgbm"],
        **_intervals({"m": calibration_fit(
            y_test, scores["lightgbm"], family=keys["household_id"], n_boot=tcfg.n_boot,
            seed=tcfg.seed,
        )})["m"],
    }  # fmt: skip
    lift_over = _merge(child["lift_over"], family["lift_over"])
    on_truth, gap = (
        _ceiling(pred, lists, cfg, by_window=capacity.is_threshold)
        if pred["p_true"].notna().any()
        else ({}, None)
    )
    quarters = _rolling(table, fitted, cfg, capacity=capacity, progress=progress)
    pipeline, champion, champion_rows, held = _refit(table, cfg, fitted, capacity, progress)
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
        metrics={**metrics, **on_truth},
        lift_over=lift_over,
        ceiling_gap=gap,
        per_quarter=quarters,
        n_boot=tcfg.n_boot,
        base_rate=child["base_rate"],
        search=_search(fitted),
        features=tuple(X.columns),
        protected_inputs=tuple(tcfg.include_protected),
        train_seconds=round(time.perf_counter() - started, 1),
        verdict=performance_verdict(metrics, lift_over, policy.performance, target),
        horizon_months=cfg.features.horizon_months,
        eligibility=_eligibility(table, masks, tcfg.learn_from),
        operating_point=OperatingPoint(
            families=len(lists.units),
            families_with_outcome=int(lists.units["label"].sum()),
            listed=int(lists.unit_selected["lightgbm"].sum()),
            threshold=None if thresholds is None else thresholds["lightgbm"],
        ),
        backtest=backtest(lists, min_count=cfg.audit.min_positives),
        champion=champion,
        monthly_backtest=_monthly(lists, capacity, cfg.audit.min_positives),
    )
    edges = band_edges(pipeline.predict_proba(X[champion_rows])[:, 1])
    X_test = X[masks.test].reset_index(drop=True)
    return TrainResult(
        pipeline,
        fitted.logreg,
        pred,
        X_test,
        evaluation,
        fitted.found,
        edges,
        fitted.pipeline,
        held,
    )


def _monthly(lists: Lists, capacity: Capacity, min_count: int) -> tuple[MonthRow, ...]:
    """Return the step-down backtest of a threshold capacity: each month, then the window."""
    if not capacity.is_threshold:
        return ()
    months = monthly_backtest(lists, min_count=min_count)
    return (*months, whole_window(lists, min_count=min_count))


def _eligibility(table: TrainingTable, masks: _Masks, learn_from: str) -> Eligibility:
    everything = masks.test_all
    return Eligibility(
        learn_from=learn_from,
        test_rows=int(everything.sum()),
        test_positives=int(table.y[everything].sum()),
        eligible_rows=int(masks.test.sum()),
        eligible_positives=int(table.y[masks.test].sum()),
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
