"""Client-side rate limits, shared by every session that spends the same platform quota.

A platform counts requests against something: Google's Data Manager API per Cloud project and
kind of operation, others per account or per API key. A :class:`RateLimit` names that something
in its ``key``; every :class:`~dealersync.HttpSession` request made under a ``RateLimit`` with the
same key, in one process, draws on one budget, so two destinations configured against the same
project do not each spend the whole quota.

The budget is a sliding window: at most ``requests`` requests start in any ``per_seconds``
seconds, and a request waits only when starting it now would break that. Platforms state their
quotas as "N per minute"; a sliding window never exceeds N in any minute (so in no fixed minute
either) and makes a run of a few requests wait not at all. A token bucket holding a minute's worth
lets up to 2N through in some minute; a minimum interval (one request every 60/N s) stays under
the quota but slows every small run.

Slots are reserved under a lock and waited for outside it, so threads sharing a limiter queue in
order without holding each other up. Clock and sleep are injectable: a test installs a
:class:`RateLimiters` on a :class:`ManualClock` (:meth:`RateLimiters.installed`) and waits no
real time.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` request starts in any ``per_seconds`` seconds, for every request in
    this process made under the same ``key`` (name it by what the platform counts, e.g.
    ``"google-datamanager:project:<id>:ingestion-mutate"``)."""

    key: str
    requests: int
    per_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a RateLimit needs a key: what the platform counts requests by")
        if self.requests < 1:
            raise ValueError("RateLimit.requests must be at least 1")
        if self.per_seconds <= 0:
            raise ValueError("RateLimit.per_seconds must be positive")

    def is_stricter_than(self, other: RateLimit) -> bool:
        """Fewer requests a second, or as many with a smaller burst."""
        mine, theirs = self.requests / self.per_seconds, other.requests / other.per_seconds
        return mine < theirs or (mine == theirs and self.requests < other.requests)


class RateLimiter:
    """One sliding window of request starts (thread-safe)."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()  # the last `limit.requests` starts, reserved ones included
        self._lock = threading.Lock()

    def tighten(self, limit: RateLimit) -> None:
        """Sessions disagreeing about one key's quota share the stricter of their limits."""
        with self._lock:
            if limit.is_stricter_than(self.limit):
                self.limit = limit

    def reserve(self, max_wait: float | None = None) -> float | None:
        """Reserve the next start and return the seconds to wait for it; reserve nothing and return
        ``None`` when that wait would be longer than ``max_wait``."""
        with self._lock:
            now = self._clock()
            starts, limit = self._starts, self.limit
            while len(starts) > limit.requests:  # the limit was tightened
                starts.popleft()
            start = now if len(starts) < limit.requests else max(now, starts[0] + limit.per_seconds)
            wait = start - now
            if max_wait is not None and wait > max_wait:
                return None
            starts.append(start)
            if len(starts) > limit.requests:
                starts.popleft()
            return wait

    def acquire(self, max_wait: float | None = None) -> float | None:
        """:meth:`reserve`, then wait for the slot; the seconds waited, or ``None`` as there."""
        wait = self.reserve(max_wait)
        if wait:
            self._sleep(wait)
        return wait


class RateLimiters:
    """The limiters of one process, one per key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self._limiters: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()

    def limiter(self, limit: RateLimit) -> RateLimiter:
        """The limiter for ``limit.key``, made on first use; a stricter limit for a known key
        tightens it."""
        with self._lock:
            found = self._limiters.get(limit.key)
            if found is None:
                found = self._limiters[limit.key] = RateLimiter(limit, self.clock, self.sleep)
                return found
        found.tighten(limit)
        return found

    @contextmanager
    def installed(self) -> Iterator[RateLimiters]:
        """Within the block, every request in the process takes its limiters from this registry
        (tests: one with a fake clock, fresh budgets); the previous registry comes back after."""
        global _current
        previous, _current = _current, self
        try:
            yield self
        finally:
            _current = previous


class ManualClock:
    """A monotonic clock that moves only when slept on, for tests: install
    ``RateLimiters(clock=c, sleep=c.sleep)`` and every rate-limit wait is recorded in
    ``slept``, none taken in real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


_current = RateLimiters()


def current_rate_limiters() -> RateLimiters:
    """The registry requests take their limiters from (the process-wide one, unless a test
    installed another)."""
    return _current
