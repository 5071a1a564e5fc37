"""Households and people: the starting population and month-by-month demography."""

from __future__ import annotations

import numpy as np

from stratify.features.simulate.adversity import area_effects
from stratify.features.simulate.params import HOUSEHOLD_LATENTS
from stratify.features.simulate.pathway import end_for_leaving
from stratify.features.simulate.store import unique_ids
from stratify.features.simulate.world import World

YEAR = 365.25


def _first_per_household(w: World, people: np.ndarray) -> np.ndarray:
    """One person per household among ``people``, chosen at random."""
    if len(people) == 0:
        return people
    people = w.rng.permutation(people)
    _, first, _ = unique_ids(w.persons["hh"][people], len(w.households))
    return people[first]


def counts(w: World, role: int) -> np.ndarray:
    """Active people of ``role`` per household."""
    p = w.persons
    sel = p["active"] & (p["role"] == role)
    return np.bincount(p["hh"][sel], minlength=len(w.households))


def init_adversity_rates(w: World, frailty: np.ndarray, lsoa: np.ndarray) -> None:
    """Set each adversity's onset rate so its prevalence settles near the target."""
    p = w.p
    onset_area, persist_area = area_effects(w, lsoa)
    for a in HOUSEHOLD_LATENTS:
        norm = float(np.mean(frailty ** p.frailty_power[a] * onset_area * persist_area))
        prev, dur = p.prevalence[a], p.duration[a]
        w.onset_base[a] = prev / (1 - prev) / dur / norm / (1 + p.co_occurrence * 0.3)


def add_households(w: World, n: int, month_index: int, *, oldest_max_years: float) -> np.ndarray:
    """Create ``n`` households (children, parents, latent adversity) at ``month_index``."""
    p, rng = w.p, w.rng
    n_lsoa = len(w.lsoa["imd"])
    lsoa = rng.integers(0, n_lsoa, n).astype(np.int32)
    mix = w.lsoa["mix"][lsoa]
    eg = (rng.random(n)[:, None] > np.cumsum(mix, 1)).sum(1).astype(np.int8)
    dep = w.deprivation(lsoa)
    # clipped at 2.5 standard deviations so a handful of households cannot dominate a seed
    noise = np.clip(rng.normal(0, 1, n), -2.5, 2.5) * p.frailty_sigma
    frailty = np.exp(p.frailty_deprivation * dep + noise)
    if not w.onset_base:
        init_adversity_rates(w, frailty, lsoa)
    hh = w.households.add(
        n,
        frailty=frailty,
        eg=eg,
        active=True,
        new_adult=-1000,
        res=-1,
        engagement=rng.beta(4, 3, n),
        eh_until=-1,
        **{f"last_{a}": -1000 for a in HOUSEHOLD_LATENTS},
    )
    onset_area, persist_area = area_effects(w, lsoa)
    for a in HOUSEHOLD_LATENTS:
        norm = w.onset_base[a] * p.duration[a] * (1 + p.co_occurrence * 0.3)
        prob = np.minimum(0.9, norm * frailty ** p.frailty_power[a] * onset_area * persist_area)
        w.households[a][hh] = rng.random(n) < prob
    # the starting population has lived here since before month 0; newcomers arrive in t
    join = (
        np.full(n, w.month_day[0] - 1, np.int32) if month_index == 0 else w.day_in(month_index, n)
    )
    w.set_residence(hh, lsoa, join)
    oldest_birth = _add_children(w, hh, month_index, join, oldest_max_years)
    _add_adults(w, hh, month_index, join=join, oldest_birth=oldest_birth, dep=dep)
    return hh


def _add_children(
    w: World, hh: np.ndarray, month_index: int, join: np.ndarray, oldest_max_years: float
) -> np.ndarray:
    """Add each household's children; return the oldest child's birth day per household."""
    rng, p = w.rng, w.p
    share = np.asarray(p.children_per_household)
    k = rng.choice(len(share), size=len(hh), p=share / share.sum()) + 1
    oldest = rng.random(len(hh)) * oldest_max_years
    ages, owners, joins = [], [], []
    for j in range(int(k.max())):
        has = k > j
        age = oldest[has] - (0 if j == 0 else rng.uniform(1, 4.5, has.sum()) * j)
        keep = age >= 0
        ages.append(age[keep])
        owners.append(hh[has][keep])
        joins.append(join[has][keep])
    birth = (w.month_day[month_index] - np.concatenate(ages) * YEAR).astype(np.int32)
    kids = w.add_people(
        month_index, np.concatenate(owners), 0, birth, np.maximum(birth, np.concatenate(joins))
    )
    _init_child_latents(w, kids, month_index)
    return (w.month_day[month_index] - oldest * YEAR).astype(np.int32)


