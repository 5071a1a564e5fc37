"""The retraining report's follow-up of earlier lists, on the small borough's warehouse.

The borough's extract is of 2025-03-31. A list of 2024-01-01 has its 12 months (to
2024-12-31) in the records: it has matured and is followed up. A list of 2024-10-01
has 6 of its 12 months: it has not (it matures on 2025-09-30). The outcome counts by
decision are counted here with plain loops over the warehouse's rows.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from stratify.features.config import Config, load_config
from stratify.features.decisions import DecisionStore
from stratify.features.decisions.codes import NOT_APPROPRIATE, TAKEN
from stratify.features.decisions.store import CHILD_ATTRIBUTES, DecisionRow, ListRecord
from stratify.features.warehouse.store import read_meta
from stratify.training.followup.matured import (
    NO_LISTS,
    followup_section,
    matured_lists,
    matures_on,
)

MATURED, RECENT = dt.date(2024, 1, 1), dt.date(2024, 10, 1)
FAMILIES = 24  # 12 contacted and help taken, 12 not appropriate: both above suppression


@pytest.fixture
def cfg(borough_home) -> Config:
    cfg = load_config(borough_home[1])
    assert read_meta(cfg.work_dir / "warehouse.duckdb")["extract_date"] == "2025-03-31"
    return cfg


def _register(cfg: Config, as_of: dt.date) -> tuple[str, dict[str, tuple[str, list[str]]]]:
    """Record a list of eligible families on ``as_of``; return its id, decisions and children."""
    where = cfg.work_dir / "features" / "escalation"
    keys = ["person_id", "household_id", "as_of_date", "eligible", "label"]
    rows = pd.read_parquet(where / "features.parquet", columns=keys)
    audit = pd.read_parquet(where / "audit.parquet", columns=list(CHILD_ATTRIBUTES))
    rows = pd.concat([rows, audit], axis=1)
    rows = rows.loc[(pd.to_datetime(rows["as_of_date"]).dt.date == as_of) & rows["eligible"]]
    rows = rows.assign(household_id=rows["household_id"].astype(str))
    # families whose children escalated first, so that the outcomes are not all zero
    worst = rows.groupby("household_id")["label"].max().fillna(0).reset_index()
    worst = worst.sort_values(["label", "household_id"], ascending=[False, True])
    fams = list(worst["household_id"][:FAMILIES])
    assert len(fams) == FAMILIES
    kids = rows.loc[rows["household_id"].astype(str).isin(fams)]
    children = kids.assign(family=kids["household_id"].astype(str),
                           child=kids["person_id"].astype(str))  # fmt: skip
    loc = children.groupby("family")["locality"].first().astype(str)
    record = ListRecord.build(as_of, None, 1, [(i + 1, f, loc[f]) for i, f in enumerate(fams)])
    store = DecisionStore.in_work(cfg.work_dir)
    assert store.register(record, children)
    decided = [DecisionRow(f, TAKEN if i < FAMILIES // 2 else NOT_APPROPRIATE)
               for i, f in enumerate(fams)]  # fmt: skip
    store.append(record.list_id, decided, source="test", submitted_by="manager")
    by_family = {row.family: (row.decision, []) for row in decided}
    for f, c in zip(children["family"], children["child"], strict=True):
        by_family[f][1].append(c)
    return record.list_id, by_family


def test_matured_by_hand():
    days = [dt.date(2024, 4, 1), dt.date(2024, 4, 2), dt.date(2023, 1, 1)]
    lists = pd.DataFrame({"list_id": ["a", "b", "c"], "as_of": days})
    # 2024-04-01's window ends 2025-03-31: matured by that extract; a day later's is not
    assert matures_on(dt.date(2024, 4, 1)) == dt.date(2025, 3, 31)
    assert list(matured_lists(lists, dt.date(2025, 3, 31))["list_id"]) == ["c", "a"]
    assert list(matured_lists(lists, dt.date(2025, 3, 30))["list_id"]) == ["c"]


def test_no_list_has_matured_yet_says_so(cfg):
    extract = dt.date(2025, 3, 31)
    assert followup_section(cfg, extract) == NO_LISTS
    list_id, _ = _register(cfg, RECENT)
    text = followup_section(cfg, extract)
    assert text.startswith("No outreach list has matured yet")
    assert "the 1 recorded lists" in text and "of 2024-10-01, matures on 2025-09-30" in text
    assert list_id not in text


def _by_loops(
    cfg: Config, as_of: dt.date, families: dict[str, tuple[str, list[str]]]
) -> dict[str, list[int]]:
    """Families, then families with a referral, a section 47 enquiry, per decision."""
    end = dt.date(as_of.year + 1, as_of.month, as_of.day)
    con = duckdb.connect(str(cfg.work_dir / "warehouse.duckdb"), read_only=True)
    sql = {"referral": "SELECT person_id, referral_date FROM referrals",
           "section47": "SELECT person_id, start_date FROM section47"}  # fmt: skip
    events = {name: con.execute(query).fetchall() for name, query in sql.items()}
    con.close()
    out: dict[str, list[int]] = {}
    for decision, kids in families.values():
        counts = out.setdefault(decision, [0, 0, 0])
        counts[0] += 1
        for j, name in enumerate(("referral", "section47"), start=1):
            counts[j] += any(p in kids and as_of <= day < end for p, day in events[name])
    return out


def test_a_matured_list_is_followed_up_and_a_recent_one_is_not(cfg):
    old_id, families = _register(cfg, MATURED)
    new_id, _ = _register(cfg, RECENT)
    text = followup_section(cfg, dt.date(2025, 3, 31))
    assert text.startswith("1 of the 2 recorded lists have matured")
    assert f"### List {old_id}" in text and new_id not in text
    assert (
        "Dated 2024-01-01, all localities, model version 1: 24 of 24 families have a "
        "decision (50% contacted)" in text
    )
    assert "the records cover 12 months after it" in text
    expected = _by_loops(cfg, MATURED, families)
    assert min(c[2] for c in expected.values()) > 0  # not a vacuous comparison
    for decision, (n, referral, s47) in expected.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {decision} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        # Decision, Families, early help, referral, section 47, plan or care
        assert cells[1] == str(n)
        assert cells[3] == f"{referral} ({referral / n:.0%})"
        assert cells[4] == f"{s47} ({s47 / n:.0%})"
    assert (cfg.work_dir / "follow-up" / old_id / "follow-up.html").is_file()
    assert "training decision points" in text
