"""A continued quarter is the quarter one uninterrupted run of the borough has.

A borough of 2,500 children is simulated to 31 March 2025 and continued by three
months; the same borough (same seed, same first month) is also simulated in one run to
31 March 2026. What the continuation wrote about April to June 2025 must be what the
longer run wrote, and every figure of the quarter's realism check must be equal: all the
state a month depends on (households' adversity, frailty, ``protected``, plans and their
review months, the random streams) is carried through the saved state. Only what
happens after 30 June differs: the longer run knows later end dates.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from stratify.features.config import SimulationConfig
from stratify.features.simulate import continue_simulation, simulate
from stratify.features.simulate.realism_period import recent_figures

FIRST = SimulationConfig(children=2500, years=3, burn_in_years=1, truth_sample=0, seed=11)
#: the same borough run on to the next census date: same first month (April 2021)
LONGER = SimulationConfig.model_validate(
    {**dict(FIRST), "years": 4, "end_date": dt.date(2026, 3, 31)}
)
QUARTER_END = dt.date(2025, 6, 30)
#: table -> its start date and the columns known when a row starts
STARTED = {
    "referrals": ("referral_date", ["referral_id", "person_id", "referral_date", "source"]),
    "assessments": ("start_date", ["assessment_id", "referral_id", "person_id", "start_date"]),
    "cp_plans": ("start_date", ["plan_id", "person_id", "start_date", "initial_category"]),
    "looked_after": ("start_date", ["person_id", "start_date"]),
}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    root: Path = tmp_path_factory.mktemp("longer")
    simulate(FIRST, root / "sim")
    continued = continue_simulation(root / "sim", 3, root / "continued")
    longer = simulate(LONGER, root / "longer")
    return continued.tables, longer.tables


def _quarter(tables: dict, name: str) -> pd.DataFrame:
    column, kept = STARTED[name]
    frame = tables[name]
    day = pd.to_datetime(frame[column])
    rows = frame[(day >= "2025-04-01") & (day <= pd.Timestamp(QUARTER_END))]
    return rows[kept].reset_index(drop=True)


@pytest.mark.parametrize("name", sorted(STARTED))
def test_the_quarters_records_are_the_longer_runs(both, name):
    continued, longer = both
    mine, theirs = _quarter(continued, name), _quarter(longer, name)
    assert len(mine) > 0 or name == "looked_after"
    pd.testing.assert_frame_equal(mine, theirs)


def test_the_quarters_figures_are_the_longer_runs(both):
    continued, longer = both
    mine = recent_figures(continued, QUARTER_END, 3).iloc[:, 0]
    theirs = recent_figures(longer, QUARTER_END, 3).iloc[:, 0]
    assert mine["n_referrals"] > 0
    pd.testing.assert_series_equal(mine, theirs)
