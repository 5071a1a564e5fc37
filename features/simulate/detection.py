"""Agencies: what they see of families' adversity, as agency events and referrals.

Detection rates depend on the agency and the condition, and are multiplied by each
household's detection bias (deprivation and ethnic group), so the records are a
biased picture of true need. ``detection_bias = 0`` removes that bias.
"""

from __future__ import annotations

import numpy as np

from stratify.features.simulate.adversity import latent_matrix
from stratify.features.simulate.params import LATENTS, SOURCES
from stratify.features.simulate.store import unique_ids
from stratify.features.simulate.world import World

#: event type -> (agency, who it is recorded on, age range in years, {latent: monthly rate},
#: background monthly rate)
EVENTS: dict[str, tuple[str, str, tuple[int, int], dict[str, float], float]] = {
    "police_domestic_abuse": ("police", "household", (0, 18), {"da": 0.10}, 0.0006),
    "adult_mental_health": ("health", "parent", (0, 18), {"mh": 0.14}, 0.004),
    "substance_misuse_service": (
        "health",
        "parent",
        (0, 18),
        {"alc": 0.07, "drg": 0.09, "oa_sm": 0.04},
        0.0008,
    ),
    "homelessness": ("housing", "parent", (0, 18), {"house": 0.25}, 0.0008),
    "persistent_absence": (
        "schools",
        "child",
        (5, 16),
        {"neg": 0.06, "teen": 0.10, "cmh": 0.05, "drg": 0.02},
        0.004,
    ),
    "school_exclusion": ("schools", "child", (5, 16), {"teen": 0.06, "cmh": 0.01}, 0.001),
    "child_mental_health": ("health", "child", (8, 18), {"cmh": 0.12, "sab": 0.05}, 0.002),
    "emergency_department_injury": (
        "health",
        "child",
        (0, 18),
        {"incident": 0.5, "phy": 0.03},
        0.004,
    ),
    "police_missing_episode": ("police", "child", (10, 18), {"teen": 0.08, "cmh": 0.01}, 0.0003),
    "youth_justice": ("la_services", "child", (10, 18), {"teen": 0.04}, 0.0002),
    "anti_social_behaviour": ("police", "child", (10, 18), {"teen": 0.05}, 0.001),
}


POLICE = SOURCES.index("police")
_BUT_LAST = np.append(np.ones(len(LATENTS) - 1, np.float32), np.float32(0))


def _rate_vector(rates: dict[str, float]) -> np.ndarray:
    return np.array([rates.get(a, 0.0) for a in LATENTS], np.float32)


