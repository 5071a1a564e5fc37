"""Ground truth: each child's true need per month, and true label probabilities.

For a sample of decision points (the exact definitions in :mod:`stratify.features.schema`), the
probability of the label given the full simulated state is estimated by copying the
families concerned ``replicates`` times and re-simulating the label window. Ground
truth is written apart from the extract and is never a model input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from stratify.features.build.cohorts import add_months_array
from stratify.features.simulate.engine import step
from stratify.features.simulate.pathway import (
    CIN,
    CLOSED,
    CP,
    CP_START,
    LAC,
    LAC_START,
    REFERRAL,
    S47,
)
from stratify.features.simulate.world import World

ESCALATION_KINDS = (S47, CP_START, LAC_START)
#: (log kind, event days, focal indices) -> whether each event is the label event
LabelRule = Callable[[int, np.ndarray, np.ndarray], "np.ndarray | bool"]
REREFERRAL_REASONS = (7, 8, 9)


@dataclass
class TruthSampler:
    """Chooses decision points as the simulation runs and estimates their true probability.

    Parameters
    ----------
    per_target : int
        Decision points to sample per target over the window.
    replicates : int
        Re-simulations of each label window.
    seed : int
        Seed of the sampler's own random streams (the main simulation is unaffected).
    first_month, months : int
        The window's first month index and the number of months simulated.
    horizon, lookback, snapshot_months : int
        As in :class:`stratify.features.config.FeaturesConfig`.
    """

    per_target: int
    replicates: int
    seed: int
    first_month: int
    months: int
    horizon: int = 12
    lookback: int = 24
    snapshot_months: int = 3
    rows: list[dict[str, object]] = field(default_factory=list)

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 7919, *key])

    def _snapshots(self, w: World) -> list[int]:
        months = (
            w.month_day[: self.months]
            .astype("datetime64[D]")
            .astype("datetime64[M]")
            .astype(np.int64)
            % 12
        )
        return [
            month_index
            for month_index in range(self.first_month, self.months - self.horizon + 1)
            if months[month_index] % self.snapshot_months == 0
        ]

    def before_step(self, w: World, month_index: int) -> None:
        """Sample escalation decision points dated the first day of month ``month_index``."""
        snaps = self._snapshots(w)
        if month_index not in snaps or self.per_target == 0:
            return
        pp = w.persons
        kids = w.children()
        age = w.age_months(month_index, kids)
        ok = (age >= 1) & (age < 216) & (pp["last_contact"][kids] >= month_index - self.lookback)
        ok &= ~np.isin(pp["st"][kids], (CIN, CP, LAC))
        pool = kids[ok]
        quota = -(-self.per_target // len(snaps))
        rng = self._rng(1, month_index)
        focal = np.sort(rng.choice(pool, size=min(quota, len(pool)), replace=False))
        hits = resimulate(
            w,
            focal,
            month_index,
            horizon=self.horizon,
            replicates=self.replicates,
            rng=rng,
            is_label=lambda kind, day, f: np.isin(kind, ESCALATION_KINDS),
        )
        self._add(w, "escalation", focal, np.full(len(focal), w.month_day[month_index]), hits)

    def after_step(self, w: World, month_index: int) -> None:
        """Sample rereferral decision points among closures in month ``month_index``."""
        if (
            not (self.first_month <= month_index < self.months - self.horizon)
            or self.per_target == 0
        ):
            return
        assert w.log is not None
        kids, days = [], []
        for kind, k, d in w.log:
            if kind - CLOSED in REREFERRAL_REASONS:
                kids.append(k)
                days.append(d)
        if not kids:
            return
        kid, day = np.concatenate(kids), np.concatenate(days)
        n_months = self.months - self.horizon - self.first_month
        quota = -(-self.per_target // n_months)
        rng = self._rng(2, month_index)
        pick = np.sort(rng.choice(len(kid), size=min(quota, len(kid)), replace=False))
        focal, as_of = kid[pick], day[pick]
        cutoff = add_months_array(as_of.astype("datetime64[D]"), self.horizon).astype(np.int64)
        alive = w.persons["active"][focal]
        hits = np.zeros((self.replicates, len(focal)), bool)
        if alive.any():
            hits[:, alive] = resimulate(
                w,
                focal[alive],
                month_index + 1,
                horizon=self.horizon,
                replicates=self.replicates,
                rng=rng,
                is_label=lambda kind, d, f: (kind == REFERRAL) & (d < cutoff[alive][f]),
            )
        self._add(w, "rereferral", focal, as_of, hits)

    def _add(
        self, w: World, target: str, focal: np.ndarray, as_of: np.ndarray, hits: np.ndarray
    ) -> None:
        p_true = hits.mean(0)
        need = w.persons["need"][focal]
        for i, f in enumerate(focal):
            self.rows.append(
                dict(
                    target=target,
                    person_number=int(f),
                    as_of_day=int(as_of[i]),
                    p_true=float(p_true[i]),
                    replicates=self.replicates,
                    need=float(need[i]),
                    in_need=bool(need[i] >= w.p.in_need_threshold),
                )
            )


def resimulate(
    w: World,
    focal: np.ndarray,
    start: int,
    *,
    horizon: int,
    replicates: int,
    rng: np.random.Generator,
    is_label: LabelRule,
) -> np.ndarray:
    """Re-run months ``start`` .. ``start + horizon - 1`` for copies of the focal families.

    Returns
    -------
    np.ndarray
        Boolean (replicates, focal) array: whether the label event happened.
    """
    pp = w.persons
    hh = np.unique(pp["hh"][focal])
    members = np.flatnonzero(pp["active"] & np.isin(pp["hh"], hh))
    m, k = len(members), len(hh)
    copy = World(w.p, w.start, w.months, rng, record=False)
    copy.lsoa, copy.onset_base, copy.bias_strength = w.lsoa, w.onset_base, w.bias_strength
    copy.log = []
    copy.households = w.households.take(np.tile(hh, replicates))
    copy.persons = w.persons.take(np.tile(members, replicates))
    rep = np.repeat(np.arange(replicates), m)
    copy.persons["hh"][:] = rep * k + np.tile(np.searchsorted(hh, pp["hh"][members]), replicates)
    fpos = np.searchsorted(members, focal)
    where = np.full(len(copy.persons) + 16, -1, np.int64)  # replica person -> focal index
    for r in range(replicates):
        where[r * m + fpos] = np.arange(len(focal))
    hits = np.zeros((replicates, len(focal)), bool)
    for month_index in range(start, min(start + horizon, len(copy.month_day) - 1)):
        step(copy, month_index)
        for kind, kids, days in copy.log:
            f = where[kids[kids < len(where)]]
            mine = f >= 0
            if not mine.any():
                continue
            d = days[kids < len(where)][mine]
            sel = np.broadcast_to(is_label(kind, d, f[mine]), d.shape)
            r = kids[kids < len(where)][mine] // m
            hits[r[sel], f[mine][sel]] = True
    return hits
