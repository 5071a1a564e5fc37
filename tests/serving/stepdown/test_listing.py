"""The step-down list on hand-built closures: a list worked out by hand, the audit sample.

September 2023, five households (the fake scorer's score is the closed referral's
length in days / 100, so every score can be read off the referral dates):

======  ========  =====================================  ==========  ==================
family  locality  closures in the month (RC7-RC9)        score       outcome
======  ========  =====================================  ==========  ==================
hA      North     a1 30 Jul -> 10 Sep (42 d, RC7),       0.42, 0.60  listed 2nd (0.60)
                  a2 22 Jul -> 20 Sep (60 d, RC8)
hB      North     b1 1 Aug -> 15 Sep (45 d, RC9);        0.45        left out: sibling
                  sibling b2's referral still open                   b2 open on 15 Sep
hC      South     c1 28 Jun -> 5 Sep (69 d, RC7),        0.69        listed 1st; early
                  early help open since 1 Aug                        help open: yes
hD      South     d1 5 Sep -> 25 Sep (20 d, RC7)         0.20        below 0.40
hE      South     e1 closed RC1 in Sep; e2 RC7 on 2 Oct  -           not a point
======  ========  =====================================  ==========  ==================

Threshold 0.40: the list is hC (0.69), hA (0.60); 1 family left out; 3 eligible.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratify.features.build.pipeline import build
from stratify.features.config import FeaturesConfig
from stratify.features.model_input import input_columns
from stratify.serving.reasons import Reason
from stratify.serving.stepdown.listing import build_stepdown
from stratify.serving.stepdown.sample import STRATA, audit_sample, strata
from tests.features.factories import IBIS_DUCKDB_WARNING, write_warehouse

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)
D = dt.date
MONTH = D(2023, 9, 1)
THRESHOLD = 0.40


class DaysScorer:
    """Score = the closed referral's days / 100; one reason per record naming its child."""

    version = 3
    columns = ["index_episode_days"]

    def __init__(self) -> None:
        self.explained: list[str] = []

    def score(self, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        p = records["index_episode_days"].to_numpy(dtype=float) / 100
        return p, np.ceil(p * 10).astype(int)

    def explain(self, records: pd.DataFrame, top: int = 3) -> list[list[Reason]]:
        self.explained += list(records["person_id"])
        return [[Reason(f"f_{r.person_id}", f"open {r.index_episode_days} days",
                         r.index_episode_days / 100)]
                for r in records.itertuples()]  # fmt: skip


def _ref(rid: str, pid: str, day: dt.date, closed: dt.date | None, reason: str = "RC7") -> dict:
    return {"referral_id": rid, "person_id": pid, "referral_date": day, "closure_date": closed,
            "closure_reason": reason if closed else None}  # fmt: skip


HOMES = {"hA": "North", "hB": "North", "hC": "South", "hD": "South", "hE": "South"}
PEOPLE = {"a1": "hA", "a2": "hA", "b1": "hB", "b2": "hB", "c1": "hC", "d1": "hD",
          "e1": "hE", "e2": "hE"}  # fmt: skip
TABLES = {
    "persons": [{"person_id": p, "locality": HOMES[h]} for p, h in PEOPLE.items()],
    "household_members": [{"person_id": p, "household_id": h} for p, h in PEOPLE.items()],
    "residences": [{"household_id": h, "locality": loc} for h, loc in HOMES.items()],
    "referrals": [
        _ref("ra1", "a1", D(2023, 7, 30), D(2023, 9, 10)),
        _ref("ra2", "a2", D(2023, 7, 22), D(2023, 9, 20), "RC8"),
        _ref("rb1", "b1", D(2023, 8, 1), D(2023, 9, 15), "RC9"),
        _ref("rb2", "b2", D(2023, 9, 1), None),
        _ref("rc1", "c1", D(2023, 6, 28), D(2023, 9, 5)),
        _ref("rd1", "d1", D(2023, 9, 5), D(2023, 9, 25)),
        _ref("re1", "e1", D(2023, 8, 1), D(2023, 9, 12), "RC1"),
        _ref("re2", "e2", D(2023, 8, 1), D(2023, 10, 2)),
    ],
    "early_help": [
        {"episode_id": "eh1", "person_id": "c1", "household_id": "hC", "start_date": D(2023, 8, 1)}
    ],
}


@pytest.fixture(scope="module")
def month_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    path = write_warehouse(tmp_path_factory.mktemp("sd") / "w.duckdb", TABLES, D(2023, 12, 31))
    cfg = FeaturesConfig(start_date=MONTH, end_date=D(2023, 9, 30))
    result = build(path, "rereferral", cfg)
    return result.features.to_pandas(), result.audit.to_pandas()


def test_hand_worked_list(month_build: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    features, audit = month_build
    scorer = DaysScorer()
    lst = build_stepdown(features, audit, scorer, month=MONTH, threshold=THRESHOLD,
                         dimensions=("sex",), min_people=1)  # fmt: skip
    fams = lst.families
    assert list(fams["family"]) == ["hC", "hA"]
    assert list(fams["rank"]) == [1, 2]
    assert np.allclose(fams["family_score"], [0.69, 0.60])
    assert list(fams["early_help_open"]) == [True, False]
    assert list(fams["closure_date"].astype(str).str[:10]) == ["2023-09-05", "2023-09-20"]
    assert list(fams["reason_1"]) == ["open 69 days", "open 60 days"]
    assert list(fams["reason_2"]) == ["", "open 42 days"]
    assert (lst.closures, lst.closure_families) == (5, 4)  # a1 a2 b1 c1 d1; not e1, e2
    assert (lst.excluded_families, lst.eligible_families) == (1, 3)
    assert list(lst.children["child"]) == ["c1", "a2", "a1"]
    assert sorted(scorer.explained) == ["a1", "a2", "c1"]  # only the listed
    assert lst.fairness["listed"].sum() == 3 and lst.fairness["eligible"].sum() == 4


def test_locality_keeps_its_families(month_build: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    features, audit = month_build
    lst = build_stepdown(features, audit, DaysScorer(), month=MONTH, threshold=THRESHOLD,
                         locality="North")  # fmt: skip
    assert list(lst.families["family"]) == ["hA"]
    assert (lst.closure_families, lst.excluded_families) == (2, 1)


def _families(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"family": [f"f{i:03d}" for i in range(n)],
                         "family_score": rng.random(n), "locality": "North"})  # fmt: skip


def test_strata_are_score_thirds() -> None:
    fam = _families(10)
    label = strata(fam)
    order = fam.sort_values("family_score", ascending=False).index
    assert list(label[order]) == ["high"] * 4 + ["middle"] * 3 + ["low"] * 3
    top = fam["family_score"][label == "high"].min()
    assert top > fam["family_score"][label == "middle"].max()


def test_sample_reproduces_with_its_seed_and_changes_with_another() -> None:
    fam = _families(60)
    first = audit_sample(fam, seed=202309, per_stratum=5)
    again = audit_sample(fam.sample(frac=1, random_state=1), seed=202309, per_stratum=5)
    other = audit_sample(fam, seed=1, per_stratum=5)
    pd.testing.assert_frame_equal(first, again)  # row order of the input does not matter
    assert list(first["family"]) != list(other["family"])
    assert list(first["stratum"]) == [s for s in STRATA for _ in range(5)]
    assert set(first["stratum_size"]) == {20}
    label = strata(fam).set_axis(fam["family"])
    assert all(label[f] == s for f, s in zip(first["family"], first["stratum"], strict=True))


def test_small_month_samples_everyone() -> None:
    sample = audit_sample(_families(4), seed=7, per_stratum=5)
    assert sorted(sample["family"]) == [f"f{i:03d}" for i in range(4)]
    assert list(sample["stratum"]) == ["high", "high", "middle", "low"]


def test_only_facts_before_each_closure_are_used(
    month_build: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    """Facts dated on or after a closure change none of its model inputs.

    Added: a new referral for a1, early help for hA and an agency event for a2, all on
    a2's closure day (20 Sep, after a1's), and a police event for c1 the day after its
    closure. (A fact between a1's and a2's closures would rightly count for a2.)
    """
    later = {
        **TABLES,
        "referrals": [*TABLES["referrals"], _ref("ra3", "a1", D(2023, 9, 20), None)],
        "early_help": [*TABLES["early_help"],
                       {"episode_id": "eh2", "person_id": "a2", "household_id": "hA",
                        "start_date": D(2023, 9, 20)}],
        "agency_events": [{"person_id": "a2", "event_date": D(2023, 9, 20)},
                          {"person_id": "c1", "event_date": D(2023, 9, 6)}],
    }  # fmt: skip
    path = write_warehouse(tmp_path / "later.duckdb", later, D(2023, 12, 31))
    cfg = FeaturesConfig(start_date=MONTH, end_date=D(2023, 9, 30))
    after = build(path, "rereferral", cfg).features.to_pandas()
    before = month_build[0]
    cols = ["person_id", "as_of_date", *input_columns("rereferral")]
    key = ["person_id", "as_of_date"]
    pd.testing.assert_frame_equal(
        before[cols].sort_values(key).reset_index(drop=True),
        after[cols].sort_values(key).reset_index(drop=True),
    )
