"""Splitting members into request-sized batches within a destination's :class:`BatchLimits`.

The sync engine and the conformance kit both send members through :func:`split_batches`, so a
destination never has to count for itself. The limits are applied as follows:

``rows``
    at most this many members per batch.
``bytes``
    the batch's members, encoded as a compact JSON array (UTF-8, ``separators=(",", ":")``),
    stay within this many bytes. The platform's envelope (schema, session, list id) is not
    counted: declare a limit with room for it. A member that alone exceeds the limit cannot be
    sent and is rejected (code ``too_large``).
``identifiers_per_member``
    a member carrying more non-empty identifiers than allowed is **trimmed, not rejected**: it
    keeps the first ones in the order of its fields (the order of the destination's
    ``identifiers``, so list the strongest, e.g. email and phone, first) and the rest are set to
    ``None``. Trimming loses some match rate; rejecting would lose the person.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dealersync.connectors import BatchLimits, MemberOutcome

#: Member fields that are bookkeeping, not identifiers.
NOT_IDENTIFIERS = frozenset({"member_key", "customer_ids", "platform_id"})


@dataclass
class Batch:
    """Members to send in one request, and members that cannot be sent at all."""

    members: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[MemberOutcome] = field(default_factory=list)
    size_bytes: int = 2  # of ``members`` as a compact JSON array: "[]" when empty


def encoded_size(member: Mapping[str, Any]) -> int:
    """Bytes of one member as compact UTF-8 JSON (what :func:`split_batches` counts)."""
    return len(json.dumps(member, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def trim_identifiers(member: Mapping[str, Any], limit: int | None) -> dict[str, Any]:
    """The member with at most ``limit`` non-empty identifiers (the first ones in field order)."""
    out = dict(member)
    if limit is None:
        return out
    kept = 0
    for name, value in member.items():
        if name in NOT_IDENTIFIERS or value in (None, ""):
            continue
        if kept < limit:
            kept += 1
        else:
            out[name] = None
    return out


def split_batches(members: Iterable[Mapping[str, Any]], limits: BatchLimits) -> Iterator[Batch]:
    """Yield batches within ``limits``, in member order, streaming (one batch in memory).

    A yielded batch may carry ``rejected`` members (too large alone); its ``members`` may then be
    empty, and the caller sends nothing for it but reports the rejections.
    """
    if limits.rows < 1:
        raise ValueError(f"BatchLimits.rows must be at least 1, got {limits.rows}")
    batch = Batch()
    for raw in members:
        member = trim_identifiers(raw, limits.identifiers_per_member)
        size = encoded_size(member)
        if limits.bytes is not None and size + 2 > limits.bytes:
            batch.rejected.append(
                MemberOutcome(
                    str(member.get("member_key")),
                    accepted=False,
                    code="too_large",
                    reason=f"{size} bytes alone; the destination takes {limits.bytes} per request",
                )
            )
            continue
        grown = batch.size_bytes + size + (1 if batch.members else 0)
        full = len(batch.members) >= limits.rows or (limits.bytes is not None and grown > limits.bytes)
        if full and batch.members:
            yield batch
            batch = Batch()
            grown = 2 + size
        batch.members.append(member)
        batch.size_bytes = grown
    if batch.members or batch.rejected:
        yield batch
