"""Strict HTTP mocking for connector tests: an unmocked call or an unused mock fails the test."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
import responses

from dealersync.testing.fakes import FakePlatform

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_UNMATCHED = "Connection refused by Responses"  # how responses answers a request nothing mocks


@contextmanager
def strict_http(
    mocks: Callable[[responses.RequestsMock], None] | None = None,
    platform: FakePlatform | None = None,
) -> Iterator[responses.RequestsMock]:
    """Mock ``requests`` with ``mocks`` and ``platform``'s routes; fail on stray or unused mocks.

    Unused mocks fail through ``responses`` (``assert_all_requests_are_fired``). The routes of a
    fake platform are exempt: a fake models the whole API and each check uses part of it.
    An unmocked call is reported even when the connector caught the error ``responses`` raised
    (core http would otherwise retry it as a connection failure).
    """
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        if platform is not None:
            platform.register(rsps)
        if mocks is not None:
            mocks(rsps)
        yield rsps
        stray = sorted({
            f"{c.request.method} {c.request.url}"
            for c in rsps.calls
            if isinstance(c.response, requests.ConnectionError) and _UNMATCHED in str(c.response)
        })
        assert not stray, f"requests nothing mocks: {stray}; add them to mocks() or the fake platform"
        for route in platform.unused_routes() if platform is not None else []:
            rsps.remove(route)


@contextmanager
def every_request_answered(status: int, **headers: str) -> Iterator[responses.RequestsMock]:
    """Every request, to any URL, gets ``status`` (an outage, a revoked credential)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for method in METHODS:
            rsps.add(method, re.compile(r".*"), status=status, headers=headers,
                     json={"error": {"code": status, "message": "simulated by the dealersync kit"}})
        yield rsps
