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

from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from stratify.features.build.cohorts import add_months_array
from stratify.features.config import TruthReplicates
from stratify.features.simulate.eligible import MonthOpen, blocked_households
from stratify.features.simulate.pathway import CLOSED
from stratify.features.simulate.replay import Escalation, Hits, Replay, ReReferral
from stratify.features.simulate.world import World

REREFERRAL_REASONS = (7, 8, 9)


@dataclass
class _Points:
    """Sampled decision points of one date and target, their hits perhaps still coming."""

    target: str
    focal: np.ndarray
    as_of: np.ndarray
    need: np.ndarray
    in_need: np.ndarray
    weight: float
    replicates: int
    alive: np.ndarray  # the focal children re-simulated (the others cannot be referred)
    hits: Hits | None

    def rows(self) -> list[dict[str, object]]:
        hits = np.zeros((self.replicates, len(self.focal)), bool)
        if self.hits is not None:
            hits[:, self.alive] = self.hits.result()
        p_true = hits.mean(0)
        return [
            dict(
                target=self.target,
                person_number=int(f),
                as_of_day=int(self.as_of[i]),
                p_true=float(p_true[i]),
                replicates=self.replicates,
                need=float(self.need[i]),
                in_need=bool(self.in_need[i]),
                weight=self.weight,
            )
            for i, f in enumerate(self.focal)
        ]


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
    pool : Executor, optional
        Worker processes that re-simulate while the caller goes on (see
        :func:`stratify.features.simulate.replay.replay_workers`); in this process when
        None. The rows are the same either way.
    """

    per_target: int
    replicates: TruthReplicates
    seed: int
    window: range
    horizon: int = 12
    lookback: int = 24
    snapshot_months: int = 3
    resume_at: int = 0
    pool: Executor | None = field(default=None, repr=False)
    _points: list[_Points] = field(default_factory=list, init=False, repr=False)
    _month: MonthOpen | None = field(default=None, init=False, repr=False)

    @property
    def rows(self) -> list[dict[str, object]]:
        """The sampled points, one dict each (waiting for any re-simulation still running)."""
        return [row for points in self._points for row in points.rows()]

    def work(self) -> int:
        """Return the focal points x replicates the window will re-simulate at most."""
        return self.per_target * (self.replicates.escalation + self.replicates.rereferral)

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
        job = Replay.of(
            w,
            focal,
            month_index,
            horizon=self.horizon,
            replicates=self.replicates.escalation,
            rng=rng,
            is_label=Escalation(),
        )
        as_of = np.full(len(focal), w.month_day[month_index])
        alive = np.ones(len(focal), bool)
        self._add(w, "escalation", focal, as_of, (job, alive), eligible=len(pool))

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
        job = Replay.of(
            w,
            focal[alive],
            month_index + 1,
            horizon=self.horizon,
            replicates=self.replicates.rereferral,
            rng=rng,
            is_label=ReReferral(cutoff[alive]),
        )
        self._add(w, "rereferral", focal, as_of, (job, alive), eligible=len(kid))

    def _add(
        self,
        w: World,
        target: str,
        focal: np.ndarray,
        as_of: np.ndarray,
        replay: tuple[Replay, np.ndarray],
        *,
        eligible: int,
    ) -> None:
        job, alive = replay
        need = w.persons["need"][focal]
        self._points.append(
            _Points(
                target,
                focal,
                as_of,
                need,
                need >= w.p.in_need_threshold,
                eligible / max(len(focal), 1),
                job.replicates,
                alive,
                Hits(job, self.pool) if alive.any() else None,
            )
        )
