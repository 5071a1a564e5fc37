"""The drift section of the retraining report, on values worked out by hand.

PSI = sum over bins of (a - e) ln(a / e), shares floored at EPSILON = 1e-4.

- Shares 0.5 / 0.5 against 0.7 / 0.3: 0.2 ln(1.4) + (-0.2) ln(0.6) = 0.067294 + 0.102165
  = 0.169459 (numbers 0/1, strings, booleans and scores alike; the empty missing-value
  bin adds (1e-4 - 1e-4) ln 1 = 0).
- Counts 0,0,1,2 against 0,1,1,2 (one bin per value): 0.5/0.25/0.25 against
  0.25/0.5/0.25: -0.25 ln(0.5) + 0.25 ln(2) = 0.5 ln 2 = 0.346574. (Quantile bins would
  cut at 0, 0.1, 0.4, ... and give another value.) A 3 falls in the bin above the
  reference's values, empty there.
- 0..99 in 4 quantile bins (cuts 24.75, 49.5, 74.25) against 0..49: 0.5/0.5/0/0 against
  0.25 each: 2 (0.25 ln 2) + 2 (1e-4 - 0.25) ln(1e-4 / 0.25) = 0.346574 + 3.910458.
- Missing values, 1,1,2,2 against 1,2,NaN,NaN: 2 (-0.25 ln 0.5) + (0.5 - 1e-4) ln(0.5 / 1e-4)
  = 0.346574 + 4.257745.
- An unseen category, a,a,a,a against a,a,a,b: (-0.25) ln(0.75) + (0.25 - 1e-4) ln(2500)
  = 0.071921 + 1.955229; and 0,0,0,0 against 0,0,0,7 (7 above the reference's only value).
"""

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from stratify.features.config import DriftConfig, load_config
from stratify.training.retrain.drift import (
    EPSILON,
    ERR_COLUMN,
    ERR_EMPTY,
    ERR_LENGTH,
    NOT_IN_CATALOGUE,
    UNKNOWN_LOCALITY,
    base_rate_by_quarter,
    cohort_by_locality,
    drift_level,
    drift_report,
    feature_drift,
    psi,
    score_drift,
)

HALF_VS_70_30 = 0.2 * math.log(1.4) - 0.2 * math.log(0.6)
THRESHOLDS = DriftConfig()


def test_epsilon_is_documented_value():
    assert EPSILON == 1e-4


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ([0] * 5 + [1] * 5, [0] * 7 + [1] * 3),
        (["a"] * 5 + ["b"] * 5, ["a"] * 7 + ["b"] * 3),
        ([True] * 5 + [False] * 5, [True] * 7 + [False] * 3),
        (np.array([0.1] * 5 + [0.2] * 5), np.array([0.1] * 7 + [0.2] * 3)),
    ],
)
def test_psi_half_against_70_30(expected, actual):
    assert math.isclose(HALF_VS_70_30, 0.169459, abs_tol=1e-6)
    assert psi(expected, actual) == pytest.approx(HALF_VS_70_30, rel=1e-12)


def test_few_distinct_values_get_one_bin_each():
    assert psi([0, 0, 1, 2], [0, 1, 1, 2]) == pytest.approx(0.5 * math.log(2), rel=1e-12)
    # shares 0.5/0.25/0.25/0 against 0.25/0.25/0.25/0.25 (a 3 above the range)
    want = -0.25 * math.log(0.5) + (0.25 - EPSILON) * math.log(0.25 / EPSILON)
    assert psi([0, 0, 1, 2], [0, 1, 2, 3]) == pytest.approx(want, rel=1e-12)
    assert psi([0, 0, 1, 2], [0, 1, 2, -1]) == pytest.approx(want, rel=1e-12)


