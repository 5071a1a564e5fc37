"""Scenarios change the world from a continuation's first month; a neutral one stays realistic.

One borough of 20,000 children (large enough for a quarter's figures to mean something,
and quick without ground truth) is continued by a quarter three times from the same
state: neutral, and police referring twice and four times as often. The mechanisms
are tested where they act, on the saved end state with the same random draws: the
police's referral hazard, early help starts by locality.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stratify.features.codes import SOURCE_GROUP
from stratify.features.config import ScenarioConfig, SimulationConfig, scenario_preset
from stratify.features.simulate import continue_simulation, detection, early_help, simulate
from stratify.features.simulate.adversity import latent_matrix
from stratify.features.simulate.params import SOURCES
from stratify.features.simulate.pathway import CIN, CP, LAC
from stratify.features.simulate.realism_period import (
    realism_with_chance,
    recent_figures,
    standard_error,
)
from stratify.features.simulate.records import LOCALITIES
from stratify.features.simulate.scenario import NEUTRAL, Timeline
from stratify.features.simulate.state import load_state
from tests.features.simulate.test_continuation import assert_past_unchanged
from tests.features.simulate.test_realism import _tiny

BOROUGH = SimulationConfig(children=20_000, years=1, burn_in_years=3, truth_sample=0, seed=11)
NEW = pd.Timestamp("2025-04-01")
EARLY_HELP_NORTH = scenario_preset("new-early-help-north")
SCENARIOS = {
    "none": scenario_preset("none"),
    "police-doubling": scenario_preset("police-doubling"),
    "police-x4": ScenarioConfig(police_referral_rate=4.0),
}


@pytest.fixture(scope="module")
def quarters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The continued extract's tables, per scenario (and ``_root``: the folder of all)."""
    root = tmp_path_factory.mktemp("scenarios")
    simulate(BOROUGH, root / "sim")
    out: dict[str, Any] = {"_root": root}
    for name, scenario in SCENARIOS.items():
        result = continue_simulation(root / "sim", 3, root / name, scenario=scenario)
        out[name] = result.tables
    assert_past_unchanged(root / "sim" / "extract", root / "police-x4" / "extract")
    return out


def _new_referrals(tables: dict[str, pd.DataFrame]) -> pd.Series:
    refs = tables["referrals"]
    new = refs[refs["referral_date"] >= NEW]
    return new["source"].map(SOURCE_GROUP).value_counts()


def test_police_doubling_raises_police_referrals(quarters):
    """A quarter of a borough: the police's referrals rise, the others' hardly move.

    Fewer than twice as many: children the police now refer are partly those another
    agency would have referred, and a child already open is not referred again.
    """
    neutral, doubled = _new_referrals(quarters["none"]), _new_referrals(quarters["police-doubling"])
    assert doubled["police"] / neutral["police"] > 1.4
    others = neutral.drop("police").sum()
    assert 0.75 < doubled.drop("police").sum() / others < 1.1


def _hazards(world, scenario: ScenarioConfig, month: int, monkeypatch) -> list[np.ndarray]:
    """The referral hazards (household, then child) drawn from in ``month``."""
    world.scenario = Timeline().then(48, scenario)  # in force from the first new month
    kids = world.children()
    drawn: list[np.ndarray] = []

    def spy(rng: np.random.Generator, hazard: np.ndarray) -> np.ndarray:
        drawn.append(hazard.copy())
        return np.full(len(hazard), -1)

    monkeypatch.setattr(detection, "_draw", spy)
    detection.referral_sources(world, kids, latent_matrix(world, kids), month)
    return drawn


def test_police_doubling_doubles_the_polices_referral_hazard(quarters, monkeypatch):
    """Every family's police hazard doubles from the first new month; no other changes."""
    w = load_state(quarters["_root"] / "sim", 3).world
    police = SOURCES.index("police")
    neutral = _hazards(w, ScenarioConfig(), 48, monkeypatch)
    doubled = _hazards(w, ScenarioConfig(police_referral_rate=2.0), 48, monkeypatch)
    before = _hazards(w, ScenarioConfig(police_referral_rate=2.0), 47, monkeypatch)
    for plain, twice in zip(neutral, doubled, strict=True):
        assert plain[:, police].sum() > 0
        np.testing.assert_array_equal(twice[:, police], 2 * plain[:, police])
        np.testing.assert_array_equal(np.delete(twice, police, 1), np.delete(plain, police, 1))
    for plain, earlier in zip(_hazards(w, ScenarioConfig(), 47, monkeypatch), before, strict=True):
        np.testing.assert_array_equal(earlier, plain)