def _init_child_latents(w: World, kids: np.ndarray, month_index: int) -> None:
    p, rng = w.p, w.rng
    age = w.age_months(month_index, kids) / 12
    for a in ("sab", "cmh", "teen"):
        ok = age >= p.child_min_age[a]
        w.persons[a][kids] = ok & (rng.random(len(kids)) < p.child_prevalence[a])


def _add_adults(
    w: World,
    hh: np.ndarray,
    month_index: int,
    *,
    join: np.ndarray,
    oldest_birth: np.ndarray,
    dep: np.ndarray,
) -> None:
    p, rng = w.p, w.rng
    single = p.single_parent_least + (p.single_parent_most - p.single_parent_least) * (dep + 1) / 2
    n_par = np.where(rng.random(len(hh)) < single, 1, 2)
    for j in range(2):
        sel = n_par > j
        birth = (oldest_birth[sel] - rng.uniform(20, 36, sel.sum()) * YEAR).astype(np.int32)
        w.add_people(month_index, hh[sel], 1, birth, join[sel])
    oa = rng.random(len(hh)) < p.other_adult_share
    birth = (w.month_day[month_index] - rng.uniform(18, 70, oa.sum()) * YEAR).astype(np.int32)
    w.add_people(month_index, hh[oa], 2, birth, join[oa])


def initial_population(w: World, n_children: int) -> None:
    """Create the starting borough with about ``n_children`` children."""
    w.build_geography(n_children)
    w.target_children = n_children
    mean_k = np.dot(np.arange(1, 6), w.p.children_per_household) * 0.93
    add_households(w, int(n_children / mean_k), 0, oldest_max_years=17.99)


def demography(w: World, month_index: int) -> None:
    """One month of ageing out, births, adults joining and leaving, moves and migration."""
    _age_out(w, month_index)
    _births(w, month_index)
    _adults_change(w, month_index)
    _moves(w, month_index)
    _migrate_out(w, month_index)
    _drop_childless(w, month_index)
    _migrate_in(w, month_index)


def _age_out(w: World, month_index: int) -> None:
    kids = w.children()
    old = kids[w.age_months(month_index, kids) >= 18 * 12]
    if len(old):
        day = w.day_in(month_index, len(old))
        end_for_leaving(w, old, month_index, day, "RC7")
        w.end_people(old, day)


def _births(w: World, month_index: int) -> None:
    p, h = w.p, w.households
    kids = w.children()
    youngest = np.full(len(h), 10_000, np.int64)
    # int64 ages: numpy's fast path of ufunc.at wants the output's dtype (5x faster)
    ages = w.age_months(month_index, kids).astype(np.int64)
    np.minimum.at(youngest, w.persons["hh"][kids].astype(np.intp), ages)
    eligible = h["active"] & (youngest < 120) & (counts(w, 1) > 0)
    born = np.flatnonzero(eligible & (w.rng.random(len(h)) < p.birth_rate))
    if len(born):
        day = w.day_in(month_index, len(born))
        w.add_people(month_index, born, 0, day, day)


def _adults_change(w: World, month_index: int) -> None:
    p, h, rng = w.p, w.households, w.rng
    parents = counts(w, 1)
    others = counts(w, 2)
    act = h["active"]
    leave = act & (parents == 2) & (rng.random(len(h)) < p.partner_leaves * (1 + 2 * h["da"]))
    _remove_one(w, np.flatnonzero(leave), 1, month_index)
    h["da"][leave] &= rng.random(leave.sum()) < 0.5
    join = act & (parents == 1) & (rng.random(len(h)) < p.partner_joins)
    oa_join = act & (others == 0) & (rng.random(len(h)) < p.other_adult_joins)
    for role, sel in ((1, join), (2, oa_join)):
        hh = np.flatnonzero(sel)
        day = w.day_in(month_index, len(hh))
        w.add_people(
            month_index, hh, role, (day - rng.uniform(20, 45, len(hh)) * YEAR).astype(np.int32), day
        )
        h["new_adult"][hh] = month_index
    oa_leave = act & (others > 0) & (rng.random(len(h)) < p.other_adult_leaves)
    _remove_one(w, np.flatnonzero(oa_leave), 2, month_index)
    h["oa_sm"][oa_leave] = False


