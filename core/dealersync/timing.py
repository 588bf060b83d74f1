"""Where a run spends its time: wall seconds, rows handled and peak memory per named step."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: The steps of the main job, in order (the benchmark reports them in this order).
STEPS = ("load", "facts", "segments", "policy", "identity", "diff", "deliver")


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far, in bytes.

    On Linux, ``VmHWM`` from /proc/self/status: ``ru_maxrss`` keeps the high-water mark across
    exec, so a small child of a big parent would report the parent's size. Elsewhere,
    ``ru_maxrss`` (macOS reports bytes, others KiB).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@dataclass
class Step:
    seconds: float = 0.0
    rows: int = 0
    calls: int = 0
    peak_rss: int = 0


@dataclass
class Timings:
    steps: dict[str, Step] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """Time the block under ``name`` (accumulating); the block may add to ``.rows``."""
        s = self.steps.setdefault(name, Step())
        started = time.perf_counter()
        try:
            yield s
        finally:
            s.seconds += time.perf_counter() - started
            s.calls += 1
            s.peak_rss = max(s.peak_rss, peak_rss_bytes())

    def ordered(self) -> list[tuple[str, Step]]:
        known = [(n, self.steps[n]) for n in STEPS if n in self.steps]
        return known + [(n, s) for n, s in self.steps.items() if n not in STEPS]
