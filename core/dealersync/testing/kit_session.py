"""What the destination checks drive: a connector, its fake platform, the live mocks; and the
named failures a vendor reads (``kit check 'remove-chunking' failed: ...``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

import responses

from dealersync.batching import split_batches
from dealersync.connectors import AudienceDestination, BatchInfo, MemberOutcome, RemoteAudience
from dealersync.testing.fakes import FakePlatform


class KitCheckFailed(AssertionError):
    """A kit check failed; ``check`` is its name (``"request-bytes"``, ``"log-leaks"``, ...)."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(f"kit check '{check}' failed: {message}")
        self.check = check


def fail_check(check: str, message: str) -> NoReturn:
    raise KitCheckFailed(check, message)


def project(member: Mapping[str, Any], identifiers: Mapping[str, str]) -> frozenset[tuple[str, Any]]:
    """A member as the platform compares it: its non-empty identifier values."""
    return frozenset((k, v) for k, v in member.items() if k in identifiers and v not in (None, ""))


class KitSession:
    """One check against an audience destination: the connector (``dest``), its fake
    (``platform``), the live mocks (``rsps``) and the ``audience`` the members go to.

    A vendor's :meth:`~dealersync.testing.DestinationConformance.platform_paths` receive it."""

    def __init__(
        self,
        dest: AudienceDestination,
        platform: FakePlatform,
        rsps: responses.RequestsMock,
        audience: RemoteAudience | None = None,
    ) -> None:
        self.dest, self.platform, self.rsps = dest, platform, rsps
        self.sessions = 0
        #: member key -> the platform's id of the member an add returned (core keeps it too)
        self.platform_ids: dict[str, str] = {}
        self.audience: RemoteAudience = audience or dest.ensure_audience("dealersync kit", "conformance check")

    def send(self, op: str, members: list[dict[str, Any]]) -> list[MemberOutcome]:
        """Send through core batching, as the sync engine does; every outcome, rejections included.

        ``op`` is ``add``, ``remove``, ``update`` or ``replace``. A removal carries only the
        destination's ``state_fields`` (what core keeps per member) and the ``platform_id`` an
        add returned, as core sends it.
        """
        keep = self.dest.state_fields
        if op == "remove":
            if keep is not None:
                members = [{k: m.get(k) for k in ("member_key", *keep)} for m in members]
            members = [
                {**m, "platform_id": self.platform_ids[m["member_key"]]} if m["member_key"] in self.platform_ids else m
                for m in members
            ]
        batches = list(split_batches(members, self.dest.limits))
        self.sessions += 1
        outcomes: list[MemberOutcome] = []
        for seq, batch in enumerate(batches, 1):
            info = BatchInfo(self.sessions, seq, last=seq == len(batches), estimated_total=len(members))
            if batch.members:
                outcomes += getattr(self.dest, op)(self.audience, batch.members, info)
            outcomes += batch.rejected
        self.platform_ids.update({o.member_key: o.platform_id for o in outcomes if o.platform_id})
        return outcomes

    def remote(self) -> list[dict[str, Any]]:
        return self.platform.members(self.audience.id)

    def sent(self, since: int = 0) -> list[SentRequest]:
        """The requests made through the mocks, from the ``since``-th on."""
        return [SentRequest.of(c.request) for c in list(self.rsps.calls)[since:]]


@dataclass(frozen=True)
class SentRequest:
    """A request as the platform received it: its size in bytes, where it went."""

    method: str
    where: str  # scheme, host and path: no query string
    url_bytes: int
    body_bytes: int

    @classmethod
    def of(cls, request: Any) -> SentRequest:
        url = request.url or ""
        body = request.body or b""
        size = len(body) if isinstance(body, bytes) else len(str(body).encode())
        parts = urlsplit(url)
        return cls(request.method or "", f"{parts.scheme}://{parts.netloc}{parts.path}", len(url.encode()), size)


def check_request_bytes(sent: list[SentRequest], platform: FakePlatform, dest: Any, path: str) -> None:
    """Every request within the fake's ``max_body_bytes`` and ``max_url_bytes`` (check ``request-bytes``)."""
    fake = type(platform).__name__
    declared = getattr(dest.limits, "bytes", None)
    for i, r in enumerate(sent, 1):
        body_cap, url_cap = platform.max_body_bytes, platform.max_url_bytes
        if body_cap is not None and r.body_bytes > body_cap:
            fail_check("request-bytes", (
                f"request {i} on path '{path}' ({r.method} {r.where}) carried a {r.body_bytes:,}-byte body;"
                f" the platform takes {body_cap:,} ({fake}.max_body_bytes). Declare"
                f" BatchLimits(bytes=...) with room for the request's envelope (declared: {declared})"
            ))
        if url_cap is not None and r.url_bytes > url_cap:
            fail_check("request-bytes", (
                f"request {i} on path '{path}' ({r.method} {r.where}) had a {r.url_bytes:,}-byte URL;"
                f" the platform answers at most {url_cap:,} ({fake}.max_url_bytes): cut the request"
                " smaller or move its members into the body"
            ))


def row_limit(dest: Any, platform: FakePlatform) -> int:
    """Members one request may carry: the connector's ``limits.rows`` and the fake's ``max_rows``."""
    cap = platform.max_rows
    return min(dest.limits.rows, cap) if cap else dest.limits.rows


def check_request_rows(sizes: list[int], dest: Any, platform: FakePlatform, check: str, verb: str, path: str) -> None:
    """Every recorded request size within :func:`row_limit` (``verb``: what a request did)."""
    limit = row_limit(dest, platform)
    for i, n in enumerate(sizes, 1):
        if n > limit:
            fail_check(check, (
                f"request {i} on path '{path}' {verb} {n:,} members, the declared max is {limit:,}"
                f" (BatchLimits.rows={dest.limits.rows:,}, {type(platform).__name__}.max_rows={platform.max_rows})"
            ))
