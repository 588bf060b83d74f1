"""The platform's own view of a delivered list, as one short text for `dealersync runs` and the
sync summary: ``size 1,000-1,100, match MATCH_RANGE_50_60, status 200 Normal, 40 pending``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def platform_view(r: Mapping[str, Any]) -> str:
    """From a run-history row or a delivery result's fields (``platform_size_lower`` / ``_upper``,
    ``match_rate``, ``platform_status``, ``pending``); empty when the platform said nothing."""
    low, high = r.get("platform_size_lower"), r.get("platform_size_upper")
    parts = []
    if low is not None or high is not None:
        parts.append(f"size {low:,}" if low == high or high is None else f"size {low or 0:,}-{high:,}")
    if r.get("match_rate"):
        parts.append(f"match {r['match_rate']}")
    if r.get("platform_status"):
        parts.append(f"status {r['platform_status']}")
    if r.get("pending"):
        parts.append(f"{r['pending']:,} pending")
    return ", ".join(parts)
