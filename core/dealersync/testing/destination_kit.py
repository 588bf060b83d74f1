"""The destination conformance suite. Members come from core identity, batches from core batching.

An :class:`~dealersync.AudienceDestination` is checked against the vendor's fake of the platform
(``platform``, a :class:`~dealersync.testing.FakePlatform`): what arrived is read back from it.
A :class:`~dealersync.SnapshotDestination` is checked on what it wrote: the text at the
``location`` it reports (override :meth:`DestinationConformance.read_snapshot` when that is not
a local file)::

    class TestAcmeAds(DestinationConformance):
        connector = AcmeAds
        config = {"api_token": "test-token", "account_id": "42"}
        platform = FakeAcme
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dealersync.audiences import AudienceSnapshot
from dealersync.connectors import (
    AudienceDestination,
    ConnectorContext,
    Destination,
    MemberOutcome,
    SnapshotDestination,
    SnapshotResult,
)
from dealersync.identity import get_profile
from dealersync.testing.conformance import ConnectorConformance
from dealersync.testing.destination_leaks import LeakChecks
from dealersync.testing.destination_limits import LimitChecks
from dealersync.testing.kit_session import KitSession, check_request_rows, fail_check, project
from dealersync.testing.people import SamplePeople, sample_people

SAMPLE = 6  # members in a check's batch; the first three have accented names and an apostrophe


class DestinationConformance(LimitChecks, LeakChecks, ConnectorConformance):
    """Checks for a :class:`dealersync.Destination`. Set ``connector``, ``config``, ``platform``;
    override :meth:`platform_paths` to run the checks on the platform's own calls too."""

    connector: ClassVar[type[Destination]]  # type: ignore[misc]

    # ---------------------------------------------------------------------- vendor hooks
    def read_snapshot(self, result: SnapshotResult) -> str:
        """What a snapshot destination wrote, as text (default: the file at ``result.location``)."""
        return Path(result.location).read_text(encoding="utf-8")

    # --------------------------------------------------------------------------- helpers
    @contextmanager
    def people(self) -> Iterator[SamplePeople]:
        with sample_people(self.connector.identifiers) as p:
            yield p

    @contextmanager
    def session(self, context: ConnectorContext) -> Iterator[KitSession]:
        dest = self.build(context)
        platform = self.new_platform()
        assert platform is not None, (
            f"set platform = <your FakePlatform subclass> on {type(self).__name__}: the kit reads the"
            " remote audience back from it"
        )
        with self.http(platform) as rsps:
            yield KitSession(dest, platform, rsps)  # type: ignore[arg-type]

    def _kind(self) -> str:
        if issubclass(self.connector, AudienceDestination):
            return "audience"
        if issubclass(self.connector, SnapshotDestination):
            return "snapshot"
        raise AssertionError(f"{self.connector.__name__} is neither an AudienceDestination nor a SnapshotDestination")

    def _audience_only(self) -> None:
        if self._kind() != "audience":
            pytest.skip("applies to AudienceDestination (incremental API) connectors")

    def _write(self, context: ConnectorContext, snapshot: AudienceSnapshot) -> tuple[SnapshotResult, str]:
        dest = self.build(context)
        with self.http(self.new_platform()):
            dest.check()
            result = dest.write_snapshot(snapshot)  # type: ignore[attr-defined]
        return result, self.read_snapshot(result)

    def exercise(self, connector: Any) -> None:
        with self.people() as people:
            if isinstance(connector, AudienceDestination):
                audience = connector.ensure_audience("dealersync kit")
                connector.add(audience, people.members(2))
            else:
                connector.write_snapshot(people.snapshot(2))

    # ---------------------------------------------------------------------------- checks
    def test_identifiers_use_known_profiles(self) -> None:
        ids = self.connector.identifiers
        assert ids, "identifiers must map at least one field to an identity profile"
        for f, profile in ids.items():
            get_profile(profile)  # raises ConfigError naming the unknown profile
            assert f not in ("member_key", "customer_ids"), f"identifier field {f!r} is reserved"
        assert self.connector.channel in ("ads", "email", "sms"), "channel must be ads, email or sms"

    def test_batch_round_trips(self, dealersync_context: ConnectorContext) -> None:
        with self.people() as people:
            if self._kind() == "snapshot":
                snapshot = people.snapshot(SAMPLE)
                result, text = self._write(dealersync_context, snapshot)
                assert result.written == snapshot.count, f"wrote {result.written} of {snapshot.count} members"
                _assert_values_in(text, people.members(SAMPLE))
                return
            members = people.members(SAMPLE)
            with self.session(dealersync_context) as s:
                outcomes = s.send("add", members)
                _assert_outcomes(outcomes, members, rejected=set())
                _assert_same_members(s.remote(), members, self.connector.identifiers)

    def test_resending_a_batch_leaves_each_member_once(self, dealersync_context: ConnectorContext) -> None:
        with self.people() as people:
            if self._kind() == "snapshot":
                snapshot = people.snapshot(SAMPLE)
                first = self._write(dealersync_context, snapshot)[1]
                again = self._write(dealersync_context, snapshot)[1]
                assert first == again, "writing the same snapshot twice gave different output"
                return
            members = people.members(SAMPLE)
            with self.session(dealersync_context) as s:
                s.send("add", members)
                once = len(s.remote())
                s.send("add", members)
                remote = s.remote()
        dupes = [m for m, n in Counter(project(m, self.connector.identifiers) for m in remote).items() if n > 1]
        assert not dupes and len(remote) == once, (
            f"after sending the same batch twice the platform holds {len(remote)} members"
            f" ({len(dupes)} twice), {once} after the first time: add() must be idempotent"
        )

    def test_remove_works(self, dealersync_context: ConnectorContext) -> None:
        with self.people() as people:
            if self._kind() == "snapshot":
                members = people.members(SAMPLE)
                _, text = self._write(dealersync_context, people.snapshot(SAMPLE - 2))
                kept = {m["member_key"] for m in people.members(SAMPLE - 2)}
                gone = [m for m in members if m["member_key"] not in kept]
                leftover = [v for m in gone for k, v in m.items() if k != "member_key" and v and _unique(v, members, m)]
                assert not any(v in text for v in leftover), "a smaller snapshot still holds members it dropped"
                return
            members = people.members(SAMPLE)
            with self.session(dealersync_context) as s:
                s.send("add", members)
                outcomes = s.send("remove", members[:2])
                remote = s.remote()
        _assert_outcomes(outcomes, members[:2], rejected=set())
        left = {project(m, self.connector.identifiers) for m in remote}
        still = [m["member_key"] for m in members[:2] if project(m, self.connector.identifiers) in left]
        assert not still, f"{len(still)} removed member(s) are still on the platform"

    def test_batch_limits_are_respected(self, dealersync_context: ConnectorContext) -> None:
        self._audience_only()
        limits = self.connector.limits
        with self.people() as people:
            members = people.members(math.ceil(2.5 * limits.rows))
        with self.session(dealersync_context) as s:
            s.send("add", members)
            sizes = s.platform.request_sizes
        if not sizes:
            fail_check("add-chunking", "the fake recorded no request sizes: call self.record_batch(len(members))"
                       " in the handlers that receive members")
        check_request_rows(sizes, s.dest, s.platform, "add-chunking", "added", "add")

    def test_rejected_members_are_reported_one_by_one(self, dealersync_context: ConnectorContext) -> None:
        self._audience_only()
        with self.people() as people:
            members = people.members(SAMPLE)
        bad = members[1]
        with self.session(dealersync_context) as s:
            s.platform.reject_values = {next(v for k, v in bad.items() if k != "member_key" and v)}
            outcomes = s.send("add", members)
        _assert_outcomes(outcomes, members, rejected={bad["member_key"]})
        refused = next(o for o in outcomes if o.member_key == bad["member_key"])
        assert refused.code or refused.reason, "a rejection must carry the platform's code or reason"

    def test_unicode_survives(self, dealersync_context: ConnectorContext) -> None:
        with self.people() as people:
            if self._kind() == "snapshot":
                _, text = self._write(dealersync_context, people.snapshot(3))
                _assert_values_in(text, people.members(3))
                return
            members = people.members(3)  # José Müller, Zoë O'Brien, Siobhán Lindqvist
        with self.session(dealersync_context) as s:
            s.send("add", members)
            remote = s.remote()
        sent = {project(m, self.connector.identifiers) for m in members}
        arrived = [m for m in remote if project(m, self.connector.identifiers) not in sent]
        assert remote and not arrived, (
            f"{len(arrived)} member(s) arrived different from how they were sent: check the encoding"
            " (send JSON as UTF-8; do not strip or transliterate characters)"
        )

    def test_no_raw_pii_in_requests(self, dealersync_context: ConnectorContext) -> None:
        hashed = [f for f, p in self.connector.identifiers.items() if get_profile(p).hashed]
        if not hashed:
            pytest.skip("the destination takes no hashed identifier")
        with self.people() as people:
            if self._kind() == "snapshot":
                texts = [self._write(dealersync_context, people.snapshot(SAMPLE))[1]]
            else:
                members = people.members(SAMPLE)
                with self.session(dealersync_context) as s:
                    s.send("add", members)
                    s.send("remove", members[:1])
                    texts = [_request_text(c.request) for c in s.rsps.calls]
            raw = people.raw_values(SAMPLE)
        leaks = sorted({v for v in raw for t in texts if v in t})
        assert not leaks, f"raw personal data sent where the platform takes hashes: {leaks[:5]}"


