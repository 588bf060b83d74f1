"""Fault injection for kill-and-resume tests of the sync engine, and its injectable clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dealersync.delivery import clock, incremental


class SimulatedCrash(BaseException):
    """The process 'dies' here: a BaseException, so no ``except Exception`` in the engine catches it."""


@contextmanager
def crash_at(stage: str, batch: int) -> Iterator[None]:
    """Make the sync engine die at ``stage`` of batch number ``batch`` (1-based, per operation).

    ``stage="before_commit"``: the platform accepted the batch, the engine dies before the sync
    state records it. Replace sessions commit once, at the end: use ``batch=0`` there.
    """
    original = incremental.checkpoint

    def checkpoint(at: str, seq: int) -> None:
        if at == stage and seq == batch:
            raise SimulatedCrash(f"simulated crash at {stage} of batch {batch}")

    incremental.checkpoint = checkpoint
    try:
        yield
    finally:
        incremental.checkpoint = original


@contextmanager
def sync_clock(now: Callable[[], dt.datetime]) -> Iterator[None]:
    """Make the sync state's wall clock (``confirmed_at``, refresh) read ``now()`` instead of the
    real time, so a test moves days in seconds."""
    original = clock.now
    clock.now = now
    try:
        yield
    finally:
        clock.now = original
