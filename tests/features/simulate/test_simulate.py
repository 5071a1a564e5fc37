"""The synthetic borough: determinism, validity, ground truth and detection bias."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stratify.features.config import FeaturesConfig, SimulationConfig
from stratify.features.simulate import run

SMALL = SimulationConfig(
    children=1500, years=3, burn_in_years=1, truth_sample=200, truth_replicates=20, seed=11
)


@pytest.fixture(scope="module")
def small():
    return run(SMALL)


def test_same_seed_same_borough(small):
    again = run(SMALL)
    for name, frame in small.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables[name], obj=name)
    pd.testing.assert_frame_equal(small.truth, again.truth)


def test_other_seed_other_borough(small):
    other = run(SMALL.model_copy(update={"seed": 12}))
    assert not small.tables["referrals"].equals(other.tables["referrals"])


def test_every_record_dated_inside_the_calendar(small):
    first, last = dt.date(2021, 4, 1), dt.date(2025, 3, 31)
    for name, col in [
        ("referrals", "referral_date"),
        ("agency_events", "event_date"),
        ("assessments", "start_date"),
        ("cp_plans", "start_date"),
    ]:
        dates = small.tables[name][col].dt.date
        assert dates.min() >= first - dt.timedelta(days=1), name
        assert dates.max() <= last + dt.timedelta(days=40), name


def test_episodes_are_ordered_and_closed_consistently(small):
    r = small.tables["referrals"]
    closed = r.dropna(subset=["closure_date"])
    assert (closed["closure_date"] >= closed["referral_date"]).all()
    assert closed["closure_reason"].notna().all()
    assert r.loc[r["closure_date"].isna(), "closure_reason"].isna().all()
    nfa = r[r["nfa"]]
    assert set(nfa["closure_reason"].dropna()) <= {"RC8"}
    a = small.tables["assessments"].merge(r, on=["referral_id", "person_id"])
    assert (a["start_date"] >= a["referral_date"]).all()
    assert not a["referral_id"].isin(nfa["referral_id"]).any()


def test_a_child_has_one_open_episode_at_a_time(small):
    r = small.tables["referrals"].sort_values(["person_id", "referral_date"])
    prev_close = r.groupby("person_id")["closure_date"].shift()
    has_prev = r.groupby("person_id").cumcount() > 0
    assert (prev_close[has_prev].notna()).all()
    assert (r.loc[has_prev, "referral_date"] >= prev_close[has_prev]).all()


def _realised(tables, truth):
    """The label each sampled decision point actually got in the main simulation."""
    out = []
    starts = pd.concat(
        [
            tables["section47"][["person_id", "start_date"]],
            tables["cp_plans"][["person_id", "start_date"]],
            tables["looked_after"][["person_id", "start_date"]],
        ]
    )
    refs = tables["referrals"][["person_id", "referral_date"]]
    for row in truth.itertuples():
        pid = f"P{row.person_number:08d}"
        as_of = pd.Timestamp(np.datetime64(row.as_of_day, "D"))
        end = as_of + pd.DateOffset(months=12)
        if row.target == "escalation":
            d = starts.loc[starts.person_id == pid, "start_date"]
        else:
            d = refs.loc[refs.person_id == pid, "referral_date"]
        out.append(bool(((d >= as_of) & (d < end)).any()))
    return np.array(out)


def test_true_probabilities_agree_with_what_happened():
    """Re-simulated probabilities must match the realised labels on average."""
    cfg = SimulationConfig(
        children=6000, years=3, burn_in_years=2, truth_sample=500, truth_replicates=40, seed=5
    )
    res = run(cfg, FeaturesConfig())
    truth = res.truth
    assert set(truth["target"]) == {"escalation", "rereferral"}
    assert truth["p_true"].between(0, 1).all()
    for target, group in truth.groupby("target"):
        realised = _realised(res.tables, group)
        p = group["p_true"].to_numpy()
        se = np.sqrt(np.sum(p * (1 - p))) / len(p) + 1e-9
        gap = realised.mean() - p.mean()
        assert abs(gap) < 3.5 * se + 0.01, (target, realised.mean(), p.mean(), se)
        # and the probabilities discriminate: realised positives had higher p
        if 0 < realised.sum() < len(realised):
            assert p[realised].mean() > p[~realised].mean()


def test_escalation_truth_rises_with_need(small):
    esc = small.truth[small.truth.target == "escalation"]
    high = esc[esc.need >= 1]["p_true"].mean()  # eligible families: few children above 2
    low = esc[esc.need == 0]["p_true"].mean()
    assert high > low


def _referral_ratio(bias: float) -> float:
    cfg = SimulationConfig(
        children=8000, years=3, burn_in_years=1, truth_sample=0, detection_bias=bias, seed=3
    )
    t = run(cfg).tables
    from stratify.features.codes import ETHNIC_GROUP

    persons = t["persons"][t["persons"].is_child].copy()
    persons["group"] = persons["ethnicity"].map(ETHNIC_GROUP)
    n_ref = t["referrals"].groupby("person_id").size()
    persons["refs"] = persons["person_id"].map(n_ref).fillna(0)
    rate = persons.groupby("group")["refs"].mean()
    return float(rate["Black"] / rate["Asian"])


def test_detection_bias_parameter_changes_who_is_referred():
    """With bias 0 agencies see Black and Asian families' need alike; with bias 1 they do not."""
    unbiased, biased = _referral_ratio(0.0), _referral_ratio(1.0)
    # exp(0.25 - (-0.30)) = 1.73 is the detection ratio the default parameters build in
    assert biased > unbiased * 1.3


def test_simulated_extract_passes_every_load_rule(tmp_path):
    """The extract is in the council shape: the loader finds nothing wrong with it."""
    from stratify.features.simulate import simulate
    from stratify.features.warehouse.ingest import load_extract

    cfg = SimulationConfig(children=2500, years=3, burn_in_years=2, truth_sample=10,
                           truth_replicates=10, seed=4)  # fmt: skip
    simulate(cfg, tmp_path / "sim")
    result = load_extract(tmp_path / "sim" / "extract", tmp_path / "warehouse.duckdb")
    assert result.row_counts["referrals"] > 300
    assert result.extract_date == dt.date(2025, 3, 31)
    truth = pd.read_parquet(tmp_path / "sim" / "truth" / "decision_points.parquet")
    assert set(truth["target"]) == {"escalation", "rereferral"}
    need = pd.read_parquet(tmp_path / "sim" / "truth" / "need.parquet")
    assert need["need"].ge(0).all() and len(need) > 2500 * 50
