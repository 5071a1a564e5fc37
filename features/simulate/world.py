"""The borough's state: geography, households and people, as arrays.

Months are indexed from the start of the simulation (month 0 = the first April);
record dates are days since 1970-01-01 so that arithmetic stays vectorised.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from stratify.features.simulate.params import ETHNIC_GROUPS, HOUSEHOLD_LATENTS, SimParams
from stratify.features.simulate.records import Recorder, code
from stratify.features.simulate.scenario import Timeline
from stratify.features.simulate.store import Store

I32, I8, F32, B = np.int32, np.int8, np.float32, np.bool_

PERSON_SPEC = dict(
    hh=I32,
    role=I8,
    birth_day=I32,
    birth_m=I32,
    sex=I8,
    eth=I8,
    disab=I8,
    active=B,
    member=I32,
    is_child=B,
    last_lsoa=I32,
    sab=B,
    cmh=B,
    teen=B,
    ld=B,
    incident=B,
    need=F32,
    asmt=I32,
    asmt_until=I32,
    st=I8,
    st_until=I32,
    ref=I32,
    last_day=I32,
    s47=I32,
    s47_until=I32,
    plan=I32,
    lac=I32,
    lac_long=B,
    closed_m=I32,
    last_contact=I32,
    eh=I32,
)
HOUSEHOLD_SPEC = dict(
    lsoa=I32,
    frailty=F32,
    eg=I8,
    active=B,
    res=I32,
    new_adult=I32,
    bias=F32,
    supported=B,
    protected=B,  # a child of the household is on a child protection plan
    eh_open=B,
    eh_until=I32,
    eh_eff=B,
    engagement=F32,
    **{a: B for a in HOUSEHOLD_LATENTS},
    **{f"last_{a}": I32 for a in HOUSEHOLD_LATENTS},  # month the condition was last present
)

#: DfE ethnicity codes per major group, with within-group weights.
ETHNIC_CODES = {
    "White": (("WBRI", 0.82), ("WIRI", 0.02), ("WOTH", 0.14), ("WIRT", 0.01), ("WROM", 0.01)),
    "Mixed": (("MWBC", 0.35), ("MWBA", 0.15), ("MWAS", 0.2), ("MOTH", 0.3)),
    "Asian": (("APKN", 0.5), ("AIND", 0.2), ("ABAN", 0.15), ("AOTH", 0.15)),
    "Black": (("BAFR", 0.65), ("BCRB", 0.2), ("BOTH", 0.15)),
    "Other": (("OOTH", 0.8), ("CHNE", 0.2)),
}
NOBT_SHARE = 0.015  # ethnicity not yet obtained


class World:
    """Everything the simulation knows at one moment.

    Parameters
    ----------
    params : SimParams
    start : datetime.date
        The first day of month 0.
    months : int
        Months to simulate (the calendar covers 13 more for label windows).
    rng : numpy.random.Generator
    record : bool
        Whether to keep records (replicas for ground truth keep none).
    """

    def __init__(
        self,
        params: SimParams,
        start: dt.date,
        months: int,
        rng: np.random.Generator,
        *,
        record: bool = True,
        capacity: int = 1024,
    ) -> None:
        self.p = params
        self.rng = rng
        self.start = start
        self.months = months
        first = np.datetime64(start, "M")
        edges = (first + np.arange(months + 15).astype("timedelta64[M]")).astype("datetime64[D]")
        edges = edges.astype(np.int64)
        self.month_day = edges[:-1].astype(I32)
        self.month_len = np.diff(edges).astype(I32)
        self.persons = Store(PERSON_SPEC, capacity)
        self.households = Store(HOUSEHOLD_SPEC, capacity // 2)
        self.rec: Recorder | None = Recorder(capacity) if record else None
        self.lsoa: dict[str, np.ndarray] = {}
        self.onset_base: dict[str, float] = {}
        self.target_children = 0
        #: (kind, children, days) of s47 / CP / care starts and referrals, for replicas
        self.log: list[tuple[int, np.ndarray, np.ndarray]] | None = None

    # ---- time ---------------------------------------------------------------
    def day_in(self, month_index: int, n: int) -> np.ndarray:
        """Random days within month ``month_index``."""
        return self.month_day[month_index] + (
            self.rng.random(n) * self.month_len[month_index]
        ).astype(I32)

    def month_end(self, month_index: int) -> int:
        """Return the last day of month ``month_index``."""
        return int(self.month_day[month_index] + self.month_len[month_index] - 1)

    def age_months(self, month_index: int, idx: np.ndarray) -> np.ndarray:
        """Completed months of age at the start of month ``month_index``."""
        return month_index - self.persons["birth_m"][idx]

    def children(self) -> np.ndarray:
        """Return the indices of active children (role child)."""
        p = self.persons
        return np.flatnonzero(p["active"] & (p["role"] == 0))

    # ---- geography -------------------------------------------------------------
    def build_geography(self, n_children: int) -> None:
        """Create LSOAs with localities, IMD deciles and ethnic mixes."""
        p, rng = self.p, self.rng
        n = max(9, int(np.ceil(n_children / p.children_per_lsoa)))
        locality = np.arange(n) % 3
        # the borough's deprivation profile is fixed; only which LSOA is where is random
        dep = np.asarray(p.locality_deprivation)[locality] + rng.normal(0, 0.8, n)
        cum = np.cumsum(p.imd_decile_shares) / np.sum(p.imd_decile_shares)
        rank = np.empty(n)
        rank[np.argsort(-dep)] = (np.arange(n) + 0.5) / n
        imd = (np.searchsorted(cum, rank) + 1).clip(1, 10).astype(I8)
        lo, hi = np.asarray(p.ethnic_mix_least), np.asarray(p.ethnic_mix_most)
        depr = (10 - imd) / 9.0  # 1 = most deprived
        mix = lo[None, :] * (1 - depr[:, None]) + hi[None, :] * depr[:, None]
        self.lsoa = dict(imd=imd, locality=locality.astype(I8), mix=mix / mix.sum(1, keepdims=True))

    def deprivation(self, lsoa: np.ndarray) -> np.ndarray:
        """Deprivation in [-1, 1] (1 = IMD decile 1) for LSOA indices."""
        return (5.5 - self.lsoa["imd"][lsoa]) / 4.5

    def detection_bias(self, lsoa: np.ndarray, eg: np.ndarray, strength: float) -> np.ndarray:
        """Multiplier on agencies' detection rates for households in ``lsoa`` and group ``eg``."""
        eth = np.array([self.p.ethnic_bias[g] for g in ETHNIC_GROUPS])[eg]
        return np.exp(strength * (self.p.deprivation_bias * self.deprivation(lsoa) + eth))

    # ---- people ------------------------------------------------------------------
    def ethnicity_codes(self, eg: np.ndarray) -> np.ndarray:
        """Draw a DfE ethnicity code (as a code index) within each major group."""
        out = np.empty(len(eg), dtype=I8)
        for g, name in enumerate(ETHNIC_GROUPS):
            sel = np.flatnonzero(eg == g)
            codes, w = zip(*ETHNIC_CODES[name], strict=True)
            pick = self.rng.choice(len(codes), size=len(sel), p=np.asarray(w) / sum(w))
            out[sel] = np.array([code("ethnicity", c) for c in codes], dtype=I8)[pick]
        unknown = self.rng.random(len(eg)) < NOBT_SHARE
        out[unknown] = code("ethnicity", "NOBT")
        return out

    def add_people(
        self,
        month_index: int,
        hh: np.ndarray,
        role: int,
        birth_day: np.ndarray,
        join_day: np.ndarray,
    ) -> np.ndarray:
        """Create people in households ``hh`` and start their memberships."""
        n = len(hh)
        rng, h = self.rng, self.households
        birth_m = (
            birth_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
            - np.datetime64(self.start, "M").astype(np.int64)
        ).astype(I32)
        if role == 0:
            sex = np.where(rng.random(n) < 0.512, code("sex", "1"), code("sex", "2"))
        else:
            sex = np.where(
                rng.random(n) < (0.3 if role == 1 else 0.6), code("sex", "1"), code("sex", "2")
            )
        disab = np.where(
            rng.random(n) < self.p.disability_share,
            rng.choice(
                [code("disability", c) for c in ("LD", "AUT", "COMM", "BEH", "MOB")], size=n
            ),
            code("disability", "NONE"),
        )
        idx = self.persons.add(
            n,
            hh=hh,
            role=role,
            birth_day=birth_day,
            birth_m=birth_m,
            sex=sex,
            eth=self.ethnicity_codes(h["eg"][hh]),
            disab=disab,
            active=True,
            is_child=role == 0,
            last_lsoa=h["lsoa"][hh],
            st=0,
            last_contact=-10_000,
            closed_m=-10_000,
            asmt_until=-1,
        )
        if role == 0:
            ld = (rng.random(n) < self.p.child_prevalence["ld"]) | (
                disab == code("disability", "LD")
            )
            self.persons["ld"][idx] = ld
        if self.rec is not None:
            self.persons["member"][idx] = self.rec.members.add(
                n, hh=hh, person=idx, role=role, start=join_day, end=-1
            )
        return idx

    def end_people(self, idx: np.ndarray, day: np.ndarray | int) -> None:
        """End the memberships of ``idx`` on ``day`` and mark them inactive."""
        p = self.persons
        p["active"][idx] = False
        if self.rec is not None:
            m = p["member"][idx]
            ok = m >= 0
            day = np.broadcast_to(day, idx.shape)[ok]
            # someone who joined this month may leave this month, never before joining
            self.rec.members["end"][m[ok]] = np.maximum(day, self.rec.members["start"][m[ok]])
        p["member"][idx] = -1

    def set_residence(self, hh: np.ndarray, lsoa: np.ndarray, day: np.ndarray) -> None:
        """Move households ``hh`` to ``lsoa`` from ``day`` (ending the previous residence)."""
        h = self.households
        h["lsoa"][hh] = lsoa
        h["bias"][hh] = self.detection_bias(lsoa, h["eg"][hh], self.bias_strength)
        if self.rec is not None:
            old = h["res"][hh]
            had = old >= 0
            # the last day at the old address is the first at the new one
            day = day.copy()
            day[had] = np.maximum(day[had], self.rec.residences["start"][old[had]])
            self.rec.residences["end"][old[had]] = day[had]
            h["res"][hh] = self.rec.residences.add(len(hh), hh=hh, lsoa=lsoa, start=day, end=-1)

    bias_strength: float = 1.0
    #: the scenarios in force, by month (none: the calibrated world throughout)
    scenario: Timeline = Timeline()
