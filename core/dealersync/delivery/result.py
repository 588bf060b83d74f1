"""What happened to one audience at one destination: the engine's answer for each delivery.

Observers get it (``dealersync_sync_finished``), ``sync`` prints it, and the run history keeps it
(:mod:`dealersync.run_history`: each ``_runs`` column is the field of the same name).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DeliveryResult:
    """What happened to one audience at one destination; ``samples`` and ``invalid`` are not kept
    in the run history."""

    audience: str
    destination: str
    connector: str
    mode: str
    status: str = "planned"  # planned (dry run), ok, held (a change guard held removals), failed
    segment_size: int = 0  # customers in the audience's segment
    excluded: int = 0  # left out by the audience's exclude segments
    suppressed: int = 0  # on the global suppression list
    outranked: int = 0  # in a higher-ranked audience of the same priority group
    held_out: int = 0  # in the audience's holdout (recorded in _holdouts)
    no_consent: int = 0  # left out by the destination channel's consent rule
    customers: int = 0  # customers remaining after exclusions and consent
    members: int = 0  # people as the platform sees them (customers sharing an identifier merged)
    unmatchable: int = 0  # customers with no valid email or phone for this destination
    written: int = 0  # snapshot destinations: rows in the file
    planned: int = 0  # API destinations: adds + removes the plan called for
    added: int = 0
    removed: int = 0
    updated: int = 0  # already on the list, attributes changed (e.g. a merge field), sent as an update
    rejected: int = 0
    unchanged: int = 0
    gave_up: int = 0  # rejected too often or for good: not sent again
    pending: int = 0  # accepted, waiting for the platform's confirmation of their request
    #: requests of this or earlier runs the platform settled this run (status and its counts)
    confirmations: list[dict[str, Any]] = field(default_factory=list)
    #: the platform's own view after the delivery (read back): audience size bounds (equal when
    #: exact), its status in the platform's words, a match rate or range; None when not reported
    platform_size_lower: int | None = None
    platform_size_upper: int | None = None
    platform_status: str | None = None
    match_rate: str | None = None
    full_resync: bool = False
    platform_counts: dict[str, int] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)  # code -> members
    samples: list[dict[str, Any]] = field(default_factory=list)  # dry run: a few hashed payloads
    location: str = ""
    error: str | None = None
    seconds: float = 0.0
    invalid: dict[str, int] = field(default_factory=dict)  # field -> values blanked as invalid
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

