"""Fault injection for kill-and-resume tests of the sync engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dealersync.delivery import incremental


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