def test_numeric_bins_are_reference_quantiles():
    empty = 2 * (EPSILON - 0.25) * math.log(EPSILON / 0.25)
    want = 2 * 0.25 * math.log(2) + empty
    assert want == pytest.approx(0.346574 + 3.910458, abs=1e-6)
    assert psi(np.arange(100), np.arange(50), bins=4) == pytest.approx(want, rel=1e-12)
    # 24 is below the first cut (24.75), 25 above it; values outside the reference's
    # range fall in the end bins
    assert psi(np.arange(100), np.r_[[24] * 25, [25] * 25], bins=4) == pytest.approx(want)
    assert psi(np.arange(100), [-5, 500], bins=4) == pytest.approx(want, rel=1e-12)
    assert psi(np.arange(100), np.arange(100)[::-1], bins=4) == 0.0


def test_missing_values_are_their_own_bin():
    want = 2 * -0.25 * math.log(0.5) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
    assert want == pytest.approx(0.346574 + 4.257745, abs=1e-6)
    assert psi([1, 1, 2, 2], [1, 2, np.nan, np.nan]) == pytest.approx(want, rel=1e-12)
    assert psi(pd.array([1, 1, 2, 2], "Int64"), pd.array([1, 2, None, None], "Int64")) == (
        pytest.approx(want, rel=1e-12)
    )
    assert psi(["a", "a", "b", "b"], ["a", "b", None, None]) == pytest.approx(want, rel=1e-12)
    assert psi([1.0, np.nan], [np.nan, 1.0]) == 0.0


def test_empty_bins_are_floored_not_infinite():
    want = -0.25 * math.log(0.75) + (0.25 - EPSILON) * math.log(0.25 / EPSILON)
    assert want == pytest.approx(0.071921 + 1.955229, abs=1e-6)
    assert psi(["a"] * 4, ["a"] * 3 + ["b"]) == pytest.approx(want, rel=1e-12)
    assert psi([0] * 4, [0] * 3 + [7]) == pytest.approx(want, rel=1e-12)


def test_identical_samples_have_zero_psi():
    rng = np.random.default_rng(3)
    x = rng.poisson(2.0, 1_000)
    assert psi(x, x) == 0.0
    assert psi(x, rng.permutation(x)) == 0.0
    assert psi(["x", "y", None], ["y", None, "x"]) == 0.0


def test_shifted_normal():
    # Deciles of N(0, 1) against N(mu, 1): 0.2377 for mu = 0.5 (exact shares), a little
    # under the continuous value mu^2 = 0.25; 0.0096 for mu = 0.1.
    rng = np.random.default_rng(11)
    reference = rng.normal(size=200_000)
    assert 0.22 < psi(reference, rng.normal(0.5, 1.0, 100_000)) < 0.25
    assert 0.008 < psi(reference, rng.normal(0.1, 1.0, 100_000)) < 0.012
    assert psi(reference, rng.normal(size=100_000)) < 0.001


def test_empty_sample_is_an_error():
    with pytest.raises(ValueError, match=re.escape(ERR_EMPTY.format(e=2, a=0))):
        psi([1, 2], [])


def _slow_psi(expected, actual, bins):
    """PSI with plain loops: count each value's bin, floor, sum."""
    numeric = all(isinstance(v, float) for v in [*expected, *actual])
    if numeric:
        values = [v for v in expected if not math.isnan(v)]
        known = sorted(set(values))
        few = 0 < len(known) <= bins  # none known: every number in one bin
        cuts = (
            []
            if len(known) <= bins
            else np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]).tolist()
        )

        def bin_of(v):
            if math.isnan(v):
                return "missing"
            if few:  # the value itself, or below / above the reference's values
                return (
                    "below"
                    if v < known[0]
                    else "above"
                    if v > known[-1]
                    else max(k for k in known if k <= v)
                )
            return sum(1 for c in set(cuts) if c <= v)

    else:

        def bin_of(v):
            return "missing" if v is None else v

    total = 0.0
    for b in {bin_of(v) for v in [*expected, *actual]}:
        e = max(sum(bin_of(v) == b for v in expected) / len(expected), EPSILON)
        a = max(sum(bin_of(v) == b for v in actual) / len(actual), EPSILON)
        total += (a - e) * math.log(a / e)
    return total


