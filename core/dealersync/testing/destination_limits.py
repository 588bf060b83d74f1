"""Destination checks at the platform's limits: removals at scale, members as large as allowed.

Mixed into :class:`~dealersync.testing.DestinationConformance`; each check fails with its name:

``remove-chunking``
    :attr:`removal_scale` members (30,000) are added, then removed through core batching: every
    removal request stays within the declared rows (``limits.rows``, the fake's ``max_rows``),
    each member is named in exactly one request (the sizes the fake recorded add up), every
    removal is accepted and nobody is left;
``request-bytes``
    members as large as platforms allow (:meth:`~dealersync.testing.SamplePeople.large_members`)
    are added and removed, and the vendor's :meth:`platform_paths` run on them: every request
    body and URL stays within the fake's ``max_body_bytes`` / ``max_url_bytes``, no such member
    is refused as too large, and each arrives as sent. Enough members are sent to fill the
    tightest byte limit two and a half times.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, ClassVar

import pytest

from dealersync.batching import encoded_size
from dealersync.connectors import ConnectorContext
from dealersync.testing.kit_session import (
    check_request_bytes,
    check_request_rows,
    fail_check,
    project,
    row_limit,
)

#: Large members sent when no byte limit is declared (their arrival intact is still checked).
_LARGE_WITHOUT_LIMIT = 18


class LimitChecks:
    """``remove-chunking`` and ``request-bytes`` (see the module docstring)."""

    #: Members the ``remove-chunking`` check adds, then removes.
    removal_scale: ClassVar[int] = 30_000

    @pytest.mark.slow  # seconds, not minutes: tens of thousands of members through the fake twice
    def test_removals_at_scale(self, dealersync_context: ConnectorContext) -> None:
        self._audience_only()  # type: ignore[attr-defined]
        n = self.removal_scale
        with self.people() as people:  # type: ignore[attr-defined]
            members = people.members(n)
        with self.session(dealersync_context) as s:  # type: ignore[attr-defined]
            added = s.send("add", members)
            refused = [o for o in added if not o.accepted]
            if refused:
                fail_check("remove-chunking", f"{len(refused):,} of {n:,} members were refused when added"
                           f" (first: {refused[0].code}), so their removal cannot be checked")
            sizes_mark, calls_mark = len(s.platform.request_sizes), len(s.rsps.calls)
            try:
                outcomes = s.send("remove", members)
            finally:  # an oversized request the fake refused is named, not the error it caused
                sizes = s.platform.request_sizes[sizes_mark:]
                check_request_rows(sizes, s.dest, s.platform, "remove-chunking", "removed", "remove")
                check_request_bytes(s.sent(calls_mark), s.platform, s.dest, "remove")
            left = _held_of(s, members)
        if not sizes:
            fail_check("remove-chunking", "the fake recorded no removal request: call"
                       " self.record_batch(len(members)) in the handlers that remove members")
        per_member = Counter(o.member_key for o in outcomes)
        if sorted(per_member.elements()) != sorted(m["member_key"] for m in members):
            fail_check("remove-chunking", f"{len(outcomes):,} outcomes for {n:,} removed members: return"
                       " exactly one MemberOutcome per member")
        refused = [o for o in outcomes if not o.accepted]
        if refused:
            fail_check("remove-chunking", f"{len(refused):,} of {n:,} removals were refused"
                       f" (first: {refused[0].code}: {refused[0].reason})")
        if sum(sizes) != n:
            fail_check("remove-chunking", (
                f"the removal requests named {sum(sizes):,} members for {n:,} removed:"
                + (" some member was sent twice (overlapping chunks?)" if sum(sizes) > n
                   else " some member was never sent, or the fake does not record every removal request")
            ))
        if left:
            fail_check("remove-chunking", f"{left:,} of {n:,} removed members are still on the platform")

    def test_large_members_fit_the_byte_limits(self, dealersync_context: ConnectorContext) -> None:
        ids = self.connector.identifiers  # type: ignore[attr-defined]
        with self.people() as people:  # type: ignore[attr-defined]
            if self._kind() == "snapshot":  # type: ignore[attr-defined]
                _, text = self._write(dealersync_context, people.snapshot(3, large=True))  # type: ignore[attr-defined]
                missing = [m["member_key"] for m in people.large_members(3) if not _values_in(text, m)]
                if missing:
                    fail_check("request-bytes", f"{len(missing)} member(s) as large as platforms allow were not"
                               " written whole (a value cut short or dropped)")
                return
            with self.session(dealersync_context) as s:  # type: ignore[attr-defined]
                n = _large_count(s, people.large_members(1)[0])
                members = people.large_members(n)
                try:
                    added = s.send("add", members)
                finally:  # an oversized request the fake refused is named, not the error it caused
                    check_request_bytes(s.sent(), s.platform, s.dest, "add")
                too_large = [o for o in added if o.code == "too_large"]
                if too_large:
                    fail_check("request-bytes", (
                        f"{len(too_large)} of {n} members as large as platforms allow were refused as too large"
                        f" for BatchLimits(bytes={s.dest.limits.bytes}): {too_large[0].reason}; a limit that"
                        " cannot carry one such member loses the person"
                    ))
                refused = [o for o in added if not o.accepted]
                if refused:
                    fail_check("request-bytes", f"{len(refused)} of {n} large members were refused"
                               f" (first: {refused[0].code}: {refused[0].reason})")
                _check_arrived(s.remote(), members, ids)
                for name, drive in self.platform_paths().items():  # type: ignore[attr-defined]
                    calls, sizes = len(s.rsps.calls), len(s.platform.request_sizes)
                    try:
                        drive(s, members)
                    finally:
                        check_request_bytes(s.sent(calls), s.platform, s.dest, name)
                        check_request_rows(s.platform.request_sizes[sizes:], s.dest, s.platform, "request-rows",
                                           "carried", name)
                calls = len(s.rsps.calls)
                try:
                    s.send("remove", members)
                finally:
                    check_request_bytes(s.sent(calls), s.platform, s.dest, "remove")
                left = _held_of(s, members)
        if left:
            fail_check("request-bytes", f"{left} of {n} large members are still on the platform after their removal")


def _large_count(s: Any, probe: dict[str, Any]) -> int:
    """Members to send: enough to fill the tightest byte limit 2.5 times, at most 2.5 requests'
    worth of rows."""
    rows = math.ceil(2.5 * row_limit(s.dest, s.platform))
    caps = [c for c in (s.platform.max_body_bytes, s.platform.max_url_bytes, s.dest.limits.bytes) if c]
    if not caps:
        return min(rows, _LARGE_WITHOUT_LIMIT)
    return min(rows, max(6, math.ceil(2.5 * min(caps) / encoded_size(probe))))


def _held_of(s: Any, members: list[dict[str, Any]]) -> int:
    """How many of ``members`` the platform still holds."""
    ids = s.dest.identifiers
    sent = {project(m, ids) for m in members}
    return sum(project(m, ids) in sent for m in s.remote())


def _check_arrived(remote: list[dict[str, Any]], sent: list[dict[str, Any]], ids: Any) -> None:
    want = Counter(project(m, ids) for m in sent)
    got = Counter(project(m, ids) for m in remote)
    missing = want - got
    if missing:
        fail_check("request-bytes", (
            f"{sum(missing.values())} of {len(sent)} members as large as platforms allow did not arrive as"
            " sent (a value cut short, dropped or re-encoded on the way)"
        ))


def _values_in(text: str, member: dict[str, Any]) -> bool:
    return all(str(v) in text for k, v in member.items() if k != "member_key" and v)
