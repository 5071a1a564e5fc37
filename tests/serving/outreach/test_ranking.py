"""Ranking on hand-built cohorts: exclusions, ties, reasons for the listed families only.

Five hand-built families whose list can be worked out by hand, and a plain loop that
checks the ranking on random cohorts.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratify.features.config import Capacity
from stratify.serving.outreach.ranking import (
    ERR_CAPACITY,
    build_list,
    family_reasons,
    rank_families,
)
from stratify.serving.reasons import Reason

AS_OF = dt.date(2024, 10, 1)


class FakeScorer:
    """Scores are the records' ``x``; one reason per record; remembers what it explained."""

    version = 7
    columns = ["x"]

    def __init__(self) -> None:
        self.explained: list[str] = []

    def score(self, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        p = records["x"].to_numpy(dtype=float)
        return p, np.ceil(p * 10).astype(int)

    def explain(self, records: pd.DataFrame, top: int = 3) -> list[list[Reason]]:
        self.explained += list(records["person_id"])
        return [[Reason(f"f_{r.person_id}", f"reason of {r.person_id}", r.x)]
                for r in records.itertuples()]  # fmt: skip


def tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Five families: H2 is not eligible (someone in it is open), H3 and H4 tie on 0.7."""
    rows = [  # child, family, score, eligible, locality
        ("a", "H1", 0.9, True, "North"), ("b", "H1", 0.2, True, "North"),
        ("c", "H2", 0.95, False, "North"),
        ("d", "H3", 0.5, True, "North"), ("e", "H3", 0.7, True, "North"),
        ("f", "H4", 0.7, True, "South"),
        ("g", "H5", 0.1, True, "South"),
    ]  # fmt: skip
    features = pd.DataFrame(
        {"person_id": [r[0] for r in rows], "household_id": [r[1] for r in rows],
         "as_of_date": AS_OF, "x": [r[2] for r in rows], "eligible": [r[3] for r in rows]}
    )  # fmt: skip
    audit = pd.DataFrame(
        {"person_id": features["person_id"], "locality": [r[4] for r in rows],
         "age_band": ["5-9"] * len(rows), "sex": ["1", "2", "1", "2", "1", "2", "1"]}
    )  # fmt: skip
    return features, audit


def test_tiny_cohort_ranks_excludes_and_explains_only_the_listed():
    features, audit = tiny()
    scorer = FakeScorer()
    lst = build_list(features, audit, scorer, as_of=AS_OF, capacity=3, dimensions=("sex",))
    assert list(lst.families["family"]) == ["H1", "H3", "H4"]  # H2 excluded; tie by id
    assert list(lst.families["family_score"]) == [0.9, 0.7, 0.7]
    assert list(lst.families["children"]) == [2, 2, 1]
    assert (lst.excluded_families, lst.excluded_children) == (1, 1)
    assert (lst.eligible_families, lst.eligible_children, lst.cohort_families) == (4, 6, 5)
    assert list(lst.children["child"]) == ["a", "b", "e", "d", "f"]  # by rank, then score
    assert sorted(scorer.explained) == ["a", "b", "d", "e", "f"]  # never c or g
    assert list(lst.families["reason_1"]) == ["reason of a", "reason of e", "reason of f"]
    assert list(lst.families["reason_2"]) == ["reason of b", "reason of d", ""]


def test_tiny_cohort_locality_keeps_only_its_families():
    features, audit = tiny()
    lst = build_list(features, audit, FakeScorer(), as_of=AS_OF, capacity=3, locality="North")
    assert list(lst.families["family"]) == ["H1", "H3"]  # shorter than the capacity
    assert (lst.cohort_families, lst.excluded_families, lst.scored_children) == (3, 1, 7)
    assert set(lst.children["child"]) == {"a", "b", "d", "e"}


def test_a_localitys_list_is_its_part_of_the_boroughs_list():
    features, audit = tiny()
    borough = Capacity(families_per_quarter=3)  # the borough's list: H1, H3, H4
    south = build_list(features, audit, FakeScorer(), as_of=AS_OF, capacity=borough,
                       locality="South")  # fmt: skip
    assert list(south.families["family"]) == ["H4"] and list(south.families["rank"]) == [1]
    assert south.capacity == 1 and "South's part" in south.capacity_rule
    two = build_list(features, audit, FakeScorer(), as_of=AS_OF,
                     capacity=Capacity(families_per_quarter=2), locality="South")  # fmt: skip
    assert two.families.empty  # H5 scores below the borough's second family
    own = Capacity(per_locality={"North": 1, "South": 1})
    lst = build_list(features, audit, FakeScorer(), as_of=AS_OF, capacity=own)
    assert list(lst.families["family"]) == ["H1", "H4"] and lst.capacity == 2
    with pytest.raises(ValueError, match="not a share"):
        build_list(features, audit, FakeScorer(), as_of=AS_OF, capacity=Capacity(top_share=0.2))


def test_capacity_must_be_positive():
    features, audit = tiny()
    with pytest.raises(ValueError, match=ERR_CAPACITY.format(capacity=0)):
        build_list(features, audit, FakeScorer(), as_of=AS_OF, capacity=0)


def test_family_reasons_are_distinct_and_by_contribution():
    r = Reason
    child1 = [r("referrals_12m", "2 referrals", 0.9), r("siblings_s47_ever", "s", 0.4)]
    child2 = [r("siblings_s47_ever", "s", 0.5), r("referrals_12m", "3 referrals", 0.3),
              r("household_moves_12m", "1 move", 0.2), r("cp_plans_ever", "cp", 0.1)]  # fmt: skip
    got = family_reasons([child1, child2])
    assert [(r.feature, r.contribution) for r in got] == [
        ("referrals_12m", 0.9), ("siblings_s47_ever", 0.5), ("household_moves_12m", 0.2)
    ]  # fmt: skip
    assert family_reasons([[], []]) == []
    aged = [r("age_months", "the child is 150 months old", 2.0), *child1]
    assert [x.feature for x in family_reasons([aged])] == ["referrals_12m", "siblings_s47_ever"]


def _reference_ranking(children: pd.DataFrame, capacity: int) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for fam, score, eligible in zip(children["family"], children["score"],
                                    children["eligible"], strict=True):  # fmt: skip
        if eligible:
            best[fam] = max(best.get(fam, -1.0), score)
    ranked = sorted((-s, f) for f, s in best.items())
    return [(f, -s) for s, f in ranked[:capacity]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.sampled_from([0.1, 0.3, 0.5, 0.8]),
                          st.booleans()), min_size=1, max_size=40),
       st.integers(1, 8))  # fmt: skip
def test_ranking_matches_a_plain_loop(rows, capacity):
    children = pd.DataFrame(
        {"family": [f"H{r[0]:02d}" for r in rows], "score": [r[1] for r in rows],
         "band": [int(r[1] * 10) for r in rows], "eligible": [r[2] for r in rows],
         "locality": "North", "date": AS_OF}
    )  # fmt: skip
    top = rank_families(children, capacity)
    assert list(zip(top["family"], top["family_score"], strict=True)) == _reference_ranking(
        children, capacity
    )
    assert list(top["rank"]) == list(range(1, len(top) + 1))


def test_no_eligible_family_gives_an_empty_list():
    features, audit = tiny()
    features["eligible"] = False
    lst = build_list(features, audit, FakeScorer(), as_of=AS_OF, capacity=3, dimensions=("sex",))
    assert lst.families.empty and lst.children.empty and lst.excluded_families == 5
