"""The list's ranking, by hand: family scores, capacity, ties, eligibility, thresholds."""

import numpy as np
import pandas as pd
import pytest

from stratify.features.config import Capacity
from stratify.features.listing import (
    ERR_THRESHOLD,
    family_frame,
    family_of,
    listed_children,
    select,
    threshold_for_share,
)

# Two quarters; family A has two children in 2023Q1 and one in 2023Q2; C has two.
CAP = pd.DataFrame(
    {
        "date": ["2023Q1"] * 6 + ["2023Q2"] * 4,
        "family": ["A", "A", "B", "C", "C", "D", "A", "B", "E", "F"],
        "score": [0.9, 0.2, 0.8, 0.5, 0.4, 0.1, 0.3, 0.6, 0.7, 0.05],
        "eligible": True,
    }
)


def _listed(children, capacity, **kw):
    fam = family_frame(children)
    return listed_children(children, fam, select(fam, capacity, **kw))


def test_k_families_a_date_by_their_highest_child():
    fam = family_frame(CAP)
    # 2023Q1 family scores A .9, B .8, C .5, D .1; 2023Q2: E .7, B .6, A .3, F .05
    assert fam["family"].tolist() == ["A", "B", "C", "D", "E", "B", "A", "F"]
    assert fam["family_score"].tolist() == [0.9, 0.8, 0.5, 0.1, 0.7, 0.6, 0.3, 0.05]
    assert fam["children"].tolist() == [2, 1, 2, 1, 1, 1, 1, 1]
    listed = _listed(CAP, Capacity(families_per_quarter=2))
    # A (both children) and B, then E and B: A's 2023Q2 row is not on that list
    assert np.flatnonzero(listed).tolist() == [0, 1, 2, 7, 8]
    # fewer families than K: all of them
    assert _listed(CAP, Capacity(families_per_quarter=50)).all()


def test_ineligible_children_neither_list_nor_lift_their_family():
    children = CAP.assign(eligible=[True] * 9 + [False])
    children.loc[9, "score"] = 0.99  # F's only child is ineligible with the top score
    listed = _listed(children, Capacity(families_per_quarter=2))
    assert np.flatnonzero(listed).tolist() == [0, 1, 2, 7, 8]
    assert "F" not in set(family_frame(children)["family"])


def test_ties_are_broken_by_the_family_pseudonym_whatever_the_row_order():
    frame = pd.DataFrame(
        {
            "date": "2024Q1",
            "family": ["e", "b", "d", "a", "c", "f", "f"],
            "score": [0.5, 0.5, 0.5, 0.5, 0.5, 0.1, 0.9],
            "eligible": True,
        }
    )
    fam = family_frame(frame)
    on = set(fam.loc[select(fam, Capacity(families_per_quarter=2)), "family"])
    assert on == {"f", "a"}
    shuffled = frame.sample(frac=1.0, random_state=3)
    fam2 = family_frame(shuffled)
    assert set(fam2.loc[select(fam2, Capacity(families_per_quarter=2)), "family"]) == on


def test_capacity_per_locality():
    frame = CAP.assign(locality=["N", "N", "S", "S", "S", "N", "N", "S", "N", "S"])
    fam = family_frame(frame)
    chosen = fam.loc[select(fam, Capacity(per_locality={"N": 1, "S": 2})), ["date", "family"]]
    # 2023Q1: N has A .9, D .1 -> A; S has B .8, C .5 -> both
    # 2023Q2: N has E .7, A .3 -> E; S has B .6, F .05 -> both
    assert sorted(map(tuple, chosen.to_numpy().tolist())) == [
        ("2023Q1", "A"), ("2023Q1", "B"), ("2023Q1", "C"),
        ("2023Q2", "B"), ("2023Q2", "E"), ("2023Q2", "F"),
    ]  # fmt: skip
    # a locality the capacity does not name gets nobody
    fam_n = fam.loc[select(fam, Capacity(per_locality={"N": 5})), "locality"]
    assert set(fam_n) == {"N"}
    assert Capacity(per_locality={"N": 1, "S": 2}).for_locality(None) == 3


def test_threshold_selects_the_share_fixed_on_another_slice():
    scores = np.arange(25, dtype=float)
    # 0.28 * 25 is 7.000000000000001 in floating point: the 7th highest score, 18
    assert threshold_for_share(scores, 0.28) == 18.0
    # ceil(0.3 * 25 = 7.5) = 8: the 8th highest, 17
    assert threshold_for_share(scores, 0.3) == 17.0
    assert threshold_for_share(scores, 0.01) == 24.0
    later = pd.DataFrame({"date": "d", "family": list("abc"), "score": [16.0, 17.0, 30.0],
                          "eligible": True})  # fmt: skip
    fam = family_frame(later)
    assert fam.loc[select(fam, Capacity(top_share=0.3), threshold=17.0), "family"].tolist() == [
        "c",
        "b",
    ]
    with pytest.raises(ValueError, match=ERR_THRESHOLD):
        select(fam, Capacity(top_share=0.3))


def test_a_child_without_a_household_is_a_family_of_one():
    got = family_of(pd.Series(["h1", None, None]), pd.Series(["p1", "p2", "p3"]))
    assert got.tolist() == ["h1", "person:p2", "person:p3"]
