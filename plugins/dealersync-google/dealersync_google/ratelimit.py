"""A client-side request rate limit (generic: a candidate for core ``dealersync.http``).

Google's Data Manager API allows 300 requests a minute per project; past that it answers 429
RESOURCE_EXHAUSTED, which core http retries with backoff. Staying under the quota in the first
place wastes no attempts: :class:`SlidingWindowLimiter` lets at most ``limit`` requests start in
any ``window`` seconds and waits only when the next one would exceed it (so a run of a few
requests never waits). :class:`RateLimitedSession` is a ``requests.Session`` that asks the
limiter before every attempt, retries included; hand it to ``HttpSession(session=...)``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import requests


class SlidingWindowLimiter:
    """At most ``limit`` acquisitions in any ``window`` seconds (thread-safe)."""

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0  # seconds spent waiting, in total
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until one more request fits in the window; return the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self.clock()
                while self._starts and self._starts[0] <= now - self.window:
                    self._starts.popleft()
                if len(self._starts) < self.limit:
                    self._starts.append(now)
                    self.waited += waited
                    return waited
                delay = self._starts[0] + self.window - now
                self.sleep(delay)
                waited += delay


class RateLimitedSession(requests.Session):
    """A ``requests.Session`` whose every request first waits for ``limiter``."""

    def __init__(self, limiter: SlidingWindowLimiter) -> None:
        super().__init__()
        self.limiter = limiter

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.limiter.acquire()
        return super().request(method, url, *args, **kwargs)
