"""Ground truth: each child's true need per month, and true label probabilities.

For a sample of decision points (the exact definitions in :mod:`stratify.features.schema`), the
probability of the label given the full simulated state is estimated by copying the
families concerned ``replicates`` times and re-simulating the label window. Ground
truth is written apart from the extract and is never a model input.

The sample is drawn where it is used: training compares the model with these
probabilities (the "ceiling") on its test window, and only on families eligible for
outreach (:mod:`stratify.features.simulate.eligible`). So points are sampled only in
the last ``window`` months of complete label windows and only when the family is
eligible on the date. Escalation points are a simple random sample of each snapshot's
eligible cohort (the same number per snapshot); re-referral points are every eligible
closure (or a random subset when a month has more than its share). Each row's
``weight`` is the number of eligible points of its date and target it stands for
(the inverse of its inclusion probability).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from stratify.features.build.cohorts import add_months_array
from stratify.features.config import TruthReplicates
from stratify.features.simulate.eligible import MonthOpen, blocked_households
from stratify.features.simulate.engine import step
from stratify.features.simulate.pathway import CLOSED, CP_START, LAC_START, REFERRAL, S47
from stratify.features.simulate.world import World

ESCALATION_KINDS = (S47, CP_START, LAC_START)
#: (log kind, event days, focal indices) -> whether each event is the label event
LabelRule = Callable[[int, np.ndarray, np.ndarray], "np.ndarray | bool"]
REREFERRAL_REASONS = (7, 8, 9)
#: Replica people stepped at once: small enough to stay in cache (about 20 % faster than
#: one copy of millions) and to bound memory.
BATCH_PERSONS = 200_000


@dataclass
class TruthSampler:
    """Chooses decision points as the simulation runs and estimates their true probability.

    Parameters
    ----------
    per_target : int
        Eligible decision points to sample per target over the window (escalation:
        shared equally by the window's snapshots; re-referral: at most this many, shared
        equally by the window's months).
    replicates : TruthReplicates
        Re-simulations of each label window, per target.
    seed : int
        Seed of the sampler's own random streams (the main simulation is unaffected).
    window : range
        Month indices of the decision points sampled: the months whose label windows
        are complete at the extract date, the last ``truth_window_months`` of them.
    horizon, lookback, snapshot_months : int
        As in :class:`stratify.features.config.FeaturesConfig`.
    resume_at : int
        The first month sampled: the window's earlier months count for the quotas but
        were sampled by the run this one continues.
    """

    per_target: int
    replicates: TruthReplicates
    seed: int
    window: range
    horizon: int = 12
    lookback: int = 24
    snapshot_months: int = 3
    resume_at: int = 0
    rows: list[dict[str, object]] = field(default_factory=list)
    _month: MonthOpen | None = field(default=None, init=False, repr=False)

    @staticmethod
    def window_of(first_month: int, months: int, horizon: int, window_months: int) -> range:
        """Return the month indices of the last ``window_months`` complete label windows.

        Month ``months - 1`` ends on the extract date, so a decision point dated in month
        ``m`` has a complete label window when ``m + horizon < months``.
        """
        last = months - horizon
        return range(max(first_month, last - window_months), max(first_month, last))

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 7919, *key])

    def _snapshots(self, w: World) -> list[int]:
        calendar_month = (
            w.month_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
        )
        return [m for m in self.window if calendar_month[m] % self.snapshot_months == 0]

    def samples(self, month_index: int) -> bool:
        """Return whether points dated in ``month_index`` are sampled here."""
        return self.per_target > 0 and month_index in self.window and month_index >= self.resume_at

    def quotas(self, w: World) -> tuple[int, int]:
        """Return the points sampled per snapshot (escalation) and per month (re-referral)."""
        snaps, months = len(self._snapshots(w)), len(self.window)
        return -(-self.per_target // max(snaps, 1)), -(-self.per_target // max(months, 1))

    def before_step(self, w: World, month_index: int) -> None:
        """Note who is open as the month starts; sample escalation points dated its first day."""
        if not self.samples(month_index):
            return
        self._month = MonthOpen(w)
        snaps = self._snapshots(w)
        if month_index not in snaps:
            return
        pp = w.persons
        kids = w.children()
        age = w.age_months(month_index, kids)
        ok = (age >= 1) & (age < 216) & (pp["last_contact"][kids] >= month_index - self.lookback)
        ok &= ~blocked_households(w)[pp["hh"][kids]]
        pool = kids[ok]
        quota = self.quotas(w)[0]
        rng = self._rng(1, month_index)
        focal = np.sort(rng.choice(pool, size=min(quota, len(pool)), replace=False))
        hits = resimulate(
            w,
            focal,
            month_index,
            horizon=self.horizon,
            replicates=self.replicates.escalation,
            rng=rng,
            is_label=lambda kind, day, f: np.isin(kind, ESCALATION_KINDS),
        )
        as_of = np.full(len(focal), w.month_day[month_index])
        self._add(w, "escalation", focal, as_of, hits, eligible=len(pool))

    def after_step(self, w: World, month_index: int) -> None:
        """Sample re-referral points among eligible closures in month ``month_index``."""
        if not self.samples(month_index):
            return
        assert w.log is not None and self._month is not None
        closures = [(k, d) for kind, k, d in w.log if kind - CLOSED in REREFERRAL_REASONS]
        if not closures:
            return
        kid = np.concatenate([k for k, _ in closures])
        day = np.concatenate([d for _, d in closures])
        eligible = ~self._month.blocked(w, kid, day)
        kid, day = kid[eligible], day[eligible]
        quota = self.quotas(w)[1]
        rng = self._rng(2, month_index)
        pick = np.sort(rng.choice(len(kid), size=min(quota, len(kid)), replace=False))
        focal, as_of = kid[pick], day[pick]
        cutoff = add_months_array(as_of.astype("datetime64[D]"), self.horizon).astype(np.int64)
        alive = w.persons["active"][focal]
        reps = self.replicates.rereferral
        hits = np.zeros((reps, len(focal)), bool)
        if alive.any():
            hits[:, alive] = resimulate(
                w,
                focal[alive],
                month_index + 1,
                horizon=self.horizon,
                replicates=reps,
                rng=rng,
                is_label=lambda kind, d, f: (kind == REFERRAL) & (d < cutoff[alive][f]),
            )
        self._add(w, "rereferral", focal, as_of, hits, eligible=len(kid))

    def _add(
        self,
        w: World,
        target: str,
        focal: np.ndarray,
        as_of: np.ndarray,
        hits: np.ndarray,
        *,
        eligible: int,
    ) -> None:
        p_true = hits.mean(0)
        need = w.persons["need"][focal]
        weight = eligible / max(len(focal), 1)
        for i, f in enumerate(focal):
            self.rows.append(
                dict(
                    target=target,
                    person_number=int(f),
                    as_of_day=int(as_of[i]),
                    p_true=float(p_true[i]),
                    replicates=len(hits),
                    need=float(need[i]),
                    in_need=bool(need[i] >= w.p.in_need_threshold),
                    weight=weight,
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

    The copies are stepped in batches of about :data:`BATCH_PERSONS` people.

    Returns
    -------
    np.ndarray
        Boolean (replicates, focal) array: whether the label event happened.
    """
    pp = w.persons
    hh = np.unique(pp["hh"][focal])
    members = np.flatnonzero(pp["active"] & np.isin(pp["hh"], hh))
    per_batch = max(1, BATCH_PERSONS // max(len(members), 1))
    batches = [min(per_batch, replicates - done) for done in range(0, replicates, per_batch)]
    fam = _Families(focal, hh, members)
    hits = [
        _replay(w, fam, start, horizon=horizon, replicates=n, rng=rng, is_label=is_label)
        for n in batches
    ]
    return np.concatenate(hits) if hits else np.zeros((0, len(focal)), bool)


@dataclass(frozen=True)
class _Families:
    """The focal children, their households (sorted) and everyone living in them (sorted)."""

    focal: np.ndarray
    hh: np.ndarray
    members: np.ndarray


def _replay(
    w: World,
    fam: _Families,
    start: int,
    *,
    horizon: int,
    replicates: int,
    rng: np.random.Generator,
    is_label: LabelRule,
) -> np.ndarray:
    """Step ``replicates`` copies of the families through the label window once."""
    focal, hh, members = fam.focal, fam.hh, fam.members
    m, k = len(members), len(hh)
    copy = World(w.p, w.start, w.months, rng, record=False)
    copy.lsoa, copy.onset_base, copy.bias_strength = w.lsoa, w.onset_base, w.bias_strength
    copy.scenario = w.scenario
    copy.log = []
    copy.households = w.households.take(np.tile(hh, replicates))
    copy.persons = w.persons.take(np.tile(members, replicates))
    rep = np.repeat(np.arange(replicates), m)
    copy.persons["hh"][:] = rep * k + np.tile(
        np.searchsorted(hh, w.persons["hh"][members]), replicates
    )
    fpos = np.searchsorted(members, focal)
    where = np.full(len(copy.persons) + 16, -1, np.int64)  # replica person -> focal index
    for r in range(replicates):
        where[r * m + fpos] = np.arange(len(focal))
    hits = np.zeros((replicates, len(focal)), bool)
    for month_index in range(start, min(start + horizon, len(copy.month_day) - 1)):
        step(copy, month_index)
        for kind, kids, days in copy.log:
            known = kids < len(where)  # people born in the copies are never focal
            f = where[kids[known]]
            mine = f >= 0
            if not mine.any():
                continue
            d = days[known][mine]
            sel = np.broadcast_to(is_label(kind, d, f[mine]), d.shape)
            r = kids[known][mine] // m
            hits[r[sel], f[mine][sel]] = True
    return hits
