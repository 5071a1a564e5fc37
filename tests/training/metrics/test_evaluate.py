"""Evaluation metrics worked by hand, checked against scikit-learn; ``evaluate``'s report."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from stratify.training.metrics.boot import METRICS, PAIRED
from stratify.training.metrics.evaluate import (
    ERR_LENGTH,
    ERR_MODELS,
    ERR_NOT_BINARY,
    ERR_NOT_PROBABILITY,
    average_precision,
    brier,
    evaluate,
    expected_calibration_error,
    lift_at_capacity,
    per_period,
    point_metrics,
    precision_at_capacity,
    recall_at_capacity,
    reliability_curve,
    roc_auc,
)

# Ten rows, ties at 0.7 (one positive, one negative) and at 0.4 (one of each) and 0.2.
Y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])


P = np.array([0.9, 0.8, 0.7, 0.7, 0.4, 0.4, 0.3, 0.2, 0.2, 0.1])


def test_roc_auc_by_hand():
    # 3 positives x 7 negatives = 21 pairs. Positive 0.9 beats all 7 negatives: 7.
    # Positive 0.7 beats 0.4, 0.3, 0.2, 0.2, 0.1 (5), ties 0.7 (0.5), loses to 0.8: 5.5.
    # Positive 0.4 beats 0.3, 0.2, 0.2, 0.1 (4), ties 0.4 (0.5): 4.5. 17 / 21.
    assert roc_auc(Y, P) == pytest.approx(17 / 21)


def test_average_precision_by_hand():
    # Thresholds (tied rows enter together), at each level holding a positive:
    # 0.9: 1 of 1 positive, precision 1; 0.7: 2 of 4, 1/2; 0.4: 3 of 6, 1/2.
    # Each positive adds recall 1/3: AP = (1 + 1/2 + 1/2) / 3 = 2/3.
    assert average_precision(Y, P) == pytest.approx(2 / 3)


def test_brier_by_hand():
    # (p - y)^2: .01 .64 .09 .49 .16 .36 .09 .04 .04 .01, sum 1.93, over 10 rows.
    assert brier(Y, P) == pytest.approx(0.193)


# Four equal-width bins: [0, .25) [.25, .5) [.5, .75) [.75, 1].
Y_CAL = np.array([0, 0, 1, 0, 0, 1, 1, 1, 0, 1])


P_CAL = np.array([0.1, 0.1, 0.2, 0.2, 0.3, 0.4, 0.6, 0.6, 0.7, 0.9])


def test_ece_and_reliability_by_hand():
    curve = reliability_curve(Y_CAL, P_CAL, bins=4)
    assert curve["n"].tolist() == [4, 2, 3, 1]
    # mean p: .6/4, .7/2, 1.9/3, .9; observed: 1/4, 1/2, 2/3, 1
    assert curve["mean_predicted"].to_numpy() == pytest.approx([0.15, 0.35, 1.9 / 3, 0.9])
    assert curve["observed"].to_numpy() == pytest.approx([0.25, 0.5, 2 / 3, 1.0])
    assert curve["lower"].tolist() == [0.0, 0.25, 0.5, 0.75]
    assert curve["upper"].tolist() == [0.25, 0.5, 0.75, 1.0]
    # ECE uses equal-count bins: the scores' quartiles are .2, .35 and .6, so the bins
    # hold {.1, .1} (y 0, 0), {.2, .2, .3} (1, 0, 0), {.4} (1), {.6, .6, .7, .9} (1, 1, 0, 1);
    # |sum(y - p)| per bin: .2, .3, .6, .2; over 10 rows
    assert expected_calibration_error(Y_CAL, P_CAL, bins=4) == pytest.approx(0.13)


def test_reliability_edges_and_empty_bins():
    curve = reliability_curve([0, 1, 1], [0.0, 1.0, 0.95])
    # 0 falls in the first bin, 1 in the last (closed on both sides); 8 bins are empty
    assert curve["n"].tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    assert curve["observed"].isna().sum() == 8
    # |0 - 0| * 1/3 + |1 - .975| * 2/3 = .05 / 3
    assert expected_calibration_error([0, 1, 1], [0.0, 1.0, 0.95]) == pytest.approx(0.05 / 3)


# Two quarters; family A has two children in 2023Q1 and one in 2023Q2; C has two.
CAP = pd.DataFrame(
    {
        "quarter": ["2023Q1"] * 6 + ["2023Q2"] * 4,
        "family": ["A", "A", "B", "C", "C", "D", "A", "B", "E", "F"],
        "score": [0.9, 0.2, 0.8, 0.5, 0.4, 0.1, 0.3, 0.6, 0.7, 0.05],
        "y": [1, 0, 0, 1, 0, 0, 0, 1, 1, 0],
    }
)


def test_undefined_metrics_are_nan():
    assert math.isnan(roc_auc([1, 1], [0.2, 0.4]))
    assert math.isnan(roc_auc([0, 0], [0.2, 0.4]))
    assert math.isnan(average_precision([0, 0], [0.2, 0.4]))
    assert average_precision([1, 1], [0.2, 0.4]) == 1.0  # as scikit-learn
    assert math.isnan(precision_at_capacity([1, 0], [False, False]))
    assert math.isnan(recall_at_capacity([0, 0], [True, False]))
    assert math.isnan(lift_at_capacity([0, 0], [True, False]))
    assert math.isnan(brier([], []))
    assert math.isnan(expected_calibration_error([], []))


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match=re.escape(ERR_NOT_BINARY)):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match=re.escape(ERR_LENGTH)):
        roc_auc([0, 1], [0.1])
    with pytest.raises(ValueError, match=re.escape(ERR_NOT_PROBABILITY)):
        brier([0, 1], [0.1, 1.2])
    with pytest.raises(ValueError, match=re.escape(ERR_MODELS)):
        evaluate([0, 1], {"a": [0.1, 0.2]}, {}, family=[1, 2], n_boot=2)


@pytest.mark.parametrize("seed", range(5))
def test_equal_sklearn_with_ties_and_weights(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(60) < 0.3
    p = rng.integers(0, 6, 60) / 5  # six levels: heavy ties
    w = rng.random(60) * 3
    assert roc_auc(y, p, sample_weight=w) == pytest.approx(roc_auc_score(y, p, sample_weight=w))
    assert average_precision(y, p, sample_weight=w) == pytest.approx(
        average_precision_score(y, p, sample_weight=w)
    )
    assert brier(y, p, sample_weight=w) == pytest.approx(brier_score_loss(y, p, sample_weight=w))
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert average_precision(y, p) == pytest.approx(average_precision_score(y, p))


def test_integer_weights_equal_duplicated_rows():
    rng = np.random.default_rng(11)
    y, p, w = rng.random(30) < 0.4, rng.integers(0, 4, 30) / 3, rng.integers(0, 4, 30)
    yd, pd_ = np.repeat(y, w), np.repeat(p, w)
    for f in (roc_auc, average_precision, brier, expected_calibration_error):
        assert f(y, p, sample_weight=w) == pytest.approx(f(yd, pd_))
    assert roc_auc(y, p, sample_weight=w) == pytest.approx(roc_auc_score(yd, pd_))


def _two_models(noise, seed=0):
    rng = np.random.default_rng(seed)
    fam = np.repeat(np.arange(250), 2)
    y = (rng.random(500) < 0.2).astype(int)
    good = np.clip(0.3 * y + 0.7 * rng.random(500), 0, 1)
    other = np.clip(good + rng.normal(0, noise, 500), 0, 1) if noise < 1 else rng.random(500)
    scores = {"lightgbm": good, "other": other}
    sel = {m: s >= np.quantile(s, 0.8) for m, s in scores.items()}
    return y, scores, sel, fam


def test_paired_lift_excludes_zero_only_when_one_model_is_better():
    y, scores, sel, fam = _two_models(noise=1.0)  # other is pure noise
    better = evaluate(y, scores, sel, family=fam, n_boot=200)["lift_over"]["other"]
    for metric in PAIRED:
        assert better[metric]["low"] > 0, metric
    y, scores, sel, fam = _two_models(noise=0.02)  # other = lightgbm plus a little noise
    same = evaluate(y, scores, sel, family=fam, n_boot=200)["lift_over"]["other"]
    for metric in PAIRED:
        assert same[metric]["low"] < 0 < same[metric]["high"], metric


def test_evaluate_report():
    y, scores, sel, fam = _two_models(noise=1.0)
    scores["rule"] = np.round(scores["lightgbm"] * 5)  # points 0..5, not a probability
    sel["rule"] = sel["lightgbm"]
    report = evaluate(y, scores, sel, family=fam, n_boot=50, seed=1)
    json.dumps(report)
    assert (report["rows"], report["families"], report["n_boot"]) == (500, 250, 50)
    assert report["base_rate"] == pytest.approx(y.mean())
    assert set(report["lift_over"]) == {"other", "rule"}
    assert set(report["lift_over"]["rule"]) == set(PAIRED)
    point = point_metrics(y, scores["other"], sel["other"])
    for metric in METRICS:
        cell = report["metrics"]["other"][metric]
        assert cell["value"] == pytest.approx(point[metric])  # the estimate, not a mean
        assert cell["low"] <= cell["high"]
    assert all(math.isnan(v) for v in report["metrics"]["rule"]["brier"].values())
    for compare_to in (None, "absent"):
        alone = evaluate(y, scores, sel, family=fam, n_boot=5, compare_to=compare_to)
        assert alone["lift_over"] == {}


def test_per_period():
    q1 = CAP[CAP["quarter"] == "2023Q1"]
    frame = pd.concat([CAP, q1.assign(quarter="2023Q3")], ignore_index=True)
    # two families a quarter (tests/features/test_listing.py): A and B, then E and B
    sel = np.array([1, 1, 1, 0, 0, 0] + [0, 1, 1, 0] + [1, 1, 1, 0, 0, 0], dtype=bool)
    table = per_period(frame["y"], {"m": frame["score"]}, {"m": sel}, period=frame["quarter"])
    assert table["period"].tolist() == ["2023Q1", "2023Q2", "2023Q3"]
    assert table.columns.tolist() == ["period", "model", "rows", "positives", *PAIRED]
    assert table["rows"].tolist() == [6, 4, 6]
    assert table["positives"].tolist() == [2, 2, 2]
    # 2023Q1 selects rows 0 1 2 (positive: row 0) of positives 0 and 3
    first = table.iloc[0]
    assert (first["precision_at_capacity"], first["recall_at_capacity"]) == (1 / 3, 0.5)
    # 2023Q1 AUC: positives .9 and .5 against negatives .2 .8 .4 .1: (4 + 3) / 8
    assert first["roc_auc"] == pytest.approx(7 / 8)
