"""Child features: the child's own history, age, and (rereferral) the closed referral.

Every generic child feature (a count, "ever", "open" or "months since") is read from
the child's point-in-time timeline (:mod:`stratify.features.build.timeline`), so only facts
dated strictly before ``as_of_date`` count. The ``index_*`` features are the stated
exception: they describe the referral whose closure is the decision point.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from stratify.features.build.facts import Facts, Keep, Tables, as_is, left_join_on, whole_months
from stratify.features.build.timeline import feature_value, timeline_columns
from stratify.features.catalogue import NO_FACTOR, Feature

GENERIC_STATS = ("count", "any", "open", "months_since")


def child_features(
    points: ir.Table,
    facts: Facts,
    persons: ir.Table,
    features: Sequence[Feature],
    keep: Keep = as_is,
) -> ir.Table:
    """Return ``dp_id`` and the child-group features for each decision point.

    Parameters
    ----------
    points : ibis Table
        ``dp_id``, ``person_id``, ``as_of_date``.
    facts : Facts
        Person facts.
    persons : ibis Table
        The persons table (for the birth month).
    features : sequence of Feature
        The child features wanted (generic stats and ``age_months``).
    keep : callable, optional
        Materialises intermediate tables.

    Returns
    -------
    ibis Table
    """
    generic = [f for f in features if f.stat in GENERIC_STATS]
    base = points.select("dp_id", "person_id", "as_of_date").join(
        persons.select("person_id", "birth_month"), "person_id"
    )
    row = timeline_columns(base, facts, "person_id", generic, keep)
    values = {f.name: feature_value(row, f) for f in generic}
    if any(f.stat == "age" for f in features):
        # before birth the age is unknown: the birth month is a fact dated after as_of
        born = row.birth_month < row.as_of_date
        age = whole_months(row.birth_month, row.as_of_date)
        values["age_months"] = ibis.ifelse(born, age, ibis.null("int64"))
    return row.select("dp_id", **values)


def index_features(points: ir.Table, tables: Tables) -> ir.Table:
    """Return ``dp_id`` and the ``index_*`` features of rereferral decision points.

    The closed (index) referral's closure reason and NFA flag, the days from referral
    to closure, whether it had an assessment started by the closure date, and how many
    factors (not "no factors identified") its assessments authorised by then recorded.
    """
    r, a, f = tables["referrals"], tables["assessments"], tables["assessment_factors"]
    p = points.select("dp_id", "as_of_date", "index_referral_id")
    ref = p.join(r, p.index_referral_id == r.referral_id).select(
        "dp_id",
        index_closure_reason=r.closure_reason,
        index_nfa=r.nfa,
        index_episode_days=p.as_of_date.delta(r.referral_date, unit="day"),
    )
    assessed = p.join(
        a, [p.index_referral_id == a.referral_id, a.start_date <= p.as_of_date]
    ).select(p.dp_id, a.assessment_id, a.authorised_date, p.as_of_date)
    factors = assessed.join(f, "assessment_id").filter(
        lambda x: (x.authorised_date <= x.as_of_date) & (x.factor != NO_FACTOR)
    )
    n_factors = factors.group_by("dp_id").aggregate(index_assessment_factors=ibis._.count())
    was_assessed = assessed.select("dp_id").distinct().mutate(index_assessed=True)
    out = left_join_on(left_join_on(ref, was_assessed, "dp_id"), n_factors, "dp_id")
    return out.select(
        "dp_id",
        "index_closure_reason",
        "index_nfa",
        "index_episode_days",
        index_assessed=out.index_assessed.fill_null(False),
        index_assessment_factors=out.index_assessment_factors.fill_null(0),
    )
