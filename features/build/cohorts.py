"""Decision points and labels for each target, as defined at the bottom of schema.py.

``escalation``: on each snapshot date, every child aged 0-17 living in a household,
known to a service in the look-back window and not itself open to statutory social
care; the label is a section 47 enquiry, CP plan or care episode starting within the horizon.
``rereferral``: the closure date of each referral closed with RC7-RC9; the label is
another referral of the child within the horizon. A label whose window ends after the
extract date is null (unlabelled), never a negative. Every point carries ``eligible``,
the outreach eligibility of its family on the date (:mod:`.eligibility`): points of
ineligible families are kept (training may learn from them) but are never evaluated or
listed.

The month arithmetic of the Ibis expressions (SQL intervals, day clamped to the end of
the month) is mirrored by :func:`add_months` for plain-Python callers.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from stratify.core.targets import Target
from stratify.features.build.eligibility import statutory_open, with_eligibility
from stratify.features.build.facts import Facts, Keep, Tables, as_is, left_join_on, months_before
from stratify.features.build.timeline import attach, counts_before, probes
from stratify.features.catalogue import EVENT_TYPES
from stratify.features.config import FeaturesConfig
from stratify.features.schema import REREFERRAL_CLOSURE_REASONS

ERR_NO_DATA = "the warehouse has no dated service records, so there are no decision points"
ERR_RANGE_OUTSIDE = (
    "the date range {start} to {end} is outside the data's range {data_start} to {data_end}"
)
ERR_RANGE_EMPTY = "the date range {start} to {end} is empty (its start is after its end)"
ERR_EMPTY_COHORT = "no {target} decision points between {start} and {end}"

ADULT_AGE_MONTHS = 18 * 12

#: Cohort measures: a service episode starting or ending, an agency event.
_SERVICE = ("referral", "early_help", "cin_plan", "cp_plan", "looked_after")
COHORT_MEASURES: dict[str, tuple[str, ...]] = {
    "service": _SERVICE,
    "service_end": tuple(f"{k}_end" for k in _SERVICE),
    "agency": tuple(f"event_{e}" for e in EVENT_TYPES),
}


class CohortError(ValueError):
    """The decision points cannot be formed (bad date range, empty cohort)."""


def require_points(target: str, rows: int, start: object, end: object) -> None:
    """Refuse a build that produced no decision points (either engine), naming the range.

    Raises
    ------
    CohortError
        If ``rows`` is 0.
    """
    if rows == 0:
        raise CohortError(ERR_EMPTY_COHORT.format(target=target, start=start, end=end))


def add_months(day: dt.date, months: int) -> dt.date:
    """Return ``day`` plus ``months`` calendar months, clamped to the month's last day."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_months_array(days: np.ndarray, months: int) -> np.ndarray:
    """Vectorised :func:`add_months`: ``datetime64`` days plus ``months``, clamped alike."""
    d = np.asarray(days).astype("datetime64[D]")
    first = d.astype("datetime64[M]")
    target = first + np.timedelta64(months, "M")
    last = (target + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")
    return np.minimum(target.astype("datetime64[D]") + (d - first.astype("datetime64[D]")), last)


def whole_months(start: dt.date, end: dt.date) -> int:
    """Return the whole calendar months from ``start`` to ``end`` (negative if earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - (1 if end.day < start.day else 0)


def snapshot_dates(start: dt.date, end: dt.date, every_months: int) -> list[dt.date]:
    """Return the snapshot dates in ``[start, end]``.

    The first day of every ``every_months``-th month counted from 1 January of each
    year (quarterly: 1 January, 1 April, 1 July, 1 October).
    """
    return [
        d
        for year in range(start.year, end.year + 1)
        for month in range(1, 13, every_months)
        if start <= (d := dt.date(year, month, 1)) <= end
    ]


def resolve_date_range(
    config: FeaturesConfig, data_start: dt.date | None, extract_date: dt.date
) -> tuple[dt.date, dt.date]:
    """Return the decision-point date range, checked against the data's range.

    Parameters
    ----------
    config : FeaturesConfig
        ``start_date`` defaults to the earliest service record plus the look-back,
        ``end_date`` to the extract date.
    data_start : datetime.date or None
        The earliest dated service record (None when there is none).
    extract_date : datetime.date
        The last date the data covers.

    Returns
    -------
    tuple of datetime.date
        ``(start, end)``, both inclusive.

    Raises
    ------
    CohortError
        If there are no records, or the range lies outside the data or is empty.
    """
    if data_start is None:
        raise CohortError(ERR_NO_DATA)
    start = config.start_date or add_months(data_start, config.lookback_months)
    end = config.end_date or extract_date
    if any(not data_start <= d <= extract_date for d in (start, end)):
        raise CohortError(
            ERR_RANGE_OUTSIDE.format(
                start=start, end=end, data_start=data_start, data_end=extract_date
            )
        )
    if start > end:
        raise CohortError(ERR_RANGE_EMPTY.format(start=start, end=end))
    return start, end


#: Selects children by ``person_id``: a boolean expression, true for those wanted.
Part = Callable[[ir.StringValue], ir.BooleanValue]


def everyone(person_id: ir.StringValue) -> ir.BooleanValue:
    """Select every child (the build in one part)."""
    return person_id.notnull()


def household_at(points: ir.Table, members: ir.Table, *, inner: bool) -> ir.Table:
    """Add the ``household_id`` each point's person lives in on its ``as_of_date``.

    A membership is valid when ``start_date < as_of`` and its end is empty or on or
    after ``as_of``; of several, the latest started (then the smallest id) is taken.
    With ``inner`` points without a household are dropped, otherwise kept with null.
    """
    m = members
    j = points.join(
        m,
        [
            points.person_id == m.person_id,
            m.start_date < points.as_of_date,
            m.end_date.isnull() | (m.end_date >= points.as_of_date),
        ],
    ).select(points.person_id, points.as_of_date, m.household_id, m.start_date)
    first = ibis.row_number().over(
        group_by=["person_id", "as_of_date"],
        order_by=[ibis.desc("start_date"), "household_id"],
    )
    chosen = j.mutate(_n=first).filter(lambda x: x._n == 0).drop("_n", "start_date")
    keys = ["person_id", "as_of_date"]
    return points.join(chosen, keys) if inner else left_join_on(points, chosen, keys)


def with_label(
    points: ir.Table, outcomes: ir.Table, horizon_months: int, extract_date: dt.date
) -> ir.Table:
    """Add ``label``: 1 if an outcome falls in ``[as_of, as_of + horizon)``, else 0.

    Null when ``as_of + horizon`` is after ``extract_date`` (the window is incomplete).
    When ``outcomes`` has a ``referral_id``, the point's own ``index_referral_id`` does
    not count as an outcome.
    """
    until = months_before(points.as_of_date, -horizon_months)
    o = outcomes
    preds = [points.person_id == o.person_id, o.date >= points.as_of_date, o.date < until]
    if "referral_id" in o.columns:
        preds.append(o.referral_id != points.index_referral_id)
    hits = points.join(o, preds).select(points.person_id, points.as_of_date).distinct()
    hits = hits.mutate(_hit=ibis.literal(1, "int8"))
    j = left_join_on(points, hits, ["person_id", "as_of_date"])
    incomplete = months_before(j.as_of_date, -horizon_months) > ibis.literal(extract_date)
    label = ibis.ifelse(incomplete, ibis.null("int8"), j._hit.fill_null(0).cast("int8"))
    return j.select(*points.columns, label=label)


def escalation_points(
    tables: Tables,
    facts: Facts,
    snapshots: list[dt.date],
    config: FeaturesConfig,
    *,
    keep: Keep = as_is,
    part: Part = everyone,
) -> ir.Table:
    """Return the escalation cohort: ``person_id``, ``as_of_date``, ``household_id``."""
    snaps = ibis.memtable(pa.table({"as_of_date": pa.array(snapshots, pa.date32())}))
    p = tables["persons"]
    c = p.filter(p.is_child, part(p.person_id)).select("person_id", "birth_month")
    c = c.cross_join(snaps)
    c = c.filter(
        c.birth_month < c.as_of_date,
        c.as_of_date < months_before(c.birth_month, -ADULT_AGE_MONTHS),
    ).select("person_id", "as_of_date")
    c = keep(household_at(c, tables["household_members"], inner=True))
    back = config.lookback_months
    counts = keep(counts_before(facts, probes(c, "person_id", (0, back)), COHORT_MEASURES))
    c = attach(c, counts, "person_id", {0: ("service", "agency"), back: ("service_end", "agency")})
    known = (c.service__0 - c[f"service_end__{back}"] > 0) | (
        c.agency__0 - c[f"agency__{back}"] > 0
    )
    c = c.filter(known).select("person_id", "as_of_date", "household_id")
    open_now = statutory_open(c.select("person_id", "as_of_date"), tables)
    return c.anti_join(open_now, ["person_id", "as_of_date"])


def rereferral_points(
    tables: Tables, start: dt.date, end: dt.date, part: Part = everyone
) -> ir.Table:
    """Return the rereferral cohort: one point per child and RC7-RC9 closure date.

    ``as_of_date`` is the closure date. When one child has two such closures on the
    same day, the referral made last (then the smallest id) is the point's index
    referral (``index_referral_id``); ``household_id`` is null when the child lives in
    no known household on that date.
    """
    r = tables["referrals"]
    closed = r.filter(
        r.closure_reason.isin(REREFERRAL_CLOSURE_REASONS),
        r.closure_date.notnull(),
        r.closure_date >= ibis.literal(start),
        r.closure_date <= ibis.literal(end),
        part(r.person_id),
    )
    first = ibis.row_number().over(
        group_by=["person_id", "closure_date"],
        order_by=[ibis.desc("referral_date"), "referral_id"],
    )
    idx = closed.mutate(_n=first).filter(lambda x: x._n == 0)
    idx = idx.select("person_id", as_of_date=idx.closure_date, index_referral_id=idx.referral_id)
    return household_at(idx, tables["household_members"], inner=False)


def escalation_outcomes(tables: Tables) -> ir.Table:
    """Return the escalation outcomes: s47 enquiries, CP plans and care episodes starting."""
    return ibis.union(
        *(
            tables[name].select("person_id", date=tables[name].start_date)
            for name in ("section47", "cp_plans", "looked_after")
        )
    )


def decision_points(
    tables: Tables,
    facts: Facts,
    target: Target,
    config: FeaturesConfig,
    *,
    date_range: tuple[dt.date, dt.date],
    extract_date: dt.date,
    keep: Keep = as_is,
    part: Part = everyone,
) -> ir.Table:
    """Return the labelled decision points of ``target`` in ``date_range``.

    Parameters
    ----------
    t : Mapping[str, ibis Table]
        The warehouse tables.
    facts : Facts
        Person facts (:func:`stratify.features.build.facts.person_facts`).
    target : {"escalation", "rereferral"}
    config : FeaturesConfig
    date_range : tuple of datetime.date
        Inclusive bounds on ``as_of_date``.
    extract_date : datetime.date
        Labels whose window ends after it are null.
    keep : callable, optional
        Materialises intermediate tables (see :data:`stratify.features.build.facts.Keep`).
    part : callable, optional
        Selects the children whose points are wanted, from their ``person_id`` (a build
        in parts passes a hash bucket); every child by default.

    Returns
    -------
    ibis Table
        ``person_id``, ``as_of_date``, ``household_id``, ``label`` (int8, null when
        unlabelled), for rereferral ``index_referral_id``, and ``eligible``: whether
        the family may be on an outreach list on the date
        (:mod:`stratify.features.build.eligibility`).
    """
    start, end = date_range
    if target == "escalation":
        snaps = snapshot_dates(start, end, config.snapshot_months)
        points = escalation_points(tables, facts, snaps, config, keep=keep, part=part)
        outcomes = escalation_outcomes(tables)
    else:
        points = rereferral_points(tables, start, end, part)
        r = tables["referrals"]
        outcomes = r.select("person_id", "referral_id", date=r.referral_date)
    labelled = with_label(points, outcomes, config.horizon_months, extract_date)
    return with_eligibility(keep(labelled), tables)