def agency_events(w: World, month_index: int, kids: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Record this month's agency events; return a mask of children with any event."""
    if w.rec is None:
        return np.zeros(len(kids), bool)
    pp, h, rng = w.persons, w.households, w.rng
    hh = pp["hh"][kids]
    bias = h["bias"][hh]
    age = w.age_months(month_index, kids) / 12
    touched = np.zeros(len(kids), bool)
    parent = _one_parent(w)
    uniq, first, _ = unique_ids(hh, len(h))
    for etype, (agency, who, (lo, hi), rates, bg) in EVENTS.items():
        rate = (lat @ _rate_vector(rates) + bg) * bias
        if who == "child":
            hit = (age >= lo) & (age < hi) & (rng.random(len(kids)) < rate)
            w.rec.event(kids[hit], w.day_in(month_index, int(hit.sum())), etype, agency)
            touched |= hit
            continue
        # household-level events: one draw per household, using its first child's rate
        hit_h = rng.random(len(uniq)) < rate[first]
        day_h = np.zeros(len(h), np.int32)
        day_h[uniq[hit_h]] = w.day_in(month_index, int(hit_h.sum()))
        hit_hh = np.zeros(len(h), bool)
        hit_hh[uniq[hit_h]] = True
        adults = parent[uniq[hit_h]]
        adults = adults[adults >= 0]
        w.rec.event(adults, day_h[pp["hh"][adults]], etype, agency)
        if who == "household":
            on = hit_hh[hh]
            w.rec.event(kids[on], day_h[hh[on]], etype, agency)
            touched |= on
    return touched


def _one_parent(w: World) -> np.ndarray:
    """For each household, one active parent/carer (or -1)."""
    pp = w.persons
    out = np.full(len(w.households), -1, np.int32)
    par = np.flatnonzero(pp["active"] & (pp["role"] == 1))
    out[pp["hh"][par[::-1]]] = par[::-1]  # the earliest-created parent wins
    return out


def referral_sources(w: World, kids: np.ndarray, lat: np.ndarray, month_index: int) -> np.ndarray:
    """Draw this month's referrals: the source index per child, or -1 for none.

    Household concerns refer each child of the household with ``sibling_referral``
    chance (siblings are usually referred together); the child's own conditions and
    the agencies' false alarms refer the child alone.
    """
    p, pp, h, rng = w.p, w.persons, w.households, w.rng
    hh = pp["hh"][kids]
    bias = h["bias"][hh][:, None]
    weight = np.array([p.source_weight[s] for s in SOURCES], np.float32)
    vis = np.array([p.visibility[a] for a in LATENTS])
    hh_aff = np.array([[p.hh_affinity[s].get(a, 0.0) for a in LATENTS] for s in SOURCES]) * vis
    ch_aff = np.array([[p.child_affinity[s].get(a, 0.0) for a in LATENTS] for s in SOURCES]) * vis
    fa = np.array([p.false_alarm[s] for s in SOURCES], np.float32)
    police = w.scenario.police_rate(month_index)
    if police != 1.0:  # a scenario: the police refer more (or less) readily, whatever the concern
        weight[POLICE] *= police
        fa[POLICE] *= police
    # concerns that stack up are likelier to be referred
    # (the conditions but the last, "incident", counted by a product: whole numbers, so
    # exactly the row sums, without numpy's slow loop over millions of short rows)
    stack = 1 + p.concern_stacking * np.maximum(lat @ _BUT_LAST - 1, 0)
    # agencies re-refer a family recently known to children's social care more readily
    known = np.where(month_index - pp["closed_m"][kids] <= 12, p.known_boost, 1.0)
    bias = bias * (stack * known)[:, None]
    # household concern: one draw per household (its first child's view of it)
    _, first, inv = unique_ids(hh, len(h))
    haz_h = lat[first] @ hh_aff.T.astype(np.float32)
    haz_h *= weight
    src_h = _draw(rng, _times(haz_h, bias[first]))
    src = np.where(rng.random(len(kids)) < p.sibling_referral, src_h[inv], -1)
    haz_c = lat @ ch_aff.T.astype(np.float32)
    haz_c *= weight
    haz_c += fa
    src_c = _draw(rng, _times(haz_c, bias))
    return np.where(src >= 0, src, src_c)


def _times(hazard: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Return ``hazard * bias`` (float32 times float64, as numpy promotes), in place."""
    out = hazard.astype(np.float64)
    out *= bias
    return out


def _draw(rng: np.random.Generator, hazard: np.ndarray) -> np.ndarray:
    """One competing-risks draw per row: the index of the event, or -1."""
    total = hazard.sum(1)
    hit = rng.random(len(hazard)) < -np.expm1(-total)
    u = rng.random(len(hazard)) * total
    # which event, for the rows with one only (a few in a hundred): the running sum
    # column by column, the very additions of a row-wise cumsum, without numpy's slow
    # loop over short rows (re-simulations spend most of their time here)
    rows = np.flatnonzero(hit)
    hazard, u = hazard[rows], u[rows]
    cum = hazard[:, 0].copy()
    which = (u > cum).astype(np.int64)
    for k in range(1, hazard.shape[1]):
        cum += hazard[:, k]
        which += u > cum
    out = np.full(len(hit), -1, np.int64)
    out[rows] = np.minimum(which, hazard.shape[1] - 1)
    return out


__all__ = ["EVENTS", "agency_events", "referral_sources", "latent_matrix"]
