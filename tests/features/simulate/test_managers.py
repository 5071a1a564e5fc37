"""Simulated managers' decisions, and the borough's response to help taken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratify.features.config import ManagersConfig, SimulationConfig
from stratify.features.decisions.codes import (
    DECLINED,
    ELSEWHERE,
    NO_CAPACITY,
    NOT_APPROPRIATE,
    TAKEN,
)
from stratify.features.simulate import continue_simulation, simulate
from stratify.features.simulate.managers import simulate_decisions
from stratify.features.simulate.records import source_ids
from stratify.features.simulate.response import HOUSEHOLD_NAMESPACE, open_help
from stratify.features.warehouse.pseudonymise import SYNTHETIC_DEMO_KEY, pseudonymise


def _list(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    fams = pd.DataFrame({"rank": range(1, n + 1), "family": [f"f{i}" for i in range(1, n + 1)]})
    kids = pd.DataFrame({"family": fams["family"], "child": [f"c{i}" for i in range(1, n + 1)],
                         "imd_quintile": [1] * (n // 2) + [5] * (n - n // 2)})  # fmt: skip
    return fams, kids


def test_rules_by_hand() -> None:
    """Six families, f2 already supported; no set-aside, no decline, capacity half (3).

    f1 taken, f2 elsewhere, f3 and f4 taken (capacity used up), f5 and f6 no capacity.
    """
    fams, kids = _list(6)
    policy = ManagersConfig(contact_share=0.5, set_aside_rate=0.0, decline_rate=0.0)
    got = [d for _, d, _ in simulate_decisions(fams, kids, {"c2"}, policy)]
    assert got == [TAKEN, ELSEWHERE, TAKEN, TAKEN, NO_CAPACITY, NO_CAPACITY]
    everyone_declines = ManagersConfig(contact_share=1.0, set_aside_rate=0.0, decline_rate=1.0)
    assert {d for _, d, _ in simulate_decisions(fams, kids, set(), everyone_declines)} == {DECLINED}


def test_set_aside_more_for_the_named_group() -> None:
    fams, kids = _list(4000)
    policy = ManagersConfig(set_aside_rate=0.1, set_aside_more={"imd_quintile=1": 3.0})
    got = dict((f, d) for f, d, _ in simulate_decisions(fams, kids, set(), policy))
    q1 = set(kids.loc[kids["imd_quintile"] == 1, "family"])
    aside_q1 = np.mean([got[f] == NOT_APPROPRIATE for f in q1])
    aside_q5 = np.mean([got[f] == NOT_APPROPRIATE for f in kids["family"] if f not in q1])
    assert aside_q1 == pytest.approx(0.3, abs=0.03) and aside_q5 == pytest.approx(0.1, abs=0.02)
    with pytest.raises(ValueError, match="dimension=group"):
        simulate_decisions(fams, kids, set(), ManagersConfig(set_aside_more={"imd": 2.0}))


def test_help_taken_opens_early_help_in_the_next_month(tmp_path: Path) -> None:
    cfg = SimulationConfig(children=2000, years=2, burn_in_years=1, truth_sample=50,
                           truth_replicates=10, seed=3)  # fmt: skip
    simulate(cfg, tmp_path / "sim")
    first = pd.read_csv(tmp_path / "sim" / "extract" / "early_help.csv")
    members = pd.read_csv(tmp_path / "sim" / "extract" / "household_members.csv")
    open_now = set(first.loc[first["end_date"].isna(), "household_id"])
    current = members.loc[members["end_date"].isna() & (members["role"] == "child")]
    chosen = sorted(set(current["household_id"]) - open_now)[:5]
    idx = np.array([int(h[1:]) for h in chosen])
    assert list(source_ids("H", idx)) == chosen
    pseudonyms = list(pseudonymise(pd.Series(chosen, dtype="string"), HOUSEHOLD_NAMESPACE,
                                   SYNTHETIC_DEMO_KEY))  # fmt: skip
    hook = open_help(pseudonyms, SYNTHETIC_DEMO_KEY)
    out = continue_simulation(tmp_path / "sim", 1, tmp_path / "next", before_new_months=hook)
    after = pd.read_csv(tmp_path / "next" / "extract" / "early_help.csv")
    new = after.iloc[len(first) :]
    month = str(out.extract_date)[:7]
    started = new.loc[new["start_date"].astype(str).str.startswith(month)]
    for household in chosen:
        kids = set(current.loc[current["household_id"] == household, "person_id"])
        got = started.loc[started["household_id"] == household]
        assert set(got["person_id"]) == kids, household