_numbers = st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, math.nan]), min_size=1)
_numbers = _numbers | st.lists(
    st.integers(0, 40).map(float) | st.just(math.nan), min_size=1, max_size=40
)
_categories = st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(st.tuples(_numbers, _numbers), st.tuples(_categories, _categories)),
    st.integers(2, 8),
)
def test_psi_matches_slow_loops(samples, bins):
    expected, actual = samples
    assert psi(expected, actual, bins=bins) == pytest.approx(
        _slow_psi(expected, actual, bins), rel=1e-9, abs=1e-12
    )


@pytest.mark.parametrize(
    ("value", "level"),
    [(0.0, "stable"), (0.0999, "stable"), (0.1, "moderate"), (0.2499, "moderate"),
     (0.25, "major"), (3.0, "major")],
)  # fmt: skip
def test_levels(value, level):
    assert drift_level(value, THRESHOLDS) == level


def test_levels_follow_the_config():
    custom = DriftConfig(psi_moderate=0.2, psi_major=0.5)
    assert [drift_level(v, custom) for v in (0.15, 0.3, 0.5)] == ["stable", "moderate", "major"]
    with pytest.raises(ValidationError, match="psi_major must be above psi_moderate"):
        DriftConfig(psi_moderate=0.3, psi_major=0.25)


def test_shipped_config_has_the_rule_of_thumb():
    cfg = load_config(Path(__file__).parents[2] / "config" / "stratify.yaml")
    assert cfg.drift == DriftConfig(psi_moderate=0.1, psi_major=0.25, bins=10)


def _tiny():
    """Ten reference and ten current rows.

    referrals_3m: 0.5/0.5 against 0.7/0.3 -> 0.169459 (moderate), means 0.5 and 0.3.
    open_referral: 2 of 10 true on both sides -> 0 (stable), share 0.2.
    locality: North/South 0.6/0.4 against 0.1/0.9 -> -0.5 ln(1/6) + 0.5 ln(2.25)
    = 0.895880 + 0.405465 = 1.301344 (major); top North, then South.
    """
    reference = pd.DataFrame(
        {
            "as_of_date": pd.to_datetime(["2024-01-01"] * 5 + ["2024-04-01"] * 5).date,
            "label": [1, 0, 0, 0, 0, 1, 1, 0, 0, np.nan],
            "referrals_3m": [0] * 5 + [1] * 5,
            "open_referral": [True] * 2 + [False] * 8,
            "locality": ["North"] * 6 + ["South"] * 4,
        }
    )
    current = pd.DataFrame(
        {
            "as_of_date": pd.to_datetime(["2025-01-01"] * 10).date,
            "label": [np.nan] * 10,
            "referrals_3m": [0] * 7 + [1] * 3,
            "open_referral": [False] * 8 + [True] * 2,
            "locality": ["North"] + ["South"] * 9,
        }
    )
    return reference, current


LOCALITY_PSI = -0.5 * math.log(1 / 6) + 0.5 * math.log(2.25)


def test_feature_drift_table():
    reference, current = _tiny()
    features = ["open_referral", "referrals_3m", "locality"]
    table = feature_drift(reference, current, features, THRESHOLDS)
    assert list(table["feature"]) == ["locality", "referrals_3m", "open_referral"]
    assert list(table["level"]) == ["major", "moderate", "stable"]
    np.testing.assert_allclose(table["psi"], [LOCALITY_PSI, HALF_VS_70_30, 0.0], atol=1e-12)
    assert math.isclose(LOCALITY_PSI, 1.301344, abs_tol=1e-6)
    assert list(table["group"]) == ["area", "child", "child"]
    assert table["description"].iloc[1] == "Referrals of this child in the last 3 months"
    assert table[["reference", "current"]].to_numpy().tolist() == [
        ["North", "South"],
        [0.5, 0.3],
        [0.2, 0.2],
    ]


def test_feature_drift_outside_the_catalogue_and_missing_columns():
    reference, current = _tiny()
    reference["sex"], current["sex"] = ["F"] * 10, ["F"] * 10
    table = feature_drift(reference, current, ["sex"], THRESHOLDS)
    assert table.loc[0, ["description", "group", "psi"]].tolist() == [
        NOT_IN_CATALOGUE,
        NOT_IN_CATALOGUE,
        0.0,
    ]
    with pytest.raises(ValueError, match=ERR_COLUMN.format(side="current", column="sex")):
        feature_drift(reference, current.drop(columns="sex"), ["sex"], THRESHOLDS)
    with pytest.raises(ValueError, match="the reference frame has no column 'age_months'"):
        feature_drift(reference, current, ["age_months"], THRESHOLDS)


