"""Which warehouse tables each catalogue feature needs, and what a missing source costs.

A council's records may not hold every source: a CIN census return has no household
links, addresses, early help, care episodes or other agencies' contacts. The loader
records the absent tables and why in the warehouse meta (``sources_absent``, JSON
``{table: reason}``); the build leaves out every feature that needs one of them, and
records the unavailable feature groups, with the reason, in the build's metadata, which
training, the model card and the service's model metadata carry on.

A feature's sources are derived from its declaration (``stat``, the fact kinds of its
``source`` measure, its group), so a new feature declares its sources by what it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stratify.core.targets import Target
from stratify.features.catalogue import MEASURES, Feature, features_for

#: Warehouse meta key holding ``{table: reason}`` for the absent source tables.
META_ABSENT = "sources_absent"

#: Fact kind prefix -> the tables the fact comes from (longest prefix wins).
FACT_TABLES: dict[str, tuple[str, ...]] = {
    "referral": ("referrals",),
    "assessment": ("assessments",),
    "factor_": ("assessment_factors", "assessments"),
    "s47": ("section47",),
    "icpc": ("section47",),
    "cin_plan": ("cin_plans",),
    "cp_plan": ("cp_plans",),
    "looked_after": ("looked_after",),
    "early_help": ("early_help",),
    "event_": ("agency_events",),
    "household_early_help": ("early_help", "household_members"),
    "residence_move": ("residences", "household_members"),
    "adult_": ("household_members",),
}
#: Tables a computation needs whatever it counts.
STAT_TABLES: dict[str, tuple[str, ...]] = {
    "age": ("persons",),
    "composition": ("household_members",),
    "area": ("residences", "household_members"),
    "index": ("referrals", "assessments", "assessment_factors"),
    "members_count": ("household_members",),
    "members_with": ("household_members",),
    "members_open": ("household_members",),
}
#: Groups that describe the household: they need its membership.
HOUSEHOLD_GROUPS = ("household", "siblings", "adults")


def _fact_tables(kind: str) -> tuple[str, ...]:
    matches = [p for p in FACT_TABLES if kind.startswith(p)]
    return FACT_TABLES[max(matches, key=len)] if matches else ()


def feature_sources(f: Feature) -> frozenset[str]:
    """Return the warehouse tables ``f`` is computed from."""
    tables = set(STAT_TABLES.get(f.stat, ()))
    for kind in MEASURES.get(f.source or "", ()):
        tables.update(_fact_tables(kind))
    if f.group in HOUSEHOLD_GROUPS:
        tables.add("household_members")
    return frozenset(tables)


def absent_sources(meta: Mapping[str, str]) -> dict[str, str]:
    """Return ``{table: reason}`` recorded by the loader (empty when every source is present)."""
    text = meta.get(META_ABSENT)
    return dict(json.loads(text)) if text else {}


def unavailable(target: Target, absent: Mapping[str, str]) -> list[dict[str, Any]]:
    """Return the feature groups of ``target`` left out for want of a source, with why.

    Each entry: ``group`` (catalogue group), ``source`` (the first absent table the
    features need, in warehouse order of ``absent``), ``reason`` and ``features``.
    """
    found: dict[tuple[str, str], list[str]] = {}
    for f in features_for(target):
        missing = [t for t in absent if t in feature_sources(f)]
        if missing:
            found.setdefault((f.group, missing[0]), []).append(f.name)
    return [
        {"group": g, "source": t, "reason": absent[t], "features": names}
        for (g, t), names in found.items()
    ]


def unavailable_features(groups: list[dict[str, Any]]) -> set[str]:
    """Return every feature name in ``groups`` (as :func:`unavailable` returns them)."""
    return {name for g in groups for name in g["features"]}


def describe(groups: list[dict[str, Any]]) -> list[str]:
    """Return one plain sentence per unavailable group, for cards and logs."""
    return [
        f"{g['group']} features that need {g['source']} ({len(g['features'])}): {g['reason']}"
        for g in groups
    ]
