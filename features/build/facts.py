"""Dated facts: every warehouse record turned into (subject, date, kind) rows.

Everything the features count is one of these facts, dated when it became known: a
referral on its referral date, an NFA decision and a closure on the closure date, an
assessment's factors on its authorisation date, an early help outcome on the episode's
end date, and so on. Person facts are keyed by ``person_id``; household facts
(household early help, moves of address, adults joining or leaving) by
``household_id``. The date helpers here are the only place month arithmetic happens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from stratify.features.catalogue import EH_OUTCOMES, EVENT_TYPES, FACTOR_GROUPS, NO_FACTOR
from stratify.features.schema import Table

Tables = Mapping[str, ir.Table]
#: Warehouse column types (schema.py) as Ibis types.
IBIS_TYPES = {"VARCHAR": "string", "DATE": "date", "BOOLEAN": "boolean", "TINYINT": "int8"}
#: Materialises an intermediate table (a DuckDB temporary table) so that it is computed
#: once however often it is read; the identity is always correct, only slower.
Keep = Callable[[ir.Table], ir.Table]

ADULT_ROLES = ("parent_carer", "other_adult")
#: Every fact table has these columns (nullable, so that unions line up).
FACT_SCHEMA = ibis.schema({"subject": "string", "date": "date", "kind": "string"})

#: Fact kinds produced by :func:`person_facts` and :func:`household_facts`.
PERSON_FACT_KINDS: frozenset[str] = frozenset(
    {
        "referral",
        "referral_end",
        "referral_nfa",
        "assessment",
        "s47",
        "icpc",
        "cin_plan",
        "cin_plan_end",
        "cp_plan",
        "cp_plan_end",
        "looked_after",
        "looked_after_end",
        "early_help",
        "early_help_end",
        *(f"factor_{g}" for g in (*FACTOR_GROUPS, "other")),
        *(f"early_help_{o}" for o in EH_OUTCOMES),
        *(f"event_{e}" for e in EVENT_TYPES),
    }
)
HOUSEHOLD_FACT_KINDS: frozenset[str] = frozenset(
    {
        "household_early_help",
        "household_early_help_end",
        "residence_move",
        "adult_joined",
        "adult_left",
    }
)


def months_before(date: ir.DateValue, months: int) -> ir.DateValue:
    """Return ``date`` minus ``months`` calendar months (day clamped to the month's end).

    A negative ``months`` moves forward. SQL interval arithmetic yields a timestamp in
    DuckDB, so the result is cast back to a date explicitly.
    """
    if months == 0:
        return date
    shifted = (
        date - ibis.interval(months=months) if months >= 0 else date + ibis.interval(months=-months)
    )
    return shifted.cast("timestamp").cast("date")


def whole_months(start: ir.DateValue, end: ir.DateValue) -> ir.IntegerValue:
    """Return the whole calendar months from ``start`` to ``end``.

    The month difference, less one when ``end``'s day of the month is before
    ``start``'s (the same rule as :func:`stratify.features.build.cohorts.whole_months`).
    """
    months = (end.year() - start.year()) * 12 + (end.month() - start.month())
    return months - ibis.ifelse(end.day() < start.day(), 1, 0)


@dataclass(frozen=True)
class Facts:
    """Dated facts (``subject``, ``date``, ``kind``) and the most any one subject has.

    The bound lets :func:`stratify.features.build.timeline.counts_before` pack several counts
    into one integer exactly.
    """

    rows: ir.Table
    most: int


def warehouse_schema(table: Table) -> ibis.Schema:
    """Return the Ibis schema of a warehouse table, for building unbound expressions."""
    return ibis.schema({c.name: IBIS_TYPES[c.type] for c in table.columns})


def as_is(table: ir.Table) -> ir.Table:
    """Return ``table`` unchanged (the ``Keep`` that materialises nothing)."""
    return table


def left_join_on(left: ir.Table, right: ir.Table, keys: str | list[str]) -> ir.Table:
    """Left-join ``right`` on equal ``keys``, keeping the keys once (from ``left``)."""
    keys = [keys] if isinstance(keys, str) else keys
    j = left.left_join(right, keys)
    extra = [right[c] for c in right.columns if c not in keys]
    return j.select(*[left[c] for c in left.columns], *extra)


def _facts(table: ir.Table, subject: str, date: str, kind: str | ir.StringValue) -> ir.Table:
    kind_expr = ibis.literal(kind) if isinstance(kind, str) else kind
    rows = table.filter(table[date].notnull())
    return rows.select(subject=rows[subject], date=rows[date], kind=kind_expr).cast(FACT_SCHEMA)


def _factor_facts(tables: Tables) -> ir.Table:
    a, f = tables["assessments"], tables["assessment_factors"]
    group = {code: g for g, codes in FACTOR_GROUPS.items() for code in codes}
    j = a.join(f, a.assessment_id == f.assessment_id).filter(
        a.authorised_date.notnull(), f.factor != NO_FACTOR
    )
    kind = "factor_" + f.factor.substitute(group, else_="other")
    return j.select(subject=a.person_id, date=a.authorised_date, kind=kind).cast(FACT_SCHEMA)


def _interval_facts(table: ir.Table, kind: str) -> list[ir.Table]:
    return [
        _facts(table, "person_id", "start_date", kind),
        _facts(table, "person_id", "end_date", f"{kind}_end"),
    ]


def person_facts(tables: Tables) -> ir.Table:
    """Return every dated person fact as ``(subject, date, kind)`` rows.

    Parameters
    ----------
    t : Mapping[str, ibis Table]
        The warehouse tables.

    Returns
    -------
    ibis Table
        ``subject`` (person_id), ``date`` and ``kind`` (see ``PERSON_FACT_KINDS``).
    """
    r, s47, eh, ev = (
        tables["referrals"],
        tables["section47"],
        tables["early_help"],
        tables["agency_events"],
    )
    nfa = r.filter(r.nfa)
    ended = eh.filter(eh.outcome.isin(EH_OUTCOMES))
    parts = [
        _facts(r, "person_id", "referral_date", "referral"),
        _facts(r, "person_id", "closure_date", "referral_end"),
        _facts(nfa, "person_id", "closure_date", "referral_nfa"),
        _facts(tables["assessments"], "person_id", "start_date", "assessment"),
        _factor_facts(tables),
        _facts(s47, "person_id", "start_date", "s47"),
        _facts(s47, "person_id", "icpc_date", "icpc"),
        *_interval_facts(tables["cin_plans"], "cin_plan"),
        *_interval_facts(tables["cp_plans"], "cp_plan"),
        *_interval_facts(tables["looked_after"], "looked_after"),
        *_interval_facts(eh, "early_help"),
        _facts(ended, "person_id", "end_date", "early_help_" + ended.outcome),
        _facts(ev, "person_id", "event_date", "event_" + ev.event_type),
    ]
    return ibis.union(*parts)


def household_facts(tables: Tables) -> ir.Table:
    """Return every dated household fact as ``(subject, date, kind)`` rows.

    A household's first address is where it began, not a move, so only later
    residences are ``residence_move`` facts. Adults joining and leaving are the start
    and end dates of parent/carer and other-adult memberships.
    """
    eh, res, hm = tables["early_help"], tables["residences"], tables["household_members"]
    order = ibis.row_number().over(group_by=res.household_id, order_by=res.start_date)
    moves = res.mutate(_order=order).filter(lambda x: x._order > 0)
    adults = hm.filter(hm.role.isin(ADULT_ROLES))
    return ibis.union(
        _facts(eh, "household_id", "start_date", "household_early_help"),
        _facts(eh, "household_id", "end_date", "household_early_help_end"),
        _facts(moves, "household_id", "start_date", "residence_move"),
        _facts(adults, "household_id", "start_date", "adult_joined"),
        _facts(adults, "household_id", "end_date", "adult_left"),
    )