def test_score_drift():
    drift = score_drift([0.1] * 5 + [0.2] * 5, [0.1] * 7 + [0.2] * 3, THRESHOLDS)
    assert drift.psi == pytest.approx(HALF_VS_70_30)
    assert drift.level == "moderate"
    assert (drift.reference_mean, drift.current_mean) == pytest.approx((0.15, 0.13))


def test_cohort_by_locality():
    # reference North 6, South 3, unknown 1 (shares 0.6, 0.3, 0.1); current North 2,
    # South 1, East 1 (0.5, 0.25, 0.25): North 0.5/0.6 - 1 = -16.7 %, South 0.25/0.3 - 1
    # = -16.7 %, unknown -100 %, East new (no change defined).
    reference = pd.DataFrame({"locality": ["North"] * 6 + ["South"] * 3 + [None]})
    current = pd.DataFrame({"locality": ["North", "South", "East", "North"]})
    table = cohort_by_locality(reference, current)
    assert list(table["locality"]) == ["East", "North", "South", UNKNOWN_LOCALITY]
    assert list(table["reference"]) == [0, 6, 3, 1]
    assert list(table["current"]) == [1, 2, 1, 0]
    np.testing.assert_allclose(table["reference_share"], [0, 0.6, 0.3, 0.1])
    np.testing.assert_allclose(table["current_share"], [0.25, 0.5, 0.25, 0])
    np.testing.assert_allclose(
        table["change_pct"], [np.nan, -100 / 6, -100 / 6, -100.0], equal_nan=True
    )


def test_base_rate_by_quarter():
    # 2024Q1: labels 1, 0, 0 -> 1/3; 2024Q2: 1 and one unlabelled -> 1/1; 2024Q3: only
    # unlabelled -> left out.
    dates = ["2024-01-15", "2024-03-31", "2024-02-01", "2024-04-01", "2024-06-30", "2024-07-01"]
    keys = pd.DataFrame({"as_of_date": pd.to_datetime(dates).date})
    labels = pd.array([1, 0, 0, 1, None, None], "Float64")
    table = base_rate_by_quarter(keys, labels)
    assert table["quarter"].tolist() == ["2024Q1", "2024Q2"]
    assert table["positives"].tolist() == [1, 1]
    assert table["rows"].tolist() == [3, 1]
    np.testing.assert_allclose(table["base_rate"], [1 / 3, 1.0])
    assert base_rate_by_quarter(keys, [np.nan] * 6).empty
    with pytest.raises(ValueError, match=ERR_LENGTH.format(keys=6, labels=2)):
        base_rate_by_quarter(keys, [1, 0])


def test_drift_report_on_the_tiny_frames():
    reference, current = _tiny()
    report = drift_report(
        reference,
        current,
        reference_audit=reference[["locality"]],
        current_audit=current[["locality"]],
        reference_scores=[0.1] * 5 + [0.2] * 5,
        current_scores=[0.1] * 7 + [0.2] * 3,
        features=["referrals_3m", "open_referral", "locality"],
        thresholds=THRESHOLDS,
    )
    assert report.flagged.features == ("locality",)
    assert report.flagged.score == "moderate"
    assert (report.reference_rows, report.current_rows) == (10, 10)
    # reference: 2024Q1 1/5, 2024Q2 2/4 (one unlabelled); current: none labelled
    assert report.base_rates.to_numpy().tolist() == [
        ["reference", "2024Q1", 1, 5, 0.2],
        ["reference", "2024Q2", 2, 4, 0.5],
    ]
    assert report.localities["change_pct"].tolist() == pytest.approx([100 * (0.1 / 0.6 - 1), 125.0])
    data = json.loads(json.dumps(report.as_dict(), allow_nan=False))
    assert data["flagged"] == {"features": ["locality"], "score": "moderate"}
    assert data["thresholds"] == {
        "psi_moderate": 0.1,
        "psi_major": 0.25,
        "bins": 10,
        "rate_ratio_major": 1.5,
    }
    assert data["features"][0]["feature"] == "locality"
    assert data["features"][1]["current"] == pytest.approx(0.3)
    assert data["rows"] == {"reference": 10, "current": 10}


