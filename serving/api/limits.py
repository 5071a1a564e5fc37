"""A per-token rate limit: a token bucket per token id, in each worker.

Each token may send ``per_minute`` requests in a burst, refilled at ``per_minute / 60``
a second; a request over the limit is refused with 429 and the seconds until the next
one is allowed (``Retry-After``). Each worker keeps its own buckets (sharing them would
put a lock on every request), so with N workers a token gets at most N times the limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

#: Buckets kept before the idle ones are dropped (a full bucket needs no memory).
MAX_BUCKETS = 10_000


class RateLimiter:
    """Token buckets keyed by token id.

    Parameters
    ----------
    per_minute : int
        Requests a token may make per minute (0: no limit).
    clock : callable
        Monotonic seconds (tests pass their own).
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # id -> (tokens, at)

    def acquire(self, key: str) -> int | None:
        """Take one request from ``key``'s bucket; None if allowed, else seconds to wait."""
        if self.per_minute <= 0:
            return None
        now, rate = self._clock(), self.per_minute / 60.0
        tokens, at = self._buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))
        if len(self._buckets) >= MAX_BUCKETS and key not in self._buckets:
            self._drop_full(now, rate)
        self._buckets[key] = (tokens - 1.0, now)
        return None

    def _drop_full(self, now: float, rate: float) -> None:
        full = [
            k for k, (t, at) in self._buckets.items() if t + (now - at) * rate >= self.per_minute
        ]
        for k in full:
            del self._buckets[k]
