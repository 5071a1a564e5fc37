"""Re-simulating label windows for the ground truth, here or in worker processes.

A :class:`Replay` holds copies of the families of some focal children, everything the
monthly step needs about the borough, and its own random stream: it is self-contained,
so it can be stepped in this process or pickled to a worker and give exactly the same
hits either way (its stream is the sampler's, never the main simulation's).

The re-simulations are most of a run's work (about 40 of the demo borough's 50
CPU-seconds) and do not feed back into the world, so :func:`replay_workers` runs them in
worker processes while the main process goes on stepping the borough and writing its
files. The workers are forked as the pool opens, while the process is still small, so
they neither import anything again nor hold a copy of a large world.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import pickle
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from stratify.features.simulate.engine import step
from stratify.features.simulate.params import SimParams
from stratify.features.simulate.pathway import CP_START, LAC_START, REFERRAL, S47
from stratify.features.simulate.scenario import Timeline
from stratify.features.simulate.store import Store
from stratify.features.simulate.world import World

ESCALATION_KINDS = (S47, CP_START, LAC_START)
#: Replica people stepped at once: small enough to stay in cache (about 20 % faster than
#: one copy of millions) and to bound memory.
BATCH_PERSONS = 200_000
#: Re-simulated focal points x replicates below which worker processes are not worth
#: starting (a small borough's truth takes well under a second in this process).
MIN_PARALLEL_WORK = 200_000
#: At most this many workers: a run has only a handful of large re-simulations
#: (one per escalation snapshot), so more would wait idle.
MAX_WORKERS = 4


class LabelRule(Protocol):
    """(log kind, event days, focal indices) -> whether each event is the label event."""

    def __call__(self, kind: int, day: np.ndarray, focal: np.ndarray) -> np.ndarray | bool: ...


@dataclass(frozen=True)
class Escalation:
    """The escalation label: a section 47 enquiry, a CP plan or care starts."""

    def __call__(self, kind: int, day: np.ndarray, focal: np.ndarray) -> np.ndarray | bool:
        """Return whether events of ``kind`` are the label (whatever their day)."""
        return bool(np.isin(kind, ESCALATION_KINDS))


@dataclass(frozen=True)
class ReReferral:
    """The re-referral label: a referral before each focal child's ``cutoff`` day."""

    cutoff: np.ndarray

    def __call__(self, kind: int, day: np.ndarray, focal: np.ndarray) -> np.ndarray | bool:
        """Return whether each event is a referral of its focal child before the cutoff."""
        return (kind == REFERRAL) & (day < self.cutoff[focal])