def _remove_one(w: World, hh: np.ndarray, role: int, month_index: int) -> None:
    p = w.persons
    mask = np.zeros(len(w.households), bool)
    mask[hh] = True
    cand = np.flatnonzero(p["active"] & (p["role"] == role) & mask[p["hh"]])
    gone = _first_per_household(w, cand)
    w.end_people(gone, w.day_in(month_index, len(gone)))


def _moves(w: World, month_index: int) -> None:
    p, h, rng = w.p, w.households, w.rng
    rate = p.move_rate * (1 + 3 * h["house"])
    hh = np.flatnonzero(h["active"] & (rng.random(len(h)) < rate))
    if len(hh) == 0:
        return
    new = _new_home(w, h["lsoa"][hh])
    w.set_residence(hh, new, w.day_in(month_index, len(hh)))
    h["house"][hh] &= rng.random(len(hh)) < 0.5
    pp = w.persons
    mover = pp["active"] & np.isin(pp["hh"], hh)
    pp["last_lsoa"][mover] = h["lsoa"][pp["hh"][mover]]


def _new_home(w: World, old: np.ndarray) -> np.ndarray:
    """Draw each moving household's new LSOA: most moves stay in similar areas.

    Families move locally and within what they can afford (social housing transfers,
    private renting in the same market), so a move changes deprivation little; a share
    ``1 - local_moves`` moves anywhere in the borough.
    """
    rng, imd = w.rng, w.lsoa["imd"]
    new = rng.integers(0, len(imd), len(old)).astype(np.int32)
    local = rng.random(len(old)) < w.p.local_moves
    want = np.clip(imd[old] + rng.integers(-1, 2, len(old)), 1, 10)
    for d in range(1, 11):
        pool = np.flatnonzero(imd == d)
        sel = local & (want == d)
        if len(pool) and sel.any():
            new[sel] = pool[rng.integers(0, len(pool), int(sel.sum()))]
    return new


def _migrate_out(w: World, month_index: int) -> None:
    h, p = w.households, w.persons
    in_care = np.zeros(len(h), bool)
    in_care[p["hh"][p["active"] & (p["st"] == 4)]] = True
    leave = h["active"] & ~in_care & (w.rng.random(len(h)) < w.p.migrate_out)
    _close_households(w, np.flatnonzero(leave), month_index, "RC5")


def _close_households(w: World, hh: np.ndarray, month_index: int, reason: str) -> None:
    if len(hh) == 0:
        return
    h, p = w.households, w.persons
    day_h = w.day_in(month_index, len(h))
    mask = np.zeros(len(h), bool)
    mask[hh] = True
    people = np.flatnonzero(p["active"] & mask[p["hh"]])
    day = day_h[p["hh"][people]]
    kids = people[p["role"][people] == 0]
    end_for_leaving(w, kids, month_index, day_h[p["hh"][kids]], reason)
    w.end_people(people, day)
    h["active"][hh] = False
    if w.rec is not None:
        res = h["res"][hh]
        ok = res >= 0
        start = w.rec.residences["start"][res[ok]]
        w.rec.residences["end"][res[ok]] = np.maximum(day_h[hh][ok], start)


def _drop_childless(w: World, month_index: int) -> None:
    h = w.households
    empty = np.flatnonzero(h["active"] & (counts(w, 0) == 0))
    _close_households(w, empty, month_index, "RC7")


def _migrate_in(w: World, month_index: int) -> None:
    deficit = w.target_children - len(w.children())
    if deficit > 0:
        mean_k = float(np.dot(np.arange(1, 6), w.p.children_per_household))
        n = int(w.rng.poisson(deficit / mean_k))
        if n:
            add_households(w, n, month_index, oldest_max_years=10.0)
