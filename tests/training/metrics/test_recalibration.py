"""Calibration slope and intercept: checked against an independent fit and known truths."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from stratify.training.metrics.recalibration import calibration_fit


def _logit(p):
    return np.log(p / (1 - p))


def _data(n=20_000, a=-0.4, b=0.6, seed=3):
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-rng.normal(-2.5, 1.2, n)))
    truth = 1 / (1 + np.exp(-(a + b * _logit(p))))
    return (rng.random(n) < truth).astype(int), p


def test_slope_matches_an_unpenalised_logistic_regression_on_the_logit():
    y, p = _data()
    got = calibration_fit(y, p, family=np.arange(len(y)), n_boot=50, seed=1)
    ref = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(_logit(p)[:, None], y)
    assert got["calibration_slope"]["value"] == pytest.approx(ref.coef_[0][0], abs=1e-5)
    # the recalibration that generated y had slope 0.6: recovered within its CI
    assert got["calibration_slope"]["low"] < 0.6 < got["calibration_slope"]["high"]
    assert got["calibration_slope"]["high"] < 0.8  # too-extreme scores are detected


def test_a_calibrated_model_has_slope_one_and_intercept_zero():
    y, p = _data(a=0.0, b=1.0, seed=4)
    got = calibration_fit(y, p, family=np.arange(len(y)), n_boot=100, seed=2)
    assert got["calibration_slope"]["low"] < 1.0 < got["calibration_slope"]["high"]
    assert got["calibration_intercept"]["low"] < 0.0 < got["calibration_intercept"]["high"]


def test_intercept_is_the_offset_logistic_fit_of_an_over_predicting_model():
    rng = np.random.default_rng(7)
    p = np.full(4000, 0.2)
    y = (rng.random(4000) < 0.1).astype(int)  # the model predicts twice the observed rate
    got = calibration_fit(y, p, family=np.arange(4000) // 2, n_boot=100, seed=3)
    # with a constant score the offset fit is exact: logit(observed) - logit(0.2)
    expected = _logit(y.mean()) - _logit(0.2)
    assert got["calibration_intercept"]["value"] == pytest.approx(expected, abs=1e-8)
    assert got["calibration_intercept"]["high"] < 0


def test_families_widen_the_interval_when_siblings_share_outcomes():
    y, p = _data(n=6000, seed=5)
    pairs = np.repeat(np.arange(3000), 2)
    y2, p2 = np.repeat(y[:3000], 2), np.repeat(p[:3000], 2)  # each family two identical rows
    by_row = calibration_fit(y2, p2, family=np.arange(6000), n_boot=200, seed=4)
    by_family = calibration_fit(y2, p2, family=pairs, n_boot=200, seed=4)
    width = {k: v["calibration_slope"]["high"] - v["calibration_slope"]["low"]
             for k, v in (("row", by_row), ("family", by_family))}  # fmt: skip
    assert width["family"] > 1.25 * width["row"]
