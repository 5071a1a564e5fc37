"""Decision rates by group against plain loops, and the share of touched training labels."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stratify.core.text import SUPPRESSED
from stratify.features.decisions.codes import CONTACTED, DECISIONS, NOT_APPROPRIATE
from stratify.training.followup import largest_disparity, rates_by_group, touched_share
from stratify.training.metrics.bootstrap import family_codes, percentile_ci, resample_weights

TAKEN, DECLINED, ELSEWHERE, SET_ASIDE, NO_CAPACITY = DECISIONS


def hand_frame() -> pd.DataFrame:
    """12 families, 24 children: group A's 12 children in 6 families, B's likewise.

    A's families: taken x3, declined x1, not appropriate x2 -> contacted 8/12 children,
    not appropriate 4/12. B's: taken x1, elsewhere x1, not appropriate x4 -> contacted
    2/12, not appropriate 8/12. Difference for B: 8/12 - 4/12 = 1/3.
    """
    a = [TAKEN, TAKEN, TAKEN, DECLINED, SET_ASIDE, SET_ASIDE]
    b = [TAKEN, ELSEWHERE, SET_ASIDE, SET_ASIDE, SET_ASIDE, SET_ASIDE]
    rows = []
    for group, decisions in (("A", a), ("B", b)):
        for i, d in enumerate(decisions):
            for child in range(2):
                rows.append({"family": f"{group}{i}", "child": f"{group}{i}-{child}",
                             "decision": d, "ethnic_group": group})  # fmt: skip
    return pd.DataFrame(rows)


def test_hand_worked_rates() -> None:
    t = rates_by_group(hand_frame(), ["ethnic_group"], n_boot=200, min_people=10)
    t = t.set_index("group")
    assert t.loc["A", "contacted"] == pytest.approx(8 / 12)
    assert t.loc["B", "contacted"] == pytest.approx(2 / 12)
    assert t.loc["A", "not_appropriate"] == pytest.approx(4 / 12)
    assert t.loc["B", "not_appropriate"] == pytest.approx(8 / 12)
    assert t.loc["B", "difference"] == pytest.approx(1 / 3)
    assert t.loc["Overall", "not_appropriate"] == pytest.approx(12 / 24)
    assert t.loc["B", "families"] == 6 and t.loc["B", "children"] == 12
    assert largest_disparity(t.reset_index())["group"] == "B"


def _loops(frame: pd.DataFrame, dim: str, group: str) -> tuple[float, float, float]:
    """Contacted and not-appropriate shares of a group, and its difference from the rest."""
    n = c = a = rest_n = rest_a = 0
    for row in frame.itertuples():
        if str(getattr(row, dim)) == group:
            n += 1
            c += row.decision in CONTACTED
            a += row.decision == NOT_APPROPRIATE
        else:
            rest_n += 1
            rest_a += row.decision == NOT_APPROPRIATE
    return c / n, a / n, a / n - (rest_a / rest_n if rest_n else float("nan"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rates_equal_plain_loops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    fams = rng.integers(0, 40, 120)
    fam_decision = rng.choice(DECISIONS, 40, p=[0.3, 0.1, 0.2, 0.25, 0.15])
    frame = pd.DataFrame({"family": [f"f{i}" for i in fams],
                          "decision": fam_decision[fams],
                          "sex": rng.choice(["F", "M"], 120),
                          "imd_quintile": rng.integers(1, 6, 120)})  # fmt: skip
    t = rates_by_group(frame, ["sex", "imd_quintile"], n_boot=100, seed=seed, min_people=1)
    for row in t.loc[t["dimension"] != "Overall"].itertuples():
        c, a, d = _loops(frame, row.dimension, row.group)
        assert row.contacted == pytest.approx(c)
        assert row.not_appropriate == pytest.approx(a)
        assert row.difference == pytest.approx(d)
    # the interval: the same family replicates, each recomputed one family at a time
    codes, n_fam = family_codes(frame["family"])
    male = (frame["sex"] == "M").to_numpy()
    aside = (frame["decision"] == NOT_APPROPRIATE).to_numpy()
    reps = []
    for w in resample_weights(n_fam, 100, seed):
        for weights in w:
            num = sum(weights[codes[i]] for i in range(len(frame)) if male[i] and aside[i])
            den = sum(weights[codes[i]] for i in range(len(frame)) if male[i])
            reps.append(num / den)
    low, high = percentile_ci(np.array(reps))
    m = t.loc[(t["dimension"] == "sex") & (t["group"] == "M")].iloc[0]
    assert m["not_appropriate_low"] == pytest.approx(low, rel=1e-5)
    assert m["not_appropriate_high"] == pytest.approx(high, rel=1e-5)


def test_small_groups_are_suppressed_with_their_complement() -> None:
    frame = hand_frame()
    frame.loc[frame.index[:3], "ethnic_group"] = "C"  # 3 children: below 10
    t = rates_by_group(frame, ["ethnic_group"], n_boot=50, min_people=10).set_index("group")
    assert t.loc["C", "not_appropriate"] == SUPPRESSED and not t.loc["C", "flagged"]
    # A (9 children left) is below 10 as well; B is shown
    assert t.loc["A", "children"] == SUPPRESSED
    assert t.loc["B", "children"] == 12


def test_a_clear_disparity_is_flagged() -> None:
    copies = []
    for k in range(5):
        one = hand_frame()
        copies.append(one.assign(family=one["family"] + f"-{k}", child=one["child"] + f"-{k}"))
    frame = pd.concat(copies, ignore_index=True)
    t = rates_by_group(frame, ["ethnic_group"], n_boot=300, min_people=10).set_index("group")
    assert bool(t.loc["B", "flagged"]) and not bool(t.loc["A", "flagged"])
    assert t.loc["B", "difference_low"] > 0


def test_touched_share_by_hand() -> None:
    """Four points; family h1 contacted from a list of 2024-04-01.

    p1 (h1, 2024-01-01): window to 2025-01-01 holds the list -> touched.
    p2 (h1, 2023-01-01): window ends 2024-01-01, before the list -> not.
    p3 (h1, 2024-04-01): the list's own date is in [d, d+12m) -> touched.
    p4 (h2, 2024-01-01): another family -> not.  Share 2/4.
    """
    points = pd.DataFrame({
        "person_id": ["c1", "c1", "c2", "c3"], "household_id": ["h1", "h1", "h1", "h2"],
        "as_of_date": [dt.date(2024, 1, 1), dt.date(2023, 1, 1), dt.date(2024, 4, 1),
                       dt.date(2024, 1, 1)],
    })  # fmt: skip
    contacted = pd.DataFrame({"list_id": ["L"], "as_of": [dt.date(2024, 4, 1)], "family": ["h1"]})
    touch = touched_share(points, contacted, 12, recorded=True)
    assert (touch.points, touch.touched, touch.share) == (4, 2, 0.5)
    assert "2 of 4 training decision points (50.00%)" in touch.sentence()
    none = touched_share(points, contacted.iloc[:0], 12, recorded=False)
    assert none.touched == 0 and "No outreach list decisions" in none.sentence()
