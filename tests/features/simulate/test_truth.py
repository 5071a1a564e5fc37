"""The ground-truth sample: only the test window, only families eligible for outreach.

The borough is small and the sample asked for is larger than the window holds, so every
eligible decision point is sampled: the tests check both that each sampled point is
eligible and that no eligible point was missed, each against a plain re-statement of
the rule (loops over the simulator's state at the snapshot, or over the extract).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratify.features.config import SimulationConfig
from stratify.features.simulate import run
from stratify.features.simulate.truth import TruthSampler

# 4,000 children over 3 years ending 31 March 2025: label windows are complete for
# decision points dated up to 31 March 2024, so the 12-month window is 2023-04-01 to
# 2024-03-31 (training's test window for test_months 12).
ALL = SimulationConfig(
    children=4000, years=3, burn_in_years=1, truth_sample=100_000, truth_replicates=10, seed=11
)
WINDOW = (dt.date(2023, 4, 1), dt.date(2024, 3, 31))
SNAPSHOTS = [dt.date(2023, 4, 1), dt.date(2023, 7, 1), dt.date(2023, 10, 1), dt.date(2024, 1, 1)]


@pytest.fixture(scope="module")
def sampled():
    """Run the borough, keeping a copy of the people's state at each escalation snapshot."""
    states: dict[int, dict[str, np.ndarray]] = {}
    original = TruthSampler.before_step

    def spy(self, w, month_index):
        if month_index in self._snapshots(w):
            cols = ("st", "hh", "active", "role", "birth_m", "last_contact")
            states[int(w.month_day[month_index])] = {c: w.persons[c].copy() for c in cols}
        original(self, w, month_index)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TruthSampler, "before_step", spy)
        result = run(ALL)
    truth = result.truth.assign(
        as_of=pd.to_datetime(result.truth["as_of_day"], unit="D").dt.date,
        person_id=[f"P{n:08d}" for n in result.truth["person_number"]],
    )
    return result, truth, states


def _month(day: int) -> int:
    """Months since April 2021 (the simulation's month 0) of a day number."""
    d = np.datetime64(day, "D").astype("datetime64[M]").astype(int)
    return int(d - np.datetime64("2021-04", "M").astype(int))


def test_window_is_the_last_complete_label_windows():
    # 48 months simulated, the first 12 burn-in: decision points in months 24..35 have a
    # complete 12-month label window (month 47 ends on the extract date)
    assert TruthSampler.window_of(12, 48, horizon=12, window_months=12) == range(24, 36)
    assert TruthSampler.window_of(12, 48, horizon=12, window_months=6) == range(30, 36)
    # never into the burn-in
    assert TruthSampler.window_of(12, 30, horizon=12, window_months=12) == range(12, 18)


def test_the_window_defaults_to_trainings_test_window():
    from stratify.features.config import TrainingConfig, load_config

    shipped = load_config(Path(__file__).parents[3] / "config" / "stratify.yaml")
    for cfg in (SimulationConfig(), shipped.simulation):
        assert cfg.truth_window_months == TrainingConfig().test_months == 12
    assert shipped.simulation == SimulationConfig()


def test_points_are_dated_only_in_the_window(sampled):
    _, truth, _ = sampled
    assert set(truth["target"]) == {"escalation", "rereferral"}
    assert truth["as_of"].between(*WINDOW).all()
    esc = truth[truth["target"] == "escalation"]
    assert sorted(esc["as_of"].unique()) == SNAPSHOTS


def test_a_shorter_window_moves_its_start_not_its_end():
    truth = run(ALL.model_copy(update={"truth_window_months": 6, "truth_sample": 40})).truth
    as_of = pd.to_datetime(truth["as_of_day"], unit="D").dt.date
    assert as_of.between(dt.date(2023, 10, 1), WINDOW[1]).all()
    snapshots = set(as_of[truth["target"] == "escalation"])
    assert snapshots == {dt.date(2023, 10, 1), dt.date(2024, 1, 1)}


