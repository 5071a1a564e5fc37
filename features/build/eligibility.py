"""Who an early help outreach list may contain on a date: the one eligibility rule.

On date ``d`` a family (household) is **eligible** when nobody living in it on ``d`` is
open to statutory social care (a CIN plan, a CP plan, or looked after) and nobody in it
has an open referral (made before ``d`` and not yet closed: an assessment or section 47
enquiry may be under way). Early help does not approach a family in the middle of a
statutory process, and a list of such families tells a manager nothing new.

An episode is *open on d* when it started before ``d`` and has not ended by ``d``:
``start < d`` and (``end`` is empty or ``end > d``). A referral closed on ``d`` is
therefore closed on ``d`` (so the re-referral cohort, dated at a closure, is not made
ineligible by the very referral that closed), and a plan starting on ``d`` is not yet
known on ``d`` (only facts dated before the decision point count).

Every user of the rule takes it from here: the cohorts (an escalation decision point's
child is never itself open to statutory care), the feature build's ``eligible`` column,
evaluation, audit, ceiling and backtest (which score only eligible points), and the
outreach list (which lists only eligible families).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from stratify.features.build.facts import Tables, left_join_on

#: Tables whose open episodes make a household ineligible, and their start and end.
OPEN_EPISODES = {
    "referrals": ("referral_date", "closure_date"),
    "cin_plans": ("start_date", "end_date"),
    "cp_plans": ("start_date", "end_date"),
    "looked_after": ("start_date", "end_date"),
}
STATUTORY = ("cin_plans", "cp_plans", "looked_after")


def episodes(tables: Tables, names: tuple[str, ...] = tuple(OPEN_EPISODES)) -> ir.Table:
    """Return ``person_id``, ``start``, ``end`` of every episode of the tables ``names``."""
    parts = []
    for name in names:
        start, end = OPEN_EPISODES[name]
        t = tables[name]
        parts.append(t.select("person_id", start=t[start], end=t[end]))
    return ibis.union(*parts, distinct=False)


def open_on(people: ir.Table, spells: ir.Table) -> ir.Table:
    """Return the distinct ``(person_id, as_of_date)`` of ``people`` open on their date.

    Parameters
    ----------
    people : ibis Table
        ``person_id`` and ``as_of_date``.
    spells : ibis Table
        :func:`episodes`.
    """
    e = spells
    hit = people.join(
        e,
        [
            people.person_id == e.person_id,
            e.start < people.as_of_date,
            e.end.isnull() | (e.end > people.as_of_date),
        ],
    )
    return hit.select(people.person_id, people.as_of_date).distinct()


def _members_on(pairs: ir.Table, members: ir.Table) -> ir.Table:
    """Return ``household_id``, ``as_of_date``, ``person_id`` of everyone living there then.

    Membership is valid as in :func:`stratify.features.build.cohorts.household_at`:
    started before the date, not ended before it.
    """
    m = members
    j = pairs.join(
        m,
        [
            pairs.household_id == m.household_id,
            m.start_date < pairs.as_of_date,
            m.end_date.isnull() | (m.end_date >= pairs.as_of_date),
        ],
    )
    return j.select(pairs.household_id, pairs.as_of_date, m.person_id)


def with_eligibility(points: ir.Table, tables: Tables) -> ir.Table:
    """Add ``eligible`` (boolean) to ``points`` (``person_id``, ``as_of_date``, ``household_id``).

    A point with a household is eligible when no member of that household on the date
    is open (:func:`open_on`, every table of :data:`OPEN_EPISODES`); a point without a
    known household is judged on its own person.
    """
    spells = episodes(tables)
    pairs = points.filter(points.household_id.notnull()).select("household_id", "as_of_date")
    people = _members_on(pairs.distinct(), tables["household_members"])
    closed_out = open_on(people.select("person_id", "as_of_date").distinct(), spells)
    blocked = (
        people.join(closed_out, ["person_id", "as_of_date"])
        .select("household_id", "as_of_date")
        .distinct()
        .mutate(_blocked_household=ibis.literal(True))
    )
    alone = open_on(
        points.filter(points.household_id.isnull()).select("person_id", "as_of_date"), spells
    ).mutate(_blocked_person=ibis.literal(True))
    j = left_join_on(points, blocked, ["household_id", "as_of_date"])
    j = left_join_on(j, alone, ["person_id", "as_of_date"])
    ineligible = j._blocked_household.fill_null(False) | (
        j.household_id.isnull() & j._blocked_person.fill_null(False)
    )
    return j.select(*points.columns, eligible=~ineligible)


def statutory_open(people: ir.Table, tables: Tables) -> ir.Table:
    """Return the ``(person_id, as_of_date)`` of ``people`` open to statutory care then."""
    return open_on(people, episodes(tables, STATUTORY))
