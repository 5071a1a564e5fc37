"""An independent check of the eligibility rule, in plain SQL against the warehouse.

Written apart from :mod:`stratify.features.build.eligibility` (no shared code): on date
``d`` a household is open when someone living in it then (membership started before
``d``, not ended before it) has a referral made before ``d`` and not closed by ``d``, or a
CIN plan, CP plan or care episode started before ``d`` and not ended by ``d``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import duckdb

SQL = """
WITH asked(household_id) AS (SELECT unnest($asked::VARCHAR[])),
members AS (
    SELECT m.household_id, m.person_id FROM household_members m JOIN asked USING (household_id)
    WHERE m.start_date < $d AND (m.end_date IS NULL OR m.end_date >= $d)
),
spells AS (
    SELECT person_id, referral_date AS s, closure_date AS e FROM referrals
    UNION ALL SELECT person_id, start_date, end_date FROM cin_plans
    UNION ALL SELECT person_id, start_date, end_date FROM cp_plans
    UNION ALL SELECT person_id, start_date, end_date FROM looked_after
)
SELECT DISTINCT members.household_id FROM members JOIN spells USING (person_id)
WHERE spells.s < $d AND (spells.e IS NULL OR spells.e > $d)
"""


def open_households(warehouse: Path, day: dt.date, households: Iterable[str]) -> set[str]:
    """Return which of ``households`` had someone open on ``day``."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(SQL, {"asked": sorted(set(households)), "d": day}).fetchall()
    finally:
        con.close()
    return {str(r[0]) for r in rows}
