"""Proxy check: how well the model's inputs reveal each protected characteristic.

Leaving ethnicity out of the inputs does not stop a model using it if other inputs
stand in for it. For each protected dimension a standardised logistic regression is
trained to recover the characteristic from the model's inputs, cross-validated with
folds grouped by family (siblings never straddle folds), and scored by ROC AUC
(one-vs-rest, macro-averaged, for more than two groups): 0.5 means the inputs say
nothing about it, 1.0 that they give it away. The features most associated with each
characteristic (correlation ratio) are listed for reviewers.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from stratify.training.audit.stats import group_labels

MAX_ROWS = 20_000
FOLDS = 3
TOP = 5
ERR_X_ROWS = "X has {x} rows but predictions has {n}; they must be aligned row for row"


def _usable(labels: pd.Series, min_class: int) -> np.ndarray:
    counts = labels.value_counts()
    return labels.isin(counts[counts >= min_class].index).to_numpy()


def _cv_proba(
    x: np.ndarray, y: np.ndarray, fam: np.ndarray, classes: np.ndarray, seed: int
) -> np.ndarray:
    proba = np.zeros((len(y), len(classes)))
    for train, test in GroupKFold(n_splits=FOLDS).split(x, y, fam):
        model = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(max_iter=300, random_state=seed),
        )
        with warnings.catch_warnings():
            # a diagnostic, not a deployed model: a nearly converged fit is good enough
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x[train], y[train])
        cols = np.searchsorted(classes, model.classes_)
        proba[np.ix_(test, cols)] = model.predict_proba(x[test])
    return proba


def _auc(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    if len(classes) == 2:
        return float(roc_auc_score(y == classes[1], proba[:, 1]))
    proba = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-12, None)
    return float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes))


def associations(x: pd.DataFrame, labels: np.ndarray) -> pd.Series:
    """Return each feature's correlation ratio with the groups (0 none, 1 determined)."""
    filled = x.astype(float).fillna(x.astype(float).median()).fillna(0.0)
    centred = filled - filled.mean()
    total = (centred**2).sum()
    means = centred.groupby(labels).mean()
    sizes = pd.Series(labels).value_counts().reindex(means.index).to_numpy()
    between = (means**2).mul(sizes, axis=0).sum()
    eta = pd.Series(np.sqrt(between / total.where(total > 0)), index=x.columns)
    return eta.fillna(0.0).sort_values(ascending=False)


def proxy_check(
    x: pd.DataFrame,
    frame: pd.DataFrame,
    dims: Sequence[str],
    families: np.ndarray,
    *,
    min_class: int,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the proxy AUC per dimension and the top features per dimension.

    Parameters
    ----------
    x : DataFrame
        The model's inputs, aligned row for row with ``frame``.
    frame : DataFrame
        The predictions with the audit columns.
    dims : sequence of str
        Protected dimensions to test.
    families : ndarray
        Each row's family code (folds never split a family).
    min_class : int
        Groups with fewer rows are left out of the check (too few to learn or report).
    seed : int
        Seed of the subsample (at most ``MAX_ROWS`` rows).

    Returns
    -------
    (DataFrame, DataFrame)
        ``dimension, roc_auc, groups`` (no row count: left-out
        small groups could be counted by subtraction) and ``dimension, rank, feature, association``.
    """
    if len(x) != len(frame):
        raise ValueError(ERR_X_ROWS.format(x=len(x), n=len(frame)))
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(x), size=min(len(x), MAX_ROWS), replace=False))
    xs, sub, fam = x.iloc[take].reset_index(drop=True), frame.iloc[take], families[take]
    rows, tops = [], []
    for dim in dims:
        labels = group_labels(sub, dim).reset_index(drop=True)
        keep = _usable(labels, min_class)
        y, classes = labels[keep].to_numpy(), np.array(sorted(labels[keep].unique()))
        auc = float("nan")
        if len(classes) >= 2 and len(np.unique(fam[keep])) >= FOLDS:
            proba = _cv_proba(xs[keep].to_numpy(dtype=float), y, fam[keep], classes, seed)
            auc = _auc(y, proba, classes)
        rows.append({"dimension": dim, "roc_auc": auc, "groups": len(classes)})
        assoc = associations(xs[keep], y).head(TOP) if len(classes) >= 2 else pd.Series()
        tops += [
            {"dimension": dim, "rank": r + 1, "feature": str(f), "association": float(a)}
            for r, (f, a) in enumerate(assoc.items())
        ]
    return pd.DataFrame(rows), pd.DataFrame(
        tops, columns=["dimension", "rank", "feature", "association"]
    )