def _extract(seed, n, *, referral_rate=0.3, localities=("North", "South", "East", "West")):
    """A synthetic extract: features, audit and scores shaped like the build's tables."""
    rng = np.random.default_rng(seed)
    referrals = rng.poisson(referral_rate, n)
    since = np.where(rng.random(n) < 0.3, rng.integers(0, 60, n), np.nan)
    features = pd.DataFrame(
        {
            "as_of_date": pd.to_datetime("2024-03-31").date(),
            "label": (rng.random(n) < 0.03).astype(float),
            "age_months": rng.integers(0, 216, n),
            "referrals_12m": referrals,
            "months_since_referral": since,
            "open_referral": rng.random(n) < 0.05,
            "locality": rng.choice(localities, n),
        }
    )
    scores = 1 / (1 + np.exp(3.5 - 0.8 * referrals - rng.normal(0, 1, n)))
    return features, features[["locality"]], scores


FEATURES = ["age_months", "referrals_12m", "months_since_referral", "open_referral", "locality"]


def _report(reference, current):
    return drift_report(
        reference[0],
        current[0],
        reference_audit=reference[1],
        current_audit=current[1],
        reference_scores=reference[2],
        current_scores=current[2],
        features=FEATURES,
        thresholds=THRESHOLDS,
    )


def test_a_resample_of_the_same_distribution_is_not_flagged():
    # chance alone gives about (bins - 1)(1/n + 1/m) = 9 (1/200,000 + 1/50,000) = 0.0002
    report = _report(_extract(1, 200_000), _extract(2, 50_000))
    assert report.flagged.features == ()
    assert report.flagged.score == "stable"
    assert report.features["psi"].max() < 0.01
    assert set(report.features["level"]) == {"stable"}


def test_a_scenario_like_shift_is_flagged():
    # Referrals triple (a new front door records every contact as a referral) and the
    # North locality is split in two by a boundary change; age is untouched.
    localities = ("North East", "North West", "South", "East", "West")
    report = _report(
        _extract(1, 200_000), _extract(2, 50_000, referral_rate=0.9, localities=localities)
    )
    levels = dict(zip(report.features["feature"], report.features["level"], strict=True))
    assert set(report.flagged.features) == {"referrals_12m", "locality"}
    assert levels["age_months"] == levels["open_referral"] == "stable"
    # the score moves less: noise unrelated to referrals dominates it (PSI 0.16)
    assert report.flagged.score == "moderate"
    assert report.score.current_mean > report.score.reference_mean
    assert report.localities["locality"].tolist() == [
        "East",
        "North",
        "North East",
        "North West",
        "South",
        "West",
    ]


def test_referral_sources_by_hand():
    from scipy.stats import binomtest

    from stratify.training.retrain.drift import source_drift

    table = source_drift(
        {"police": 120, "schools": 120, "health": 12},
        {"police": 60, "schools": 30, "health": 6},
        reference_months=12, current_months=3, thresholds=DriftConfig(),
    )  # fmt: skip
    rows = table.set_index("group")
    # police: 10 a month then, 20 now; 60 of 180 referrals fell in 3 of 15 months
    assert rows.loc["police", "ratio"] == pytest.approx(2.0)
    assert rows.loc["police", "p_value"] == pytest.approx(binomtest(60, 180, 0.2).pvalue)
    assert rows.loc["police", "level"] == "major"
    assert rows.loc["schools", "ratio"] == pytest.approx(1.0)
    assert rows.loc["schools", "level"] == "stable"
    # health doubles too, but 6 referrals could fall so by chance: only moderate
    assert rows.loc["health", "p_value"] > 0.01 and rows.loc["health", "level"] == "moderate"
    assert list(table["group"])[0] == "police"  # most certain change first
