"""The fast TreeSHAP against LightGBM's ``pred_contrib`` and against Shapley by enumeration."""

from __future__ import annotations

import itertools
import logging
import math
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from stratify.serving import treeshap
from stratify.serving.scoring import Scorer


def _booster(params: dict, X: np.ndarray, y: np.ndarray, rounds: int, **data) -> lgb.Booster:
    base = {"objective": "binary", "verbose": -1, "num_threads": 1, "seed": 3}
    return lgb.train({**base, **params}, lgb.Dataset(X, y, **data), num_boost_round=rounds)


def _data(rng: np.random.Generator, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    X = np.column_stack([
        rng.integers(0, 8, n).astype(float),  # categorical in some boosters
        rng.normal(size=n), rng.poisson(1.5, n).astype(float), rng.normal(size=n),
        rng.integers(0, 2, n).astype(float), rng.exponential(size=n),
    ])  # fmt: skip
    logit = 0.8 * (X[:, 0] % 3 == 1) + X[:, 1] * X[:, 3] + 0.4 * X[:, 2] - X[:, 4] + X[:, 5] - 1
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[rng.random(n) < 0.05, 2] = 0.0
    return X, y


def _records(rng: np.random.Generator, X: np.ndarray, n: int = 400) -> np.ndarray:
    """Training-like rows plus the awkward ones: NaN, zero, negative, unseen, infinite."""
    rows = X[rng.integers(0, len(X), n)].copy()
    odd = rng.random(rows.shape) < 0.2
    rows[odd] = rng.choice([np.nan, 0.0, -1.0, 11.0, np.inf, -np.inf, 1e301], size=odd.sum())
    return rows


BOOSTERS = {
    "missing as NaN, deep trees": ({"num_leaves": 63, "min_data_in_leaf": 5}, {}),
    "zero as missing": ({"num_leaves": 15, "zero_as_missing": True}, {}),
    "no missing handling": ({"num_leaves": 15, "use_missing": False}, {}),
    "categorical": (
        {"num_leaves": 31, "min_data_per_group": 5, "cat_smooth": 1},
        {"categorical_feature": [0, 4]},
    ),  # fmt: skip
    # categories never missing in training: NaN at scoring still goes right
    "categorical, none missing": (
        {"num_leaves": 31, "min_data_per_group": 5, "cat_smooth": 1},
        {"categorical_feature": [0, 4]},
    ),
}


@pytest.mark.parametrize("name", list(BOOSTERS))
def test_equals_lightgbm_pred_contrib(name: str):
    params, data = BOOSTERS[name]
    rng = np.random.default_rng(len(name))
    X, y = _data(rng)
    if "none missing" in name:
        X[:, [0, 4]] = np.nan_to_num(X[:, [0, 4]], nan=1.0)
    booster = _booster(params, X, y, rounds=60, **data)
    fast = treeshap.build(booster.dump_model())
    assert fast is not None
    for rows in (_records(rng, X), treeshap.probe_rows(fast, 200, seed=1)):
        expected = booster.predict(rows, pred_contrib=True)[:, :-1]
        np.testing.assert_allclose(fast.contributions(rows), expected, rtol=1e-10, atol=1e-12)
    if data:  # the categorical boosters have categorical splits to get right
        assert fast.node_categorical.any()
        assert ("none missing" in name) == (fast.node_missing[fast.node_categorical] == 0).all()


def _expectation(tree: dict, x: np.ndarray, known: set[int]) -> float:
    """E[f(x) | x_S] as path-dependent TreeSHAP defines it, by plain recursion."""
    if "split_index" not in tree:
        return float(tree["leaf_value"])
    left, right = tree["left_child"], tree["right_child"]
    feature = tree["split_feature"]
    if feature in known:
        v = x[feature]
        if math.isnan(v) and tree["missing_type"] == "NaN":
            goes_left = tree["default_left"]
        elif math.isnan(v):  # a feature without NaN in training: NaN reads as 0
            goes_left = float(tree["threshold"]) >= 0.0
        else:
            goes_left = v <= float(tree["threshold"])
        return _expectation(left if goes_left else right, x, known)
    n = float(tree["internal_count"])
    count = {id(c): float(c.get("internal_count", c.get("leaf_count"))) for c in (left, right)}
    return sum(count[id(c)] / n * _expectation(c, x, known) for c in (left, right))


def test_equals_shapley_values_by_enumeration():
    """Every coalition of 4 features, weighted by |S|!(M-|S|-1)!/M! (independent of LightGBM)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(2000, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0] * X[:, 1] + X[:, 2] - X[:, 3]) + rng.normal(size=2000) > 0
    booster = _booster({"num_leaves": 12, "min_data_in_leaf": 10}, X, y.astype(int), rounds=5)
    trees = [t["tree_structure"] for t in booster.dump_model()["tree_info"]]
    fast = treeshap.build(booster.dump_model())
    assert fast is not None
    m = 4
    for x in X[:25]:
        phi = np.zeros(m)
        for i in range(m):
            others = [j for j in range(m) if j != i]
            for size in range(m):
                weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
                for S in itertools.combinations(others, size):
                    with_i = sum(_expectation(t, x, {*S, i}) for t in trees)
                    without = sum(_expectation(t, x, set(S)) for t in trees)
                    phi[i] += weight * (with_i - without)
        np.testing.assert_allclose(fast.contributions(x[None, :])[0], phi, atol=1e-12)


def test_single_leaf_trees_contribute_nothing():
    rng = np.random.default_rng(2)
    X, y = _data(rng, 500)
    booster = _booster({"min_gain_to_split": 1e9}, X, y, rounds=3)
    fast = treeshap.build(booster.dump_model())
    assert fast is not None and fast.leaf_value.size == 0
    np.testing.assert_array_equal(fast.contributions(X[:5]), np.zeros((5, X.shape[1])))


def test_too_wide_trees_are_refused(monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(4)
    X, y = _data(rng, 1000)
    booster = _booster({"num_leaves": 31}, X, y, rounds=5)
    monkeypatch.setattr(treeshap, "MAX_TREE_FEATURES", 1)  # as if trees were too wide
    assert treeshap.build(booster.dump_model()) is None


@pytest.fixture(scope="module")
def stored_scorer(served_work: Path) -> Scorer:
    return Scorer.from_store(served_work, "escalation")


def test_the_scorer_checks_it_and_uses_lightgbm_when_it_disagrees(
    stored_scorer: Scorer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    s = Scorer(stored_scorer.pipeline, stored_scorer.metadata, stored_scorer.version)
    rows = treeshap.probe_rows(treeshap.build(s._booster.dump_model()), 20, seed=9)
    expected = s._booster.predict(rows, pred_contrib=True)[:, :-1]
    assert s.fast_shap() is not None
    np.testing.assert_allclose(s.contributions(rows), expected, rtol=1e-10, atol=1e-12)

    real_build = treeshap.build

    def off_by_a_little(dump: dict) -> treeshap.TreeShap | None:
        fast = real_build(dump)
        assert fast is not None
        fast.leaf_value[0] += 0.01  # one leaf wrong: the check must notice
        return fast

    monkeypatch.setattr(treeshap, "build", off_by_a_little)
    broken = Scorer(stored_scorer.pipeline, stored_scorer.metadata, stored_scorer.version)
    with caplog.at_level(logging.WARNING):
        assert broken.fast_shap() is None
    assert "disagrees with LightGBM" in caplog.text
    np.testing.assert_allclose(broken.contributions(rows), expected, rtol=1e-12)


def test_a_pickled_scorer_still_explains(stored_scorer: Scorer):
    """Spark ships the scorer to its workers by pickling it, before or after first use."""
    import pickle

    rows = treeshap.probe_rows(treeshap.build(stored_scorer._booster.dump_model()), 5, seed=3)
    expected = stored_scorer._booster.predict(rows, pred_contrib=True)[:, :-1]
    fresh = Scorer(stored_scorer.pipeline, stored_scorer.metadata, stored_scorer.version)
    used = Scorer(stored_scorer.pipeline, stored_scorer.metadata, stored_scorer.version)
    assert used.fast_shap() is not None
    for scorer in (fresh, used):
        copy = pickle.loads(pickle.dumps(scorer))
        np.testing.assert_allclose(copy.contributions(rows), expected, rtol=1e-10, atol=1e-12)
        assert copy.fast_shap() is not None