def test_escalation_points_are_exactly_the_eligible_cohort(sampled):
    """Re-derive each snapshot's cohort with loops over the state the sampler saw."""
    _, truth, states = sampled
    esc = truth[truth["target"] == "escalation"]
    for day, s in states.items():
        month = _month(day)
        open_homes = {
            int(s["hh"][i]) for i in range(len(s["st"])) if s["active"][i] and s["st"][i] != 0
        }
        cohort = {
            i
            for i in range(len(s["st"]))
            if s["active"][i]
            and s["role"][i] == 0
            and 1 <= month - s["birth_m"][i] < 216
            and s["last_contact"][i] >= month - 24
            and int(s["hh"][i]) not in open_homes
        }
        got = esc.loc[esc["as_of_day"] == day]
        assert set(got["person_number"]) == cohort, day
        assert got["weight"].eq(1.0).all()  # everyone sampled: each stands for itself


def _open_on(tables: dict[str, pd.DataFrame], person: str, day: pd.Timestamp) -> bool:
    """Whether ``person`` has a referral, CIN or CP plan or care episode open on ``day``."""
    spans = [
        ("referrals", "referral_date", "closure_date"),
        ("cin_plans", "start_date", "end_date"),
        ("cp_plans", "start_date", "end_date"),
        ("looked_after", "start_date", "end_date"),
    ]
    for name, start, end in spans:
        t = tables[name]
        t = t[t["person_id"] == person]
        if ((t[start] < day) & (t[end].isna() | (t[end] > day))).any():
            return True
    return False


def _eligible_closure(tables: dict[str, pd.DataFrame], person: str, day: pd.Timestamp) -> bool:
    m = tables["household_members"]
    home = m[
        (m["person_id"] == person)
        & (m["start_date"] < day)
        & (m["end_date"].isna() | (m["end_date"] >= day))
    ]["household_id"]
    living = m[
        m["household_id"].isin(home)
        & (m["start_date"] < day)
        & (m["end_date"].isna() | (m["end_date"] >= day))
    ]["person_id"]
    people = set(living) | {person}
    return not any(_open_on(tables, p, day) for p in people)


def test_rereferral_points_are_exactly_the_eligible_closures(sampled):
    """Against the extract: every RC7-RC9 closure in the window whose family is eligible."""
    result, truth, _ = sampled
    t = result.tables
    r = t["referrals"]
    closed = r[
        r["closure_reason"].isin(["RC7", "RC8", "RC9"])
        & r["closure_date"].between(pd.Timestamp(WINDOW[0]), pd.Timestamp(WINDOW[1]))
    ]
    expected = {
        (row.person_id, row.closure_date.date())
        for row in closed.itertuples()
        if _eligible_closure(t, row.person_id, row.closure_date)
    }
    reref = truth[truth["target"] == "rereferral"]
    got = set(zip(reref["person_id"], reref["as_of"], strict=True))
    assert got == expected
    assert len(expected) < len(closed)  # some closures were of ineligible families
    assert reref["weight"].eq(1.0).all()


def test_escalation_is_a_sample_when_the_cohort_is_larger(sampled):
    result, truth, _ = sampled
    cohort = truth[truth["target"] == "escalation"].groupby("as_of_day").size()
    small = run(ALL.model_copy(update={"truth_sample": 200})).truth
    esc = small[small["target"] == "escalation"]
    per_date = esc.groupby("as_of_day")
    assert (per_date.size() == 50).all()
    # each point stands for the eligible points of its date it was drawn from
    assert np.allclose(per_date["weight"].first(), cohort / 50)
    assert set(esc["person_number"]) <= set(truth["person_number"])
    assert (small["replicates"] == 10).all()


def test_replicates_per_target():
    data = {**ALL.model_dump(), "truth_sample": 40}
    data["truth_replicates"] = {"escalation": 20, "rereferral": 10}
    truth = run(SimulationConfig(**data)).truth
    assert truth.groupby("target")["replicates"].unique().map(list).to_dict() == {
        "escalation": [20],
        "rereferral": [10],
    }
