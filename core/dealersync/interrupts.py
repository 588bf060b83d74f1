"""Ctrl-C ends a run between steps, never in the middle of one.

Within :func:`between_steps` (the CLI wraps each command in it), the first SIGINT only asks the run
to stop; the engine calls :func:`check` at its step boundaries (before each source is loaded,
before the facts, before each delivery, after each batch a platform confirmed) and stops there
with :class:`Interrupted`. Every write before that point was committed in its own transaction and
every batch the platform confirmed is in the sync state, so the next run picks up where this one
stopped. A second Ctrl-C stops at once (``KeyboardInterrupt``); transactions still roll back, and
a delivery interrupted mid-batch is repeated on the next run, like a killed process.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: Exit status of an interrupted command (128 + SIGINT, as shells report it).
EXIT_CODE = 130

_requested = threading.Event()


class Interrupted(KeyboardInterrupt):
    """The run stopped at a step boundary after a Ctrl-C."""


def exit_quietly_on_ctrl_c() -> None:
    """From now until a command takes over (:func:`between_steps`), Ctrl-C ends the process at once
    with :data:`EXIT_CODE` and no traceback. The command line calls this first, so a Ctrl-C while
    its modules load (they take a moment) ends as quietly as one during a run."""
    signal.signal(signal.SIGINT, _exit_interrupted)


def _exit_interrupted(_signum: int, _frame: FrameType | None) -> None:
    sys.exit(EXIT_CODE)


@contextmanager
def between_steps() -> Iterator[None]:
    """Defer the first SIGINT to the next :func:`check` (main thread only; elsewhere Ctrl-C keeps
    Python's behaviour)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ask(_signum: int, _frame: FrameType | None) -> None:
        if _requested.is_set():
            raise KeyboardInterrupt  # asked twice: stop at once
        _requested.set()

    _requested.clear()
    previous = signal.signal(signal.SIGINT, ask)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested.clear()


def check() -> None:
    """A step boundary: stop here if Ctrl-C was pressed."""
    if _requested.is_set():
        raise Interrupted