def _early_help_starts(world, scenario: ScenarioConfig, seed: int, monkeypatch) -> np.ndarray:
    """Households that early help opens for in the first new month, from one random draw."""
    world.scenario = Timeline().then(48, scenario)
    started: list[np.ndarray] = []
    monkeypatch.setattr(early_help, "start_early_help", lambda w, hh, *a, **k: started.append(hh))
    kids = world.children()
    open_statutory = np.isin(world.persons["st"][kids], (CIN, CP, LAC))
    world.rng = np.random.default_rng(seed)
    early_help.early_help_step(world, 48, kids, open_statutory)
    return started[-1]


def test_a_new_early_help_service_doubles_uptake_in_its_locality(quarters, monkeypatch):
    """From the same state and draws: North's early help starts double, nowhere else moves.

    Each household starts with chance rate (about 1 % a month), so doubling the rate
    doubles the starts (80 draws of about 7 North households each: 2 +- 0.25).
    """
    state = load_state(quarters["_root"] / "sim", 3)
    w = state.world
    w.rec = None  # the step ends due episodes in the records: leave them alone
    persons, households = w.persons, w.households
    locality = w.lsoa["locality"]
    north = {"neutral": 0, "service": 0}
    for seed in range(80):
        starts = {}
        for name, scenario in (("neutral", NEUTRAL), ("service", EARLY_HELP_NORTH)):
            w.persons, w.households = persons.head(len(persons)), households.head(len(households))
            starts[name] = _early_help_starts(w, scenario, seed, monkeypatch)
        where = {k: locality[households["lsoa"][v]] for k, v in starts.items()}
        for k in ("Central", "South"):
            i = LOCALITIES.index(k)
            assert set(starts["neutral"][where["neutral"] == i]) == set(
                starts["service"][where["service"] == i]
            )
        assert set(starts["neutral"]) <= set(starts["service"])
        for k, v in where.items():
            north[k] += int((v == LOCALITIES.index("North")).sum())
    assert north["neutral"] > 400
    assert north["service"] / north["neutral"] == pytest.approx(2.0, abs=0.25)


def test_the_early_help_uptake_by_locality():
    timeline = Timeline().then(10, ScenarioConfig(new_early_help_locality="South"))
    locality = np.array([0, 1, 2, 2])  # North, Central, South, South
    assert timeline.early_help_uptake(9, locality) == 1.0
    assert list(timeline.early_help_uptake(10, locality)) == [1.0, 1.0, 2.0, 2.0]
    assert timeline.then(12, ScenarioConfig()).early_help_uptake(12, locality) == 1.0


def test_a_neutral_quarter_is_realistic(quarters):
    tables = quarters["none"]
    table = realism_with_chance(recent_figures(tables, dt.date(2025, 6, 30), 3))
    failed = table.loc[~table["passed"], ["key", "simulated", "accepted_low", "accepted_high"]]
    assert failed.empty, failed.to_string()


def test_the_quarter_check_can_fail(quarters):
    """Four times the police referrals is far outside the published shape."""
    table = realism_with_chance(recent_figures(quarters["police-x4"], dt.date(2025, 6, 30), 3))
    failed = set(table.loc[~table["passed"], "key"])
    assert {"src_police", "referral_rate"} <= failed


def test_quarter_figures_by_hand():
    """July to September 2024 of the hand-built tables of test_realism.

    Four children on 30 September 2024 (P5 left on 1 June). Referrals in the quarter: R3
    (1 July) and R2 (1 September): 2 / 4 x 10,000, annualised x 4 = 20,000. One enquiry
    (S1): 1 / 4 x 10,000 x 4 = 10,000. No CP plan starts (C1 starts 1 October).
    """
    fig = recent_figures(_tiny(), dt.date(2024, 9, 30), 3).iloc[:, 0]
    assert fig.name == "2024-07-01..2024-09-30"
    assert fig["annualised"] == 4
    assert fig["referral_rate"] == pytest.approx(20_000)
    assert fig["s47_rate"] == pytest.approx(10_000)
    assert fig["cp_start_rate"] == 0
    assert fig["n_referrals"] == 2


def test_standard_errors_by_hand():
    """Published referral rate 520-555 (middle 537.5) for 10,000 children, annualised x 4.

    Events in the quarter: 537.5 / 4 = 134.4; rate error = sqrt(2 x 537.5 x 4), 2 for
    clustering. Police share 28.7 % of 500 referrals: sqrt(2 x 28.7 x 71.3 / 500).
    """
    figures = pd.Series({"children": 10_000, "annualised": 4, "n_referrals": 500})
    assert standard_error("referral_rate", figures) == pytest.approx(math.sqrt(2 * 537.5 * 4))
    assert standard_error("src_police", figures) == pytest.approx(math.sqrt(2 * 28.7 * 71.3 / 500))


def test_scenarios_by_name():
    assert SimulationConfig(scenario="police-doubling").scenario == ScenarioConfig(
        police_referral_rate=2.0
    )
    assert SimulationConfig(scenario="none").scenario.neutral
    with pytest.raises(ValueError, match="unknown scenario 'police'"):
        SimulationConfig(scenario="police")
