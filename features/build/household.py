"""Household, siblings, adults and area features, resolved at each decision point.

The household is the one the child lives in on ``as_of_date`` (see
:func:`stratify.features.build.cohorts.household_at`). Its *residents* on that date are the people
with a membership valid then (``start_date < as_of`` and no end or an end on or after
``as_of``) who were born before it. Siblings are the other residents in the child
role, adults the other residents in a parent/carer or other-adult role; their
features are their own facts dated before ``as_of``, summed or counted over them.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from stratify.features.build.facts import ADULT_ROLES, Facts, Keep, Tables, as_is, left_join_on
from stratify.features.build.timeline import feature_value, timeline_columns
from stratify.features.catalogue import Feature

MEMBER_STATS = ("members_count", "members_with", "members_open")


def _valid_on(table: ir.Table, as_of: ir.DateValue) -> ir.BooleanValue:
    return (table.start_date < as_of) & (table.end_date.isnull() | (table.end_date >= as_of))


def residents(points: ir.Table, tables: Tables) -> ir.Table:
    """Return who lives in each point's household on its date.

    Returns
    -------
    ibis Table
        ``dp_id``, ``as_of_date``, ``member_id``, ``role`` and ``relation``
        ("self", "sibling", "adult" or "other"), one row per distinct
        (point, member, role).
    """
    p = points.filter(points.household_id.notnull())
    hm, people = tables["household_members"], tables["persons"]
    j = p.join(hm, [p.household_id == hm.household_id, _valid_on(hm, p.as_of_date)])
    j = j.select(p.dp_id, p.person_id, p.as_of_date, member_id=hm.person_id, role=hm.role)
    j = j.join(people.select("person_id", "birth_month"), j.member_id == people.person_id)
    j = j.filter(j.birth_month < j.as_of_date)
    relation = ibis.cases(
        (j.member_id == j.person_id, "self"),
        (j.role == "child", "sibling"),
        (j.role.isin(ADULT_ROLES), "adult"),
        else_="other",
    )
    return j.select("dp_id", "as_of_date", "member_id", "role", relation=relation).distinct()


def composition(points: ir.Table, res: ir.Table, features: Sequence[Feature]) -> ir.Table:
    """Return ``dp_id`` and the household composition features (zero without a household)."""
    m = res.member_id
    agg = res.group_by("dp_id").aggregate(
        children=m.nunique(where=res.role == "child"),
        adults=m.nunique(where=res.role.isin(ADULT_ROLES)),
        carers=m.nunique(where=res.role == "parent_carer"),
        others=m.nunique(where=res.role == "other_adult"),
    )
    j = left_join_on(points.select("dp_id"), agg, "dp_id")
    values = {
        "household_children": j.children.fill_null(0),
        "household_adults": j.adults.fill_null(0),
        "has_second_carer": j.carers.fill_null(0) >= 2,
        "other_adults_present": j.others.fill_null(0) >= 1,
    }
    return j.select("dp_id", **{f.name: values[f.name] for f in features})


def member_features(
    points: ir.Table,
    res: ir.Table,
    facts: Facts,
    features: Sequence[Feature],
    keep: Keep = as_is,
) -> ir.Table:
    """Return ``dp_id`` and the siblings and adults features.

    Each member's generic value is computed from their own timeline, then summed
    (``members_count``) or the members with a true value counted (``members_with``,
    ``members_open``), over the siblings or the adults of the point.
    """
    members = res.filter(res.relation.isin(("sibling", "adult")))
    members = keep(members.select("dp_id", "as_of_date", "member_id", "relation").distinct())
    row = timeline_columns(members, facts, "member_id", features, keep)
    relation = {"siblings": "sibling", "adults": "adult"}
    aggs = {}
    for f in features:
        mine = row.relation == relation[f.group]
        value = feature_value(row, f)
        if f.stat == "members_count":
            aggs[f.name] = value.sum(where=mine)
        else:
            aggs[f.name] = row.count(where=mine & value)
    agg = row.group_by("dp_id").aggregate(**aggs)
    j = left_join_on(points.select("dp_id"), agg, "dp_id")
    return j.select("dp_id", **{f.name: j[f.name].fill_null(0) for f in features})


def household_features(
    points: ir.Table, facts: Facts, features: Sequence[Feature], keep: Keep = as_is
) -> ir.Table:
    """Return ``dp_id`` and the household's own timeline features (early help, moves)."""
    base = points.select("dp_id", "household_id", "as_of_date")
    row = timeline_columns(base, facts, "household_id", features, keep)
    return row.select("dp_id", **{f.name: feature_value(row, f) for f in features})


def area_at(points: ir.Table, residences: ir.Table) -> ir.Table:
    """Return ``dp_id``, ``imd_decile`` and ``locality`` of the home on each point's date.

    From the household's residence valid on ``as_of_date`` (the latest started, if
    several); null when the household or its address is unknown.
    """
    p, r = points.select("dp_id", "household_id", "as_of_date"), residences
    j = p.join(r, [p.household_id == r.household_id, _valid_on(r, p.as_of_date)])
    j = j.select(p.dp_id, r.imd_decile, r.locality, r.start_date)
    first = ibis.row_number().over(group_by="dp_id", order_by=ibis.desc("start_date"))
    home = j.mutate(_n=first).filter(lambda x: x._n == 0).drop("_n", "start_date")
    return left_join_on(p.select("dp_id"), home, "dp_id")