@dataclass(frozen=True)
class Replay:
    """Copies of the focal children's families to step through months ``first`` onwards.

    ``households`` are the families' households (sorted by their index in the world) and
    ``persons`` everyone living in them (sorted), their ``hh`` pointing into
    ``households``; ``focal`` are the focal children's positions in ``persons``.
    """

    params: SimParams
    start: dt.date
    months: int
    lsoa: dict[str, np.ndarray]
    onset_base: dict[str, float]
    bias_strength: float
    scenario: Timeline
    households: Store
    persons: Store
    focal: np.ndarray
    first: int
    horizon: int
    replicates: int
    rng: np.random.Generator
    is_label: LabelRule

    @classmethod
    def of(  # noqa: PLR0913 - the window and the label of one re-simulation
        cls,
        w: World,
        focal: np.ndarray,
        first: int,
        *,
        horizon: int,
        replicates: int,
        rng: np.random.Generator,
        is_label: LabelRule,
    ) -> Replay:
        """Return the re-simulation of ``focal``'s families in world ``w`` from month ``first``."""
        pp = w.persons
        hh = np.unique(pp["hh"][focal])
        members = np.flatnonzero(pp["active"] & np.isin(pp["hh"], hh))
        persons = pp.take(members)
        persons["hh"][:] = np.searchsorted(hh, persons["hh"])
        return cls(
            w.p, w.start, w.months, w.lsoa, w.onset_base, w.bias_strength, w.scenario,
            w.households.take(hh), persons, np.searchsorted(members, focal),
            first, horizon, replicates, rng, is_label,
        )  # fmt: skip

    def run(self) -> np.ndarray:
        """Return whether the label event happened: a (replicates, focal) boolean array.

        The copies are stepped in batches of about :data:`BATCH_PERSONS` people, one
        after the other on the one random stream.
        """
        per_batch = max(1, BATCH_PERSONS // max(len(self.persons), 1))
        done = range(0, self.replicates, per_batch)
        hits = [self._batch(min(per_batch, self.replicates - d)) for d in done]
        return np.concatenate(hits) if hits else np.zeros((0, len(self.focal)), bool)

    def _world(self, replicates: int) -> World:
        m, k = len(self.persons), len(self.households)
        copy = World(self.params, self.start, self.months, self.rng, record=False)
        copy.lsoa, copy.onset_base = self.lsoa, self.onset_base
        copy.bias_strength, copy.scenario = self.bias_strength, self.scenario
        copy.log = []
        copy.households = self.households.take(np.tile(np.arange(k), replicates))
        copy.persons = self.persons.take(np.tile(np.arange(m), replicates))
        rep = np.repeat(np.arange(replicates), m)
        copy.persons["hh"][:] = rep * k + np.tile(self.persons["hh"], replicates)
        return copy

    def _batch(self, replicates: int) -> np.ndarray:
        """Step ``replicates`` copies of the families through the label window once."""
        m, focal = len(self.persons), self.focal
        copy = self._world(replicates)
        where = np.full(len(copy.persons) + 16, -1, np.int64)  # replica person -> focal index
        for r in range(replicates):
            where[r * m + focal] = np.arange(len(focal))
        hits = np.zeros((replicates, len(focal)), bool)
        last = min(self.first + self.horizon, len(copy.month_day) - 1)
        for month_index in range(self.first, last):
            step(copy, month_index)
            assert copy.log is not None
            for kind, kids, days in copy.log:
                known = kids < len(where)  # people born in the copies are never focal
                f = where[kids[known]]
                mine = f >= 0
                if not mine.any():
                    continue
                d = days[known][mine]
                sel = np.broadcast_to(self.is_label(kind, d, f[mine]), d.shape)
                r = kids[known][mine] // m
                hits[r[sel], f[mine][sel]] = True
        return hits


def _run(job: bytes) -> np.ndarray:
    replay: Replay = pickle.loads(job)  # noqa: S301 - pickled by this process's parent
    with threadpool_limits(limits=1, user_api="blas"):  # as the main loop (run.advance)
        return replay.run()


class Hits:
    """The hits of a re-simulation: already known, or being worked out by a worker."""

    def __init__(self, job: Replay, pool: Executor | None) -> None:
        self._future: Future[np.ndarray] | None = None
        self._hits: np.ndarray | None = None
        if pool is None:
            self._hits = job.run()
        else:
            # pickled now: the world's arrays it shares may change once the month goes on
            self._future = pool.submit(_run, pickle.dumps(job))

    def result(self) -> np.ndarray:
        """Return the (replicates, focal) hits, waiting for the worker if need be."""
        if self._hits is None:
            assert self._future is not None
            self._hits = self._future.result()
            self._future = None
        return self._hits


def worker_count() -> int:
    """Return how many worker processes to use: one per core up to :data:`MAX_WORKERS`.

    None on one core, nor off Linux: the workers are forked, which macOS does not
    support safely (Windows not at all); there the truth is re-simulated in-process.
    """
    if not sys.platform.startswith("linux"):
        return 0
    cores = len(os.sched_getaffinity(0))
    return min(MAX_WORKERS, cores) if cores > 1 else 0


@contextmanager
def replay_workers(work: int, workers: int | None = None) -> Iterator[Executor | None]:
    """Open a pool of forked workers for re-simulations, or yield None when not worth it.

    ``work`` is the focal points x replicates expected. The workers are forked at once
    (while the calling process is small) and shut down on leaving; an error cancels
    what has not started.
    """
    workers = worker_count() if workers is None else workers
    if workers < 1 or work < MIN_PARALLEL_WORK:
        yield None
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        with warnings.catch_warnings():
            # Python warns that forking a process with threads (here BLAS's idle ones) may
            # deadlock the child; the workers only step numpy arrays (no locks held)
            warnings.filterwarnings("ignore", "This process .* is multi-threaded")
            for f in [pool.submit(int) for _ in range(workers)]:
                f.result()
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


__all__ = [
    "BATCH_PERSONS",
    "Escalation",
    "Hits",
    "Replay",
    "ReReferral",
    "replay_workers",
]
