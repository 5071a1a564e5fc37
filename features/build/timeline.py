"""Point-in-time counts: how many facts of each kind a subject had before a date.

The question every feature asks is "for subject s on date t, how many facts of kind k
are dated strictly before t?". Joining every decision point to every earlier fact
answers it but grows with (points per person x facts per person). Instead the dates
asked about (the *probes*) are slotted into each subject's history, which is then
read once in date order:

1. probes and facts go into one timeline per subject, ordered by date with a probe
   before any fact of the same date (so a fact dated on the probe date is *not* before
   it);
2. running sums of the facts' counts (and running maxima of their dates) are taken
   along each timeline;
3. each probe reads the running totals at its place in the timeline.

Windowed counts are differences: facts in ``[t - w, t)`` = count before ``tables`` minus
count before ``t - w``. Only window functions and joins are used, so the same
expressions compile for Spark.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from stratify.features.build.facts import (
    FACT_SCHEMA,
    Facts,
    Keep,
    as_is,
    months_before,
    whole_months,
)
from stratify.features.catalogue import MEASURES, Feature

PROBE_SCHEMA = {"subject": "string", "date": "date"}

#: Counts are carried packed, several to a 64-bit integer: a running sum of packed
#: counts is the packed running sums, so far fewer window sums are needed. Each count
#: gets as many bits as the most facts any subject has, so the packing is exact.
WORD_BITS = 63
_ZERO = ibis.literal(0, "int64")


def _packing(
    measures: Mapping[str, Collection[str]], kinds: Collection[str], most: int
) -> tuple[ir.Table, dict[str, ir.Value]]:
    """Return the kind -> packed words lookup, and how to unpack each measure from it.

    A measure's count never exceeds ``most`` (all the facts of one subject), so
    ``most.bit_length()`` bits hold it. ``kinds`` are all the kinds to keep.
    """
    bits = max(most.bit_length(), 1)
    per_word = WORD_BITS // bits
    names = sorted(measures)
    place = {m: divmod(i, per_word) for i, m in enumerate(names)}
    words = [f"_w{w}" for w in range((len(names) + per_word - 1) // per_word)]
    kept = sorted(kinds)
    packed = {w: [0] * len(kept) for w in words}
    for m, (w, b) in place.items():
        for k in measures[m]:
            packed[words[w]][kept.index(k)] += 1 << (bits * b)
    table: dict[str, list[Any]] = {"kind": kept, **packed}
    lookup = ibis.memtable(table, schema={"kind": "string", **dict.fromkeys(words, "int64")})
    mask = (1 << bits) - 1
    unpack = {m: (ibis._[words[w]] >> (bits * b)) & mask for m, (w, b) in place.items()}
    return lookup, unpack


def counts_before(
    facts: Facts,
    probes: ir.Table,
    measures: Mapping[str, Collection[str]],
    latest: Mapping[str, Collection[str]] | None = None,
) -> ir.Table:
    """Count each measure's facts dated strictly before each probe date.

    Parameters
    ----------
    facts : Facts
        ``subject``, ``date``, ``kind``, and the most facts of any subject.
    probes : ibis Table
        ``subject``, ``date``: the (subject, date) pairs asked about.
    measures : Mapping[str, Collection[str]]
        Output column -> the fact kinds it counts.
    latest : Mapping[str, Collection[str]], optional
        Output column -> the fact kinds whose latest date before the probe is wanted.

    Returns
    -------
    ibis Table
        One row per distinct probe: ``subject``, ``date``, one int64 column per measure
        and one date column (null when there is none) per ``latest`` entry.
    """
    latest = latest or {}
    kinds = {k for ks in (*measures.values(), *latest.values()) for k in ks}
    lookup, unpack = _packing(measures, kinds, facts.most)
    words = [c for c in lookup.columns if c != "kind"]
    p = probes.select("subject", "date").distinct().cast(PROBE_SCHEMA)
    f = facts.rows.cast(FACT_SCHEMA)
    f = f.filter(f.subject.isin(p.subject)).join(lookup, "kind")
    no_date = ibis.null("date")
    timeline = ibis.union(
        p.mutate(
            is_probe=ibis.literal(1),
            **dict.fromkeys(words, _ZERO),
            **dict.fromkeys(latest, no_date),
        ),
        f.select(
            "subject",
            "date",
            is_probe=ibis.literal(0),
            **{w: f[w] for w in words},
            **{m: ibis.ifelse(f.kind.isin(sorted(k)), f.date, no_date) for m, k in latest.items()},
        ),
    )
    # A probe sorts before the facts of its own date, so its running totals hold
    # exactly the facts dated strictly before it.
    in_order = ibis.window(
        group_by="subject", order_by=["date", ibis.desc("is_probe")], rows=(None, 0)
    )
    totals = timeline.mutate(
        **{w: timeline[w].sum().over(in_order) for w in words},
        **{m: timeline[m].max().over(in_order) for m in latest},
    )
    at_probe = totals.filter(totals.is_probe == 1)
    return at_probe.select("subject", "date", *latest, **{m: unpack[m] for m in measures})


def probes(points: ir.Table, subject: str, months: Iterable[int]) -> ir.Table:
    """Return the distinct (subject, as_of - m months) probes for ``points``."""
    parts = [
        points.select(subject=points[subject], date=months_before(points.as_of_date, m))
        for m in sorted(set(months))
    ]
    out = ibis.union(*parts).distinct()
    return out.filter(out.subject.notnull())


def attach(
    points: ir.Table, counts: ir.Table, subject: str, columns: Mapping[int, Collection[str]]
) -> ir.Table:
    """Join counts at several look-backs onto ``points``.

    Parameters
    ----------
    points : ibis Table
        Has ``subject`` and ``as_of_date`` columns.
    counts : ibis Table
        From :func:`counts_before`.
    subject : str
        The column of ``points`` holding the subject.
    columns : Mapping[int, Collection[str]]
        Months back -> the ``counts`` columns wanted at ``as_of - months``; each is
        added as ``<column>__<months>`` (zero, or null for dates, when the subject is
        unknown).

    Returns
    -------
    ibis Table
    """
    out = points
    for m, names in sorted(columns.items()):
        c = counts.select("subject", "date", *sorted(names))
        j = out.left_join(
            c, [out[subject] == c.subject, months_before(out.as_of_date, m) == c.date]
        )
        added = {f"{n}__{m}": _zero_if_null(c[n]) for n in sorted(names)}
        out = j.select(*[out[col] for col in out.columns], **added)
    return out


def _zero_if_null(col: ir.Column) -> ir.Column:
    return col if col.type().is_date() else col.fill_null(0)


def _needs(
    features: Iterable[Feature],
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], dict[int, set[str]]]:
    """Return the measures, latest-date measures and look-backs the features need."""
    measures: dict[str, tuple[str, ...]] = {}
    latest: dict[str, tuple[str, ...]] = {}
    columns: dict[int, set[str]] = {0: set()}
    for f in features:
        src = f.source or ""
        if f.stat == "months_since":
            latest[f"last_{src}"] = MEASURES[src]
            columns[0].add(f"last_{src}")
            continue
        used = [src, f"{src}_end"] if f.stat in ("open", "members_open") else [src]
        for m in used:
            measures[m] = MEASURES[m]
            columns[0].add(m)
        if f.window_months is not None:
            columns.setdefault(f.window_months, set()).add(src)
    return measures, latest, columns


def feature_value(row: ir.Table, f: Feature) -> ir.Value:
    """Return the expression for a generic feature over ``attach``-ed columns.

    For the member stats this is the value for one member, before aggregation.
    """
    src = f.source or ""
    if f.stat == "months_since":
        return whole_months(row[f"last_{src}__0"], row.as_of_date)
    if f.stat in ("open", "members_open"):
        return row[f"{src}__0"] - row[f"{src}_end__0"] > 0
    value = row[f"{src}__0"]
    if f.window_months is not None:
        value = value - row[f"{src}__{f.window_months}"]
    return value > 0 if f.stat in ("any", "members_with") else value


def timeline_columns(
    points: ir.Table,
    facts: Facts,
    subject: str,
    features: Iterable[Feature],
    keep: Keep = as_is,
) -> ir.Table:
    """Attach to ``points`` every count the generic ``features`` read (see ``attach``)."""
    measures, latest, columns = _needs(features)
    counts = keep(counts_before(facts, probes(points, subject, columns), measures, latest))
    return attach(points, counts, subject, columns)
