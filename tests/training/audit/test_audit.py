"""The fairness audit, worked by hand on 62 decision points with a known disparity.

The rows are :func:`tests.training.factories.predictions`.

Two ethnic groups, White (32 children) and Black (30), each with 10 positives:

=========  ======================  =======================  ======  ======
group      positives (score)       negatives (score)        FNR     FPR
=========  ======================  =======================  ======  ======
White      8 selected (0.6),       2 selected (0.55),       2/10    2/22
           2 not (0.3)             20 not (0.2)
Black      4 selected (0.7),       6 selected (0.65),       6/10    6/20
           6 not (0.25)            14 not (0.3)
=========  ======================  =======================  ======  ======

So recall at capacity is White 8/10 = 0.8, Black 4/10 = 0.4, and the recall ratio
(Black / White, the largest group) is 0.5: not met. The FNR ratio, reported only, is
0.6 / 0.2 = 3.0. Selection rates: White 10/32 = 0.3125, Black 10/30 = 1/3; ratio
1.0667: met. Expected positives (sum of scores): White 8*.6 + 2*.3 + 2*.55 + 20*.2 =
10.5, so observed/expected 10/10.5 = 0.952 (met); Black 4*.7 + 6*.25 + 6*.65 + 14*.3 =
12.4, so 10/12.4 = 0.806 (met, just). Calibration gap (reported only): White mean score
10.5/32 minus 10/32 = 0.015625; Black 12.4/30 minus 1/3 = 0.08.
AUC: White (8*22 + 2*20) / 220 = 216/220; Black (4*20 + 0) / 200 = 0.4.

Small cells: age band "16+" has 9 people, age band "<1" has 12 people but 4 positives,
sex "9" has 9 people (so the smaller of the other two sexes is suppressed as well).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stratify.features.config import AuditConfig
from stratify.training.audit import stats
from stratify.training.audit.checks import NOTE_UNDEFINED
from stratify.training.audit.report import ERR_MISSING, AuditResult, audit, family_of
from stratify.training.audit.suppress import SUPPRESSED, apply_suppression, hidden_cells
from stratify.training.metrics.bootstrap import resample_weights
from stratify.training.policy import FairnessBar
from tests.training.factories import BAR, CONFIG, HIDDEN_AGE, predictions


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return audit(predictions(truth=True), config=CONFIG, policy=BAR, seed=1)


def _row(table: pd.DataFrame, dim: str, group: str) -> pd.Series:
    return table[(table["dimension"] == dim) & (table["group"] == group)].iloc[0]


def test_group_figures_by_hand(result):
    white, black = (
        _row(result.groups, "ethnic_group", "White"),
        _row(result.groups, "ethnic_group", "Black"),
    )
    assert (white["people"], white["positives"], white["selected"]) == (32, 10, 10)
    assert white["false_negative_rate"] == pytest.approx(0.2)
    assert black["false_negative_rate"] == pytest.approx(0.6)
    assert white["false_positive_rate"] == pytest.approx(2 / 22)
    assert black["false_positive_rate"] == pytest.approx(0.3)
    assert (white["precision"], black["precision"]) == pytest.approx((0.8, 0.4))
    assert white["selection_rate"] == pytest.approx(0.3125)
    assert white["mean_score"] == pytest.approx(10.5 / 32)
    assert white["calibration_gap"] == pytest.approx(0.015625)
    assert black["calibration_gap"] == pytest.approx(0.08)
    assert (white["recall"], black["recall"]) == pytest.approx((0.8, 0.4))
    assert white["observed_expected"] == pytest.approx(10 / 10.5)
    assert black["observed_expected"] == pytest.approx(10 / 12.4)
    assert white["roc_auc"] == pytest.approx(216 / 220)
    assert black["roc_auc"] == pytest.approx(0.4)
    overall = _row(result.groups, "Overall", "Overall")
    assert overall["false_negative_rate"] == pytest.approx(8 / 20)


def test_ratios_and_checks_by_hand(result):
    d = result.disparities
    fnr = d[
        (d["group"] == "Black")
        & (d["metric"] == "false_negative_rate")
        & (d["versus"] == "reference")
    ]
    assert fnr["reference"].iloc[0] == "White"
    assert fnr["ratio"].iloc[0] == pytest.approx(3.0)
    assert fnr["difference"].iloc[0] == pytest.approx(0.4)
    checks = {(c.dimension, c.group, c.criterion.split(" (")[0]): c for c in result.checks}
    black = [c for c in result.checks if c.dimension == "ethnic_group" and c.group == "Black"]
    assert black[0].criterion == "recall at capacity ratio"  # the headline check comes first
    assert (black[0].outcome, black[0].value) == ("not met", pytest.approx(0.5))
    assert black[0].low <= 0.5 <= black[0].high
    assert not any("false negative" in c.criterion for c in result.checks)
    sel = checks[("ethnic_group", "Black", "selection rate ratio")]
    assert (sel.outcome, sel.value) == ("met", pytest.approx((10 / 30) / (10 / 32)))
    cal = checks[("ethnic_group", "Black", "calibration")]
    assert (cal.outcome, cal.value) == ("met", pytest.approx(10 / 12.4))
    assert cal.low <= cal.value <= cal.high
    assert checks[("ethnic_group", "White", "calibration")].value == pytest.approx(10 / 10.5)


def test_not_assessable_and_verdict(result):
    by = {(c.dimension, c.group, c.criterion): c for c in result.checks}
    small = [c for c in result.checks if c.dimension == "age_band" and c.group in HIDDEN_AGE]
    assert len(small) == 6 and all(c.outcome == "not assessable" for c in small)
    assert all(c.value == SUPPRESSED for c in small)
    assert all(c.outcome == "not assessable" for k, c in by.items() if k[0] == "locality")
    v = result.verdict
    assert v.overall == "not met"  # not met outranks not assessable
    assert v.not_assessable == sum(c.outcome == "not assessable" for c in result.checks) > 0
    assert v.required_not_assessable == v.not_assessable  # every dimension is required
    assert v.met + v.not_met + v.not_assessable == len(result.checks)


def test_reference_rate_zero_is_not_assessable():
    # every positive selected in every group: recall 1 everywhere, the ratio 1
    frame = predictions()
    frame["selected"] = frame["label"].astype(bool)
    res = audit(frame, config=CONFIG, policy=BAR, seed=0)
    c = next(c for c in res.checks if c.group == "Black" and c.criterion.startswith("recall"))
    assert c.outcome == "met"  # recall 1 in both groups: the recall ratio binds here too
    frame["selected"] = False  # no positive selected anywhere: recall 0 in the reference
    res = audit(frame, config=CONFIG, policy=BAR, seed=0)
    c = next(c for c in res.checks if c.group == "Black" and c.criterion.startswith("recall"))
    assert (c.outcome, c.note) == ("not assessable", NOTE_UNDEFINED)


def test_met_when_groups_alike():
    # the White rows twice over, once labelled Black: identical figures, ratios 1
    frame = predictions()
    white = frame[frame["ethnic_group"] == "White"]
    frame = pd.concat(
        [white, white.assign(ethnic_group="Black", household_id=white["household_id"] + "b")]
    )
    res = audit(frame.reset_index(drop=True), config=CONFIG, policy=BAR, seed=0)
    eth = [c for c in res.checks if c.dimension == "ethnic_group"]
    assert {c.outcome for c in eth} == {"met"}


def test_suppression_everywhere_in_the_audit(result):
    hidden = {("age_band", g) for g in HIDDEN_AGE} | {("sex", "9")}
    doc = json.loads(result.to_json())
    tables = [
        doc["groups"],
        doc["disparities"],
        doc["calibration"],
        doc["true_need"],
        doc["what_if"]["groups"],
    ]
    labels = {"dimension", "group", "versus", "reference", "metric", "bin"}
    seen = 0
    for table in tables:
        for row in table:
            if (row["dimension"], row["group"]) in hidden:
                seen += 1
                assert all(v == SUPPRESSED for k, v in row.items() if k not in labels), row
    assert seen > 10
    for c in doc["checks"]:
        if (c["dimension"], c["group"]) in hidden:
            assert c["value"] == c["low"] == c["high"] == SUPPRESSED
    # intersections with sex 9 are small too, and so is Black x 2 (4 positives); Black x 2,
    # the only hidden cell of the sex 2 column, could be recovered from the sex 2 margin,
    # so White x 2 is hidden too; White x 1 then covers White x 9 in the White row
    inter = result.groups[result.groups["dimension"] == "ethnic_group x sex"]
    shown = inter.loc[inter["people"] != SUPPRESSED, "group"].tolist()
    assert shown == ["White x 1"]
    assert _row(result.groups, "ethnic_group x sex", "Black x 2")["people"] == SUPPRESSED


def test_secondary_suppression():
    counts = pd.DataFrame(
        {
            "dimension": ["sex"] * 3,
            "group": ["1", "2", "9"],
            "people": [30, 23, 9],
            "positives": [9, 8, 3],
        }
    )
    assert hidden_cells(counts, min_people=10, min_positives=5) == {("sex", "9"), ("sex", "2")}
    both = counts.assign(people=[30, 9, 9])
    assert hidden_cells(both, min_people=10, min_positives=5) == {("sex", "9"), ("sex", "2")}
    # a hidden margin whose parts are all shown is recovered by adding them up
    inter = pd.DataFrame(
        {
            "dimension": ["Overall", "sex", "sex", "sex x age", "sex x age"],
            "group": ["Overall", "1", "2", "1 x a", "1 x b"],
            "people": [60, 30, 30, 15, 15],
            "positives": [20, 4, 16, 2, 2],
        }
    )
    got = hidden_cells(inter, min_people=10, min_positives=5)
    assert got == {("sex", "1"), ("sex", "2"), ("sex x age", "1 x a"), ("sex x age", "1 x b")}
    # score bins: bins add up to their group, and each bin across groups to Overall's bin
    bins = pd.DataFrame(
        {
            "dimension": ["Overall"] * 2 + ["sex"] * 4,
            "group": ["Overall"] * 2 + ["1", "1", "2", "2"],
            "bin": [0, 1] * 3,
            "people": [40, 40, 20, 20, 20, 20],
            "positives": [10, 10, 4, 6, 6, 5],
        }
    )
    keys = ("dimension", "group", "bin")
    got = hidden_cells(bins, min_people=10, min_positives=5, keys=keys)
    # sex 1 bin 0 (4 positives); then its other bin, and sex 2's bin 0; then sex 2's bin 1
    assert got == {("sex", g, b) for g in "12" for b in "01"}
    out = apply_suppression(counts, {("sex", "9")})
    assert list(out.iloc[2]) == ["sex", "9", SUPPRESSED, SUPPRESSED]
    assert out.iloc[0]["people"] == 30


def test_ci_contains_point_and_narrows_with_more_families(result):
    g = result.groups
    shown = g[g["people"] != SUPPRESSED]
    metrics = ("selection_rate", "recall", "false_negative_rate", "precision", "roc_auc")
    for m in (*metrics, "calibration_gap", "observed_expected"):
        lo, v, hi = (
            shown[f"{m}_low"].astype(float),
            shown[m].astype(float),
            shown[f"{m}_high"].astype(float),
        )
        assert ((lo <= v + 1e-9) & (v <= hi + 1e-9)).all(), m
    big = audit(predictions(copies=4), config=CONFIG, policy=BAR, seed=1).groups
    for m in ("false_negative_rate", "roc_auc"):
        width = [float(t.loc[0, f"{m}_high"]) - float(t.loc[0, f"{m}_low"]) for t in (g, big)]
        assert width[1] < 0.75 * width[0]


def _weighted(frame: pd.DataFrame, w_row: np.ndarray) -> tuple[dict[str, float], float]:
    """The slow way: weighted sums and the weighted AUC by looping over pairs."""
    y, s, sel = frame["label"].to_numpy(), frame["score"].to_numpy(), frame["selected"].to_numpy()
    sums = {
        "people": 0.0,
        "positives": 0.0,
        "selected": 0.0,
        "true_positives": 0.0,
        "score_sum": 0.0,
    }
    num = 0.0
    for i in range(len(y)):
        sums["people"] += w_row[i]
        sums["positives"] += w_row[i] * y[i]
        sums["selected"] += w_row[i] * sel[i]
        sums["true_positives"] += w_row[i] * y[i] * sel[i]
        sums["score_sum"] += w_row[i] * s[i]
        for j in range(len(y)):
            if y[i] == 1 and y[j] == 0:
                num += w_row[i] * w_row[j] * (1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0)
    pos = sum(w_row[i] for i in range(len(y)) if y[i] == 1)
    return sums, num / (pos * (sums["people"] - pos))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_bootstrap_matches_loops(seed):
    rng = np.random.default_rng(seed)
    n = 40
    frame = pd.DataFrame(
        {
            "label": rng.integers(0, 2, n),
            "score": rng.integers(0, 12, n) / 12,
            "selected": rng.random(n) < 0.3,
            "g": rng.choice(["a", "b"], n),
        }
    )
    fam = rng.integers(0, 25, n)
    _, fam = np.unique(fam, return_inverse=True)
    n_fam = int(fam.max()) + 1
    cells = stats.make_cells(frame, ["g"])
    q = stats.quantities(
        frame["label"].to_numpy(), frame["selected"].to_numpy(), frame["score"].to_numpy()
    )
    points = stats.point_metrics(frame, cells)
    sums, auc = stats.bootstrap(
        cells,
        q,
        frame["label"].to_numpy(),
        fam,
        auc_point=points["roc_auc"].to_numpy(),
        n_families=n_fam,
        n_boot=3,
        seed=seed,
    )
    w = next(resample_weights(n_fam, 3, seed))
    for r in range(3):
        for c in range(len(cells.labels)):
            mask = np.any([m == c for m in cells.members], axis=0)
            expect, expect_auc = _weighted(frame[mask].reset_index(drop=True), w[r, fam[mask]])
            assert sums[r, c] == pytest.approx(list(expect.values()), rel=1e-5)
            assert auc[r, c] == pytest.approx(expect_auc, rel=1e-5)


def test_true_need_only_with_ground_truth(result):
    assert audit(predictions(), config=CONFIG, policy=BAR).true_need is None
    t = result.true_need
    white, black = _row(t, "ethnic_group", "White"), _row(t, "ethnic_group", "Black")
    # White: 10 positives + 2 unrecorded in need, 8 of the 12 selected
    assert (white["in_need"], white["share_in_need"]) == (12, pytest.approx(12 / 32))
    assert white["false_negative_rate_true_need"] == pytest.approx(4 / 12)
    assert white["label_rate_in_need"] == pytest.approx(10 / 12)
    # Black: 10 positives + 6 unrecorded in need, 4 of the 16 selected
    assert black["false_negative_rate_true_need"] == pytest.approx(12 / 16)
    assert black["label_rate_not_in_need"] == pytest.approx(0.0)


def test_what_if_by_hand(result):
    w = result.what_if
    assert (w.dimension, w.reference, w.target_fnr) == ("ethnic_group", "White", pytest.approx(0.2))
    black = _row(w.groups, "ethnic_group", "Black")
    # 8 of Black's 10 positives needed: the 8th highest positive score is 0.25, which
    # (with ties) selects every Black child
    assert black["threshold"] == pytest.approx(0.25)
    assert (black["whatif_fnr"], black["whatif_selected"]) == (pytest.approx(0.0), 30)
    assert w.summary == {
        "actual_selected": 20,
        "actual_precision": pytest.approx(0.6),
        "whatif_selected": 40,
        "whatif_precision": pytest.approx(18 / 40),
    }


def _proxy_frame(n: int = 400) -> tuple[pd.DataFrame, np.random.Generator]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "person_id": [f"P{i}" for i in range(n)],
            "household_id": [f"H{i // 2}" for i in range(n)],
            "label": rng.integers(0, 2, n),
            "score": rng.random(n),
            "selected": rng.random(n) < 0.2,
            "ethnic_group": rng.choice(["White", "Black", "Asian"], n),
            "sex": rng.choice(["1", "2"], n),
        }
    )
    return frame, rng


def test_proxy_auc_high_for_a_copy_and_half_for_noise():
    frame, rng = _proxy_frame()
    x = pd.DataFrame(rng.normal(size=(len(frame), 4)), columns=list("abcd"))
    x["is_black"] = (frame["ethnic_group"] == "Black").astype(float)
    x["is_asian"] = (frame["ethnic_group"] == "Asian").astype(float)
    x.loc[::7, "a"] = np.nan
    cfg = AuditConfig(groups=("ethnic_group", "sex"), intersections=(), n_boot=50)
    res = audit(frame, config=cfg, policy=FairnessBar(dimensions=("ethnic_group",)), X=x)
    auc = res.proxy.set_index("dimension")["roc_auc"]
    assert auc["ethnic_group"] > 0.95
    assert abs(auc["sex"] - 0.5) < 0.1
    tops = res.proxy_features[res.proxy_features["dimension"] == "ethnic_group"]
    assert set(tops["feature"].iloc[:2]) == {"is_black", "is_asian"}
    assert len(tops) == 5


def test_family_of_keeps_a_childs_rows_together():
    frame = pd.DataFrame(
        {"person_id": ["a", "a", "b", "c"], "household_id": [None, None, "H", "H"]}
    )
    codes, n = family_of(frame)
    assert n == 2 and codes[0] == codes[1] and codes[2] == codes[3]


def test_missing_columns_error():
    with pytest.raises(ValueError, match=ERR_MISSING.split("{")[0]):
        audit(predictions().drop(columns=["sex"]), config=CONFIG, policy=BAR)