def _assert_same_members(remote: list[dict[str, Any]], sent: list[dict[str, Any]], ids: Mapping[str, str]) -> None:
    want = Counter(project(m, ids) for m in sent)
    got = Counter(project(m, ids) for m in remote)
    missing, extra = want - got, got - want
    assert not missing and not extra, (
        f"the platform holds {sum(got.values())} members, {sum(want.values())} were sent and"
        f" accepted: {sum(missing.values())} missing, {sum(extra.values())} unexpected or altered"
    )


def _assert_outcomes(outcomes: list[MemberOutcome], members: list[dict[str, Any]], rejected: set[str]) -> None:
    keys = [o.member_key for o in outcomes]
    want = sorted(m["member_key"] for m in members)
    assert sorted(keys) == want, (
        f"{len(keys)} outcomes for {len(want)} members: return exactly one MemberOutcome per member"
    )
    refused = {o.member_key for o in outcomes if not o.accepted}
    assert refused == rejected, (
        f"rejected {len(refused)} member(s), expected {len(rejected)}: report each member the"
        " platform refused as MemberOutcome(accepted=False, code, reason), and only those"
    )


def _assert_values_in(text: str, members: list[dict[str, Any]]) -> None:
    missing = [v for m in members for k, v in m.items() if k != "member_key" and v and str(v) not in text]
    assert not missing, f"{len(missing)} member value(s) are not in the output, e.g. {missing[:2]}"


def _unique(value: Any, members: list[dict[str, Any]], owner: dict[str, Any]) -> bool:
    """Whether no other member shares ``value`` (a shared zip code proves nothing)."""
    return not any(value in m.values() for m in members if m is not owner)


def _request_text(request: Any) -> str:
    body = request.body or b""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return f"{request.url}\n{text}"
