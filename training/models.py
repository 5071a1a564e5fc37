"""The models: a prior-referral rule, a regularised logistic regression and LightGBM.

Every model takes the frame of :func:`stratify.features.model_input.model_frame` (numbers as
float64, categories as strings). The LightGBM model that is registered is one
scikit-learn :class:`~sklearn.pipeline.Pipeline`: an ordinal encoding of the category
columns with the categories fixed from the feature table's metadata, then
``CalibratedClassifierCV(FrozenEstimator(LGBMClassifier))`` calibrated on a later time
slice. It is made only of scikit-learn and LightGBM objects, so it saves with skops
(no pickle) and the service can load it without importing this package.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from stratify.features.catalogue import FEATURE_BY_NAME
from stratify.features.config import SearchSpace
from stratify.features.model_input import category_columns

#: The rule practitioners use today: more recent referrals first, then older ones.
RULE_COLUMNS = ("referrals_12m", "referrals_36m", "referrals_ever")
LOGREG_C = (0.01, 0.1, 1.0)


def rule_score(X: pd.DataFrame) -> np.ndarray:
    """Score by prior referral counts: 12 months, ties broken by 36 months, then ever.

    The score is a ranking, not a probability (its AUC and precision at capacity are
    meaningful; its Brier score and calibration are not reported).
    """
    r12, r36, rever = (np.nan_to_num(X[c].to_numpy(dtype=float)) for c in RULE_COLUMNS)
    return r12 * 1e6 + r36 * 1e3 + rever


def encoder(columns: Sequence[str], categories: Mapping[str, Sequence[str]]) -> ColumnTransformer:
    """Return the ordinal encoding of the category columns, other columns passed through.

    Categories are fixed (sorted, from the feature table's metadata) so the codes do not
    depend on which rows a model was fitted on; unknown or missing values become NaN,
    which LightGBM treats as missing.
    """
    cats = category_columns(columns)
    enc = OrdinalEncoder(
        categories=[list(categories[c]) for c in cats],
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
    )
    ct = ColumnTransformer(
        [("categories", enc, cats)], remainder="passthrough", verbose_feature_names_out=False
    )
    return ct.set_output(transform="pandas")


def logistic_regression(columns: Sequence[str], C: float) -> Pipeline:
    """Return an L2-regularised logistic regression on log counts and one-hot categories."""
    cats = category_columns(columns)
    numeric = [c for c in columns if c not in cats]
    counts = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True),
        FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
        StandardScaler(),
    )
    onehot = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    prep = ColumnTransformer([("numeric", counts, numeric), ("categories", onehot, cats)])
    return make_pipeline(prep, LogisticRegression(C=C, max_iter=2000))


def fit_logistic(
    X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray
) -> tuple[Pipeline, float]:
    """Choose C on the validation slice (average precision), refit on both; return it and C."""
    best = max(
        LOGREG_C,
        key=lambda c: average_precision_score(
            y_val, logistic_regression(list(X.columns), c).fit(X, y).predict_proba(X_val)[:, 1]
        ),
    )
    both = pd.concat([X, X_val])
    model = logistic_regression(list(X.columns), best).fit(both, np.concatenate([y, y_val]))
    return model, best


@dataclass(frozen=True)
class SearchResult:
    """The chosen LightGBM parameters and every candidate's validation score."""

    params: dict[str, Any]
    n_estimators: int
    candidates: list[dict[str, Any]]


def _lgbm(params: Mapping[str, Any], seed: int, n_estimators: int) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(
        n_estimators=n_estimators,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=seed,
        n_jobs=2,
        verbose=-1,
        **params,
    )


def monotone_constraints(columns: Sequence[str]) -> list[int]:
    """Return LightGBM's monotone constraint per column from the catalogue's directions.

    A feature a reviewer expects to raise the risk may only raise the score, one
    expected to lower it may only lower it, and the rest (protected characteristics
    included) are unconstrained. A plain-language reason then always points the way
    its words say.
    """
    sign = {"raises": 1, "lowers": -1, "none": 0}
    return [sign[FEATURE_BY_NAME[c].direction] if c in FEATURE_BY_NAME else 0 for c in columns]


def search(
    X: pd.DataFrame,
    y: np.ndarray,
    X_val: pd.DataFrame,
    y_val: np.ndarray,
    *,
    space: SearchSpace,
    seed: int,
    categorical: Sequence[str] = (),
    monotone: bool = True,
) -> SearchResult:
    """Try every combination of ``space`` with early stopping on the later validation slice.

    ``X`` and ``X_val`` are encoded (:func:`encoder`); the validation slice lies after
    every training label window. The best candidate has the highest validation average
    precision; its number of trees is where early stopping stopped it.
    """
    candidates = []
    for leaves, min_child in itertools.product(space.num_leaves, space.min_child_samples):
        params: dict[str, Any] = {"num_leaves": leaves, "min_child_samples": min_child}
        params["learning_rate"] = space.learning_rate
        if monotone:
            params["monotone_constraints"] = monotone_constraints(list(X.columns))
            params["monotone_constraints_method"] = "intermediate"
        model = _lgbm(params, seed, space.max_trees)
        model.fit(
            X,
            y,
            eval_X=(X_val,),
            eval_y=(y_val,),
            eval_metric="average_precision",
            categorical_feature=list(categorical) or "auto",
            callbacks=[lgb.early_stopping(space.early_stopping_rounds, verbose=False)],
        )
        trees = int(model.best_iteration_ or space.max_trees)
        score = average_precision_score(
            y_val, np.asarray(model.predict_proba(X_val, num_iteration=trees))[:, 1]
        )
        candidates.append({**params, "trees": trees, "validation_average_precision": score})
    best = max(candidates, key=lambda c: c["validation_average_precision"])
    params = {k: v for k, v in best.items() if k not in ("trees", "validation_average_precision")}
    return SearchResult(params, best["trees"], candidates)


def fit_lightgbm(
    X: pd.DataFrame,
    y: np.ndarray,
    params: Mapping[str, Any],
    *,
    n_estimators: int,
    seed: int,
    categorical: Sequence[str],
) -> lgb.LGBMClassifier:
    """Fit LightGBM with fixed parameters on encoded ``X``."""
    model = _lgbm(params, seed, n_estimators)
    return model.fit(X, y, categorical_feature=list(categorical) or "auto")


def fit_lightgbm_early(
    X: pd.DataFrame,
    y: np.ndarray,
    X_val: pd.DataFrame,
    y_val: np.ndarray,
    params: Mapping[str, Any],
    *,
    space: SearchSpace,
    seed: int,
    categorical: Sequence[str],
) -> tuple[lgb.LGBMClassifier, int]:
    """Fit LightGBM with early stopping on ``X_val``; return it refitted at the best size.

    The refit keeps exactly the chosen trees in the model (a saved model carries no
    "best iteration" a reader could overlook).
    """
    probe = _lgbm(params, seed, space.max_trees)
    probe.fit(
        X,
        y,
        eval_X=(X_val,),
        eval_y=(y_val,),
        eval_metric="average_precision",
        categorical_feature=list(categorical) or "auto",
        callbacks=[lgb.early_stopping(space.early_stopping_rounds, verbose=False)],
    )
    trees = int(probe.best_iteration_ or space.max_trees)
    model = fit_lightgbm(X, y, params, n_estimators=trees, seed=seed, categorical=categorical)
    return model, trees


def calibrated_pipeline(
    enc: ColumnTransformer,
    model: lgb.LGBMClassifier,
    X_cal: pd.DataFrame,
    y_cal: np.ndarray,
    method: Literal["sigmoid", "isotonic", "temperature"],
) -> Pipeline:
    """Return encoder + the frozen LightGBM calibrated on the (raw) calibration slice."""
    y_cal = np.asarray(y_cal)
    # the default five stratified folds need five of each class: a small borough's slice
    # may hold fewer positives (scikit-learn warns, then the folds are unbalanced)
    fewest = int(np.bincount(y_cal.astype(int)).min()) if len(np.unique(y_cal)) > 1 else 0
    cal = CalibratedClassifierCV(FrozenEstimator(model), method=method, cv=min(5, max(2, fewest)))
    cal.fit(enc.transform(X_cal), y_cal)
    return Pipeline([("encode", enc), ("model", cal)])


def with_trees(pipeline: Pipeline, model: lgb.LGBMClassifier) -> Pipeline:
    """Return ``pipeline`` with its calibrated trees replaced by ``model``, calibration kept.

    The registered model's last step: its calibration is fitted on the predictions of
    trees that had not seen the calibration slice, and the trees are then refitted with
    that slice included (the same parameters and number of trees), so the trees learn
    from every labelled point while the calibration was fitted out of sample.
    """
    calibrated = pipeline.named_steps["model"]
    for member in calibrated.calibrated_classifiers_:
        member.estimator = FrozenEstimator(model)
    calibrated.estimator = FrozenEstimator(model)
    return pipeline


def booster_of(pipeline: Pipeline) -> lgb.Booster:
    """Return the LightGBM booster inside a calibrated pipeline (for SHAP values)."""
    frozen = pipeline.named_steps["model"].calibrated_classifiers_[0].estimator
    return frozen.estimator.booster_
