"""What an assessment records: DfE factor codes and primary need, with recording noise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stratify.features.simulate.params import LATENTS
from stratify.features.simulate.records import code

L = {a: i for i, a in enumerate(LATENTS)}
Rule = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _has(*names: str) -> Rule:
    return lambda lat, age, male, oa: lat[:, [L[n] for n in names]].max(1) > 0


#: factor -> (condition on the child's situation, chance of recording it when true).
#: Conditions see: latent matrix, age in years, is male, another adult present.
FACTOR_RULES: dict[str, tuple[Rule, float]] = {
    "3B": (_has("da"), 0.85),
    "3A": (_has("da"), 0.30),
    "3C": (lambda lat, age, male, oa: (lat[:, L["da"]] > 0) & oa, 0.80),
    "4B": (_has("mh"), 0.80),
    "4A": (_has("cmh"), 0.85),
    "4C": (lambda lat, age, male, oa: (lat[:, L["mh"]] > 0) & oa, 0.60),
    "1B": (_has("alc"), 0.72),
    "2B": (_has("drg"), 0.62),
    "1C": (_has("oa_sm"), 0.15),
    "2C": (_has("oa_sm"), 0.22),
    "1A": (lambda lat, age, male, oa: (lat[:, L["teen"]] > 0) & (age >= 12), 0.15),
    "2A": (lambda lat, age, male, oa: (lat[:, L["teen"]] > 0) & (age >= 12), 0.40),
    "16A": (_has("neg"), 0.60),
    "17A": (_has("da", "mh", "sab"), 0.30),
    "18C": (_has("phy"), 0.68),
    "18B": (_has("teen"), 0.10),
    "19C": (_has("sab"), 0.70),
    "19B": (_has("sab"), 0.25),
    "5A": (_has("ld"), 0.90),
    "15A": (lambda lat, age, male, oa: (lat[:, L["cmh"]] > 0) & (age >= 11), 0.42),
    "14A": (_has("teen"), 0.50),
    "10A": (_has("teen"), 0.25),
    "24A": (lambda lat, age, male, oa: (lat[:, L["teen"]] > 0) & male, 0.28),
    "11A": (lambda lat, age, male, oa: (lat[:, L["teen"]] > 0) & ~male, 0.40),
    "13A": (lambda lat, age, male, oa: (lat[:, L["teen"]] > 0) & male, 0.15),
    "7A": (
        lambda lat, age, male, oa: _has("mh", "alc", "drg")(lat, age, male, oa) & (age >= 8),
        0.08,
    ),
}
FALSE_POSITIVE = 0.01
OTHER_FACTOR = 0.185  # "20 Other" is recorded this often whatever the situation


def record_factors(
    rng: np.random.Generator,
    lat: np.ndarray,
    recent: np.ndarray,
    *,
    age: np.ndarray,
    male: np.ndarray,
    other_adult: np.ndarray,
    noise: dict[str, float],
    history: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the factors recorded at the end of each assessment.

    A condition present now is recorded with the factor's sensitivity; one present in
    the family's recent past with ``history`` times that; otherwise with its noise rate.

    Returns
    -------
    rows, factor_codes : np.ndarray
        Row positions (into the inputs) and factor code indices, one pair per factor.
    """
    n = len(lat)
    rows, codes = [], []
    for factor, (rule, sensitivity) in FACTOR_RULES.items():
        now = rule(lat, age, male, other_adult)
        past = rule(recent, age, male, other_adult)
        prob = np.where(
            now,
            sensitivity,
            np.where(past, sensitivity * history, noise.get(factor, FALSE_POSITIVE)),
        )
        hit = np.flatnonzero(rng.random(n) < prob)
        rows.append(hit)
        codes.append(np.full(len(hit), code("assessment_factor", factor), np.int8))
    other = np.flatnonzero(rng.random(n) < OTHER_FACTOR)
    rows.append(other)
    codes.append(np.full(len(other), code("assessment_factor", "20"), np.int8))
    r, c = np.concatenate(rows), np.concatenate(codes)
    none = np.setdiff1d(np.arange(n), r)
    r = np.concatenate([r, none])
    c = np.concatenate([c, np.full(len(none), code("assessment_factor", "21"), np.int8)])
    return r, c


def primary_need(lat: np.ndarray, nfa: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Primary need code index per referral, from the child's dominant condition."""
    pick = np.full(len(lat), code("primary_need", "N4"), np.int8)
    order = (  # later rules win, so the most serious comes last
        ("N4", ("house",)),
        ("N6", ("teen",)),
        ("N3", ("mh",)),
        ("N2", ("ld",)),
        ("N5", ("alc", "drg", "oa_sm")),
        ("N1", ("da", "neg", "phy", "sab", "incident")),
    )
    for need_code, names in order:
        pick[lat[:, [L[n] for n in names]].max(1) > 0] = code("primary_need", need_code)
    none = lat.max(1) == 0
    pick[none] = np.where(
        rng.random(none.sum()) < 0.5, code("primary_need", "N9"), code("primary_need", "N4")
    )
    pick[nfa] = code("primary_need", "N0")
    return pick


def cp_category(lat: np.ndarray, rng: np.random.Generator, substance_neglect: float) -> np.ndarray:
    """Draw the initial category of abuse for new CP plans."""
    n = len(lat)
    has = {a: lat[:, L[a]] > 0 for a in ("da", "mh", "alc", "drg", "neg", "phy", "sab")}
    cat = np.full(n, code("cp_category", "EMO"), np.int8)
    substance = (has["alc"] | has["drg"]) & (rng.random(n) < substance_neglect)
    toxic = has["da"] | has["mh"]
    cat[(has["neg"] & (~toxic | (rng.random(n) < 0.6))) | substance] = code("cp_category", "NEG")
    cat[has["phy"] & ~has["neg"] & (rng.random(n) < 0.7)] = code("cp_category", "PHY")
    several = has["neg"].astype(int) + has["phy"] + has["sab"] >= 2
    cat[several & (rng.random(n) < 0.07)] = code("cp_category", "MUL")
    cat[has["sab"] & (rng.random(n) < 0.6)] = code("cp_category", "SAB")
    return cat
