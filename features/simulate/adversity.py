"""Latent adversity: how family difficulties start, persist, co-occur and end, and need.

Nothing here is observed directly: agencies see it only through detection
(:mod:`stratify.features.simulate.detection`), which is where bias enters.
"""

from __future__ import annotations

import numpy as np

from stratify.features.simulate.params import ETHNIC_GROUPS, HOUSEHOLD_LATENTS, LATENTS
from stratify.features.simulate.records import code
from stratify.features.simulate.world import World

TRIO = ("da", "mh", "alc", "drg")
MALE = code("sex", "1")


def adversity_step(w: World, month_index: int) -> None:
    """Advance every household's and child's latent conditions by one month."""
    _household_step(w, month_index)
    _child_step(w, month_index)


def _household_step(w: World, month_index: int) -> None:
    p, h, rng = w.p, w.households, w.rng
    act = h["active"]
    present = np.stack([h[a] for a in HOUSEHOLD_LATENTS])
    n_present = present.sum(0)
    support = np.where(h["supported"] | (h["eh_open"] & h["eh_eff"]), p.support_remission, 1.0)
    # a child protection plan's core group brings specialist help (domestic abuse,
    # substance misuse, parenting) that ends difficulties faster still
    support = np.where(h["protected"], p.cp_support_remission, support)
    new_adult = (month_index - h["new_adult"]) < 12
    onset_area, persist_area = area_effects(w, h["lsoa"])
    u = rng.random((len(HOUSEHOLD_LATENTS), len(h)))
    # (1 + co_occurrence) ** k for k = 0..3, looked up (the same powers, computed once)
    stacked = (1 + p.co_occurrence) ** np.arange(4, dtype=np.int64)
    for i, a in enumerate(HOUSEHOLD_LATENTS):
        on = present[i]
        others = n_present - on
        onset = w.onset_base[a] * h["frailty"] ** p.frailty_power[a] * onset_area
        onset = onset * stacked[np.minimum(others, 3)]
        if a in ("da", "alc", "drg", "phy"):
            onset = onset * np.where(new_adult, p.new_adult_risk, 1.0)
        if a == "neg":
            onset = onset * (1 + 1.5 * (h["alc"] | h["drg"]))
        remission = support / (p.duration[a] * persist_area)
        nxt = np.where(on, u[i] >= remission, u[i] < onset)
        h[a][:] = nxt & act
        h[f"last_{a}"][h[a]] = month_index


def area_effects(w: World, lsoa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the onset and duration multipliers of living in each of ``lsoa``.

    Deprivation acts on adversity where the family lives now, not only through who the
    family is (its frailty): money worries, insecure and crowded housing and fewer
    services start difficulties (onset) and keep them going (persistence). See
    ``features/data/simulator_mechanisms.md``.
    """
    p = w.p
    dep = w.deprivation(np.arange(len(w.lsoa["imd"])))  # per LSOA, then looked up
    return np.exp(p.onset_deprivation * dep)[lsoa], np.exp(p.persistence_deprivation * dep)[lsoa]


def _child_step(w: World, month_index: int) -> None:
    p, pp, h, rng = w.p, w.persons, w.households, w.rng
    kids = w.children()
    hh = pp["hh"][kids]
    age = w.age_months(month_index, kids) / 12
    lift = {
        "sab": 1 + 2 * h["phy"][hh] + 2 * h["oa_sm"][hh] + h["neg"][hh],
        "cmh": 1 + h["mh"][hh] + h["da"][hh] + 2 * pp["sab"][kids],
        "teen": (1 + 1.5 * h["neg"][hh] + h["da"][hh] + h["house"][hh])
        * np.where(pp["sex"][kids] == MALE, 1.4, 0.7)
        * np.sqrt(h["frailty"][hh]),
    }
    for a, mult in lift.items():
        prev, dur = p.child_prevalence[a], p.child_duration[a]
        base = prev / (1 - prev) / dur / 2.0
        eligible = age >= p.child_min_age[a]
        on = pp[a][kids]
        u = rng.random(len(kids))
        nxt = np.where(on, u >= 1 / dur, u < base * mult)
        pp[a][kids] = nxt & eligible
    pp["need"][kids] = need(w, kids, month_index)
    harm = p.incident_rate * pp["need"][kids] ** 2
    pp["incident"][kids] = rng.random(len(kids)) < harm


def latent_matrix(w: World, kids: np.ndarray) -> np.ndarray:
    """Children x LATENTS matrix of 0/1 (household conditions seen from each child)."""
    pp, h = w.persons, w.households
    hh = pp["hh"][kids]
    cols = [h[a][hh] if a in HOUSEHOLD_LATENTS else pp[a][kids] for a in LATENTS]
    return np.stack(cols, axis=1).astype(np.float32)


def recent_matrix(w: World, kids: np.ndarray, month_index: int, months: int) -> np.ndarray:
    """Like :func:`latent_matrix`, but household conditions present in the last ``months``."""
    pp, h = w.persons, w.households
    hh = pp["hh"][kids]
    cols = [
        (month_index - h[f"last_{a}"][hh]) < months if a in HOUSEHOLD_LATENTS else pp[a][kids]
        for a in LATENTS
    ]
    return np.stack(cols, axis=1).astype(np.float32)


def need(w: World, kids: np.ndarray, month_index: int) -> np.ndarray:
    """Return each child's true need: weighted adversity, more when the trio co-occur."""
    p, h = w.p, w.households
    lat = latent_matrix(w, kids)
    weights = np.array([p.need_weights[a] for a in LATENTS], np.float32)
    s = lat @ weights
    hh = w.persons["hh"][kids]
    trio = sum(h[a][hh].astype(np.int8) for a in TRIO)
    s += p.need_trio_bonus * (trio >= 2)
    infant = w.age_months(month_index, kids) < 24
    s += p.need_infant_bonus * infant * (h["da"][hh] | h["drg"][hh] | h["neg"][hh])
    # informal support (family nearby, money for childcare, a car, a quiet home) buffers
    # a child from the same adversity more in better-off areas
    # (worked out per LSOA and per group, then looked up child by child)
    s *= np.exp(p.informal_support * w.deprivation(np.arange(len(w.lsoa["imd"]))))[h["lsoa"][hh]]
    # and extended family living close by buffers it more in some communities
    s *= np.exp(-np.array([p.ethnic_support[g] for g in ETHNIC_GROUPS], np.float32))[h["eg"][hh]]
    # a looked-after child is away from the household's harm
    s *= np.where(w.persons["st"][kids] == 4, 0.3, 1.0)
    return s.astype(np.float32)
