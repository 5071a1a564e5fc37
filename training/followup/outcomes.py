"""What happened to each listed family within 12 months of the list date.

For every listed child, the warehouse's records dated on or after the list date and
before the end of the follow-up window: an early help episode started, a referral, a
section 47 enquiry, a plan or care (a child in need plan, a child protection plan, or
becoming looked after). A family has an outcome if any of its listed children has it.
The window is cut at the warehouse's extract date: :func:`observed_months` says how
much of it the records cover, and the report says when it is not yet complete.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from stratify.features.build.cohorts import add_months
from stratify.features.warehouse.store import connect, read_meta

#: outcome -> (table, date column)
OUTCOMES = {
    "early_help": (("early_help", "start_date"),),
    "referral": (("referrals", "referral_date"),),
    "section47": (("section47", "start_date"),),
    "plan_or_care": (("cin_plans", "start_date"), ("cp_plans", "start_date"),
                     ("looked_after", "start_date")),
}  # fmt: skip
OUTCOME_NAMES = {
    "early_help": "early help episode started",
    "referral": "referral to children's social care",
    "section47": "section 47 enquiry",
    "plan_or_care": "child in need or protection plan, or looked after",
}
FOLLOW_UP_MONTHS = 12


def observed_months(warehouse: Path, as_of: dt.date, months: int = FOLLOW_UP_MONTHS) -> int:
    """Return how many whole months of the window after ``as_of`` the warehouse covers."""
    extract = dt.date.fromisoformat(read_meta(warehouse)["extract_date"])
    seen = 0
    while seen < months and add_months(as_of, seen + 1) <= extract + dt.timedelta(days=1):
        seen += 1
    return seen


def child_outcomes(
    warehouse: Path, children: pd.DataFrame, as_of: dt.date, months: int = FOLLOW_UP_MONTHS
) -> pd.DataFrame:
    """Return per listed child (``family``, ``child``) a flag per outcome in the window.

    The window is ``[as_of, as_of + months)``; dates after the extract are not in the
    records, so an incomplete window counts only what has been recorded so far.
    """
    end = add_months(as_of, months)
    out = children[["family", "child"]].copy()
    con = connect(warehouse, read_only=True)
    try:
        con.register("_kids", pd.DataFrame({"person_id": out["child"].astype(str).unique()}))
        for name, sources in OUTCOMES.items():
            hit: set[str] = set()
            for table, column in sources:
                rows = con.execute(
                    f'SELECT DISTINCT t.person_id FROM "{table}" t JOIN _kids k USING (person_id) '
                    f'WHERE t."{column}" >= ? AND t."{column}" < ?',
                    [as_of, end],
                ).fetchall()
                hit |= {r[0] for r in rows}
            out[name] = out["child"].isin(hit)
    finally:
        con.close()
    return out


def family_outcomes(child_level: pd.DataFrame) -> pd.DataFrame:
    """Return one row per family: whether any of its listed children had each outcome."""
    return child_level.groupby("family", sort=True)[list(OUTCOMES)].any().reset_index()


def outcomes_by_decision(families: pd.DataFrame) -> pd.DataFrame:
    """Return, per decision (``none yet`` when undecided), families and each outcome's count.

    ``families`` has ``family``, ``decision`` and the :data:`OUTCOMES` flags.
    """
    decided = families.assign(decision=families["decision"].fillna("none yet"))
    table = decided.groupby("decision", sort=True).agg(
        families=("family", "size"), **{o: (o, "sum") for o in OUTCOMES}
    )
    for o in OUTCOMES:
        table[f"{o}_share"] = table[o] / table["families"]
    return table.reset_index()
