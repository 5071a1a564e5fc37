"""Outreach eligibility read from the simulator's state, for the ground-truth sample.

The rule is :mod:`stratify.features.build.eligibility`'s: on day ``d`` a family is
eligible when nobody living in it is open on ``d``, an episode being open when it
started before ``d`` and has not closed by ``d`` (``start < d`` and no closure on or
before ``d``). In the simulator a person is open exactly while their state ``st``
(:mod:`stratify.features.simulate.pathway`) is not ``NONE``: a referral with its
assessment or section 47 under way, a CIN or CP plan, or care all live inside one
referral episode, which only ``close_episode`` ends. Adults are never referred, so a
family is blocked by its children alone, including a child in care (who stays a member
of the household, as in the extract).

At the first day of a month (a snapshot) nothing dated in that month has happened yet,
so the state itself is the answer (:func:`blocked_households`). Within a month, for a
closure dated ``d``, the state at the start of the month is combined with the month's
dated referrals and closures (:class:`MonthOpen`).
"""

from __future__ import annotations

import numpy as np

from stratify.features.simulate.pathway import CLOSED, NONE, REFERRAL
from stratify.features.simulate.world import World

NEVER = np.iinfo(np.int32).max


def blocked_households(w: World) -> np.ndarray:
    """Return, per household, whether anyone in it is open now (before a month starts)."""
    pp = w.persons
    blocked = np.zeros(len(w.households), bool)
    blocked[pp["hh"][pp["active"] & (pp["st"] != NONE)]] = True
    return blocked


class MonthOpen:
    """Who was open on which day of one month, from its start state and its log.

    Create it before the month is stepped; call :meth:`blocked` after.
    Relies on the pathway's invariant that a child has at most one referral in a month
    and is never referred in the month a referral of theirs closed (``closed_m``), so
    each person's month holds at most one referral and one closure.
    """

    def __init__(self, w: World) -> None:
        pp = w.persons
        self.open_start = pp["active"] & (pp["st"] != NONE)
        self.active_start = pp["active"].copy()

    def _days(self, w: World) -> tuple[np.ndarray, np.ndarray]:
        n = len(w.persons)
        referred, closed = np.full(n, NEVER, np.int64), np.full(n, NEVER, np.int64)
        assert w.log is not None
        for kind, kids, days in w.log:
            if kind == REFERRAL:
                np.minimum.at(referred, kids, days.astype(np.int64))  # fast path
            elif kind > CLOSED:
                np.minimum.at(closed, kids, days.astype(np.int64))
        return referred, closed

    def blocked(self, w: World, focal: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Return whether each focal child's family had anyone open on the child's ``day``.

        Members are everyone of the household who lived there at some time in the month.
        """
        pp = w.persons
        if len(focal) == 0:
            return np.zeros(0, bool)
        referred, closed = self._days(w)
        n = len(self.open_start)
        was_open = np.zeros(len(pp), bool)
        was_open[:n] = self.open_start
        lived = pp["active"].copy()
        lived[:n] |= self.active_start
        members = np.flatnonzero(lived & np.isin(pp["hh"], pp["hh"][focal]))
        members = members[np.argsort(pp["hh"][members], kind="stable")]
        hh_sorted = pp["hh"][members]
        lo = np.searchsorted(hh_sorted, pp["hh"][focal], "left")
        hi = np.searchsorted(hh_sorted, pp["hh"][focal], "right")
        pair = np.repeat(np.arange(len(focal)), hi - lo)  # (focal, member) pairs
        member = members[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])]
        d = day[pair]
        open_on = (was_open[member] | (referred[member] < d)) & (closed[member] > d)
        return np.bincount(pair[open_on], minlength=len(focal)) > 0
