"""Simulated early help managers: what a team does with an outreach list.

:func:`simulate_decisions` decides, per listed family, one of the workbook's drop-down
values under a :class:`~stratify.features.config.ManagersConfig` (see it for the
rules), from what a manager can see: the list, the listed children's groups and whether
the family already has an open early help episode on the list date (the warehouse).
:func:`help_taken` returns the families whose help was taken, for the borough's
response (:mod:`stratify.features.simulate.response`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stratify.features.config import ManagersConfig
from stratify.features.decisions import DecisionStore
from stratify.features.decisions.codes import (
    DECLINED,
    ELSEWHERE,
    NO_CAPACITY,
    NOT_APPROPRIATE,
    TAKEN,
)
from stratify.features.warehouse.store import connect

ERR_GROUP = "managers.set_aside_more: {key!r} must read 'dimension=group'"


def open_early_help(warehouse: Path, children: pd.Series, as_of: object) -> set[str]:
    """Return the children with an early help episode open on ``as_of``."""
    con = connect(warehouse, read_only=True)
    try:
        con.register("_kids", pd.DataFrame({"person_id": children.astype(str).unique()}))
        rows = con.execute(
            "SELECT DISTINCT e.person_id FROM early_help e JOIN _kids USING (person_id) "
            "WHERE e.start_date < ? AND (e.end_date IS NULL OR e.end_date >= ?)",
            [as_of, as_of],
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def _multiplier(kids: pd.DataFrame, more: dict[str, float]) -> pd.Series:
    """Return each family's set-aside multiplier (the largest that applies)."""
    out = pd.Series(1.0, index=sorted(kids["family"].unique()))
    for key, factor in more.items():
        dim, sep, group = key.partition("=")
        if not sep or dim not in kids.columns:
            raise ValueError(ERR_GROUP.format(key=key))
        hit = kids.loc[kids[dim].astype(str) == group, "family"].unique()
        out[hit] = np.maximum(out[hit], factor)
    return out


def simulate_decisions(
    families: pd.DataFrame,
    kids: pd.DataFrame,
    supported: set[str],
    policy: ManagersConfig,
    seed_offset: int = 0,
) -> list[tuple[str, str, str]]:
    """Return ``(family, decision, note)`` per listed family, in rank order.

    Parameters
    ----------
    families : DataFrame
        ``rank``, ``family`` of the list.
    kids : DataFrame
        The listed children: ``family``, ``child`` and their groups.
    supported : set of str
        Children with early help open on the list date.
    policy : ManagersConfig
        The managers' policy.
    seed_offset : int
        Added to the policy's seed (one stream per list).
    """
    rng = np.random.default_rng(policy.seed + seed_offset)
    more = _multiplier(kids, policy.set_aside_more)
    already = set(kids.loc[kids["child"].isin(supported), "family"])
    slots = int(round(policy.contact_share * len(families)))
    out = []
    for family in families.sort_values("rank")["family"]:
        u_aside, u_decline = rng.random(2)
        if family in already:
            decision = ELSEWHERE
        elif u_aside < policy.set_aside_rate * more.get(family, 1.0):
            decision = NOT_APPROPRIATE
        elif slots > 0:
            slots -= 1
            decision = DECLINED if u_decline < policy.decline_rate else TAKEN
        else:
            decision = NO_CAPACITY
        out.append((str(family), decision, ""))
    return out


def decide_list(
    work_dir: Path, list_id: str, policy: ManagersConfig, seed_offset: int = 0
) -> list[tuple[str, str, str]]:
    """Simulate the managers' decisions on one recorded list of ``work_dir``."""
    store = DecisionStore.in_work(work_dir)
    record = store.get_list(list_id)
    kids = store.children(list_id)
    fams = pd.DataFrame(list(record.families), columns=["rank", "family", "locality"])
    supported = open_early_help(work_dir / "warehouse.duckdb", kids["child"], record.as_of)
    return simulate_decisions(fams, kids, supported, policy, seed_offset)


def help_taken(work_dir: Path) -> list[str]:
    """Return the families whose current decision on any list is that help was taken."""
    store = DecisionStore.in_work(work_dir)
    if not store.exists():
        return []
    taken = []
    for list_id in store.lists()["list_id"]:
        current = store.current(list_id)
        taken += list(current.loc[current["decision"] == TAKEN, "family"])
    return sorted(set(taken))
