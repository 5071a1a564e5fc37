"""The step-down backtest: per month, listed and not-listed families and their re-referrals.

Hand-worked (threshold 0.5, no suppression):

=====  ======  =====================================  ======  =======
month  family  closures (score, re-referred)          listed  outcome
=====  ======  =====================================  ======  =======
09     F1      3 Sep (0.8, no), 20 Sep (0.1, yes)      yes     yes
09     F2      5 Sep (0.6, no)                         yes     no
09     F3      7 Sep (0.3, yes)                        no      yes
09     F4      9 Sep (0.2, no)                         no      no
10     F1      2 Oct (0.9, yes)                        yes     yes
10     F5      4 Oct (0.1, no)                         no      no
=====  ======  =====================================  ======  =======

September: 1 of 2 listed and 1 of 2 not listed re-referred; October: 1 of 1 and 0 of 1.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from stratify.core.text import SUPPRESSED
from stratify.features.config import Capacity
from stratify.training.operating import make_lists, monthly_backtest, wilson

D = dt.date
SHARE = Capacity(top_share=0.2)


def _lists(rows: list[tuple[dt.date, str, float, int]], threshold: float = 0.5):
    children = pd.DataFrame(
        {"date": [r[0] for r in rows], "family": [r[1] for r in rows], "eligible": True,
         "label": [r[3] for r in rows]}
    )  # fmt: skip
    scores = {"lightgbm": np.array([r[2] for r in rows])}
    return make_lists(children, scores, SHARE, {"lightgbm": threshold})


def _wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


HAND = [
    (D(2023, 9, 3), "F1", 0.8, 0), (D(2023, 9, 20), "F1", 0.1, 1),
    (D(2023, 9, 5), "F2", 0.6, 0), (D(2023, 9, 7), "F3", 0.3, 1),
    (D(2023, 9, 9), "F4", 0.2, 0), (D(2023, 10, 2), "F1", 0.9, 1),
    (D(2023, 10, 4), "F5", 0.1, 0),
]  # fmt: skip


def test_hand_worked_months() -> None:
    rows = monthly_backtest(_lists(HAND), min_count=1)
    got = [(r.month, r.listed, r.listed_with_outcome, r.not_listed, r.not_listed_with_outcome)
           for r in rows]  # fmt: skip
    assert got == [("2023-09", 2, 1, 2, 1), ("2023-10", 1, 1, 1, 0)]
    sep = rows[0].listed_rate
    assert sep is not None and sep[0] == 0.5
    assert np.allclose(sep[1:], _wilson_by_hand(1, 2))
    assert rows[1].not_listed_rate is not None and rows[1].not_listed_rate[0] == 0.0


def test_small_cells_are_suppressed_with_their_rates() -> None:
    rows = monthly_backtest(_lists(HAND), min_count=2)
    assert rows[0].listed == 2 and rows[0].listed_with_outcome == SUPPRESSED
    assert rows[0].listed_rate is None
    assert rows[1].listed == SUPPRESSED and rows[1].not_listed_with_outcome == 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 89), st.integers(0, 6), st.floats(0, 1), st.integers(0, 1)),
        min_size=1, max_size=40,
    )
)  # fmt: skip
def test_matches_plain_loops(raw: list[tuple[int, int, float, int]]) -> None:
    rows = [(D(2023, 8, 1) + dt.timedelta(days=d), f"F{f}", s, y) for d, f, s, y in raw]
    got = {r.month: r for r in monthly_backtest(_lists(rows), min_count=1)}
    listed: dict[tuple[str, str], bool] = {}
    outcome: dict[tuple[str, str], bool] = {}
    for day, fam, score, y in rows:
        key = (day.strftime("%Y-%m"), fam)
        listed[key] = listed.get(key, False) or score >= 0.5
        outcome[key] = outcome.get(key, False) or bool(y)
    for month in {k[0] for k in listed}:
        keys = [k for k in listed if k[0] == month]
        on = [k for k in keys if listed[k]]
        off = [k for k in keys if not listed[k]]
        row = got[month]
        assert (row.listed, row.not_listed) == (len(on), len(off))
        assert row.listed_with_outcome == sum(outcome[k] for k in on)
        assert row.not_listed_with_outcome == sum(outcome[k] for k in off)
        if off:
            k = sum(outcome[x] for x in off)
            assert row.not_listed_rate is not None
            assert np.allclose(row.not_listed_rate[1:], _wilson_by_hand(k, len(off)))


def test_wilson_of_nothing_is_none() -> None:
    assert wilson(0, 0) is None
    share, low, high = wilson(3, 10)  # type: ignore[misc]
    assert share == 0.3 and low < 0.3 < high
