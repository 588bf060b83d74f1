"""Strict HTTP mocking for connector tests: an unmocked call or an unused mock fails the test."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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
        try:
            yield rsps
        except BaseException:
            rsps.assert_all_requests_are_fired = False  # the block's own failure is the news
            raise
        _assert_no_stray(rsps)
        for route in platform.unused_routes() if platform is not None else []:
            rsps.remove(route)


def _assert_no_stray(rsps: responses.RequestsMock) -> None:
    stray = sorted({
        f"{c.request.method} {c.request.url}"
        for c in rsps.calls
        if isinstance(c.response, requests.ConnectionError) and _UNMATCHED in str(c.response)
    })
    assert not stray, f"requests nothing mocks: {stray}; add them to mocks() or the fake platform"


@contextmanager
def every_request_answered(status: int, body: Any = None, **headers: str) -> Iterator[responses.RequestsMock]:
    """Every request, to any URL, gets ``status`` (an outage, a revoked credential) with ``body``
    as JSON (default: an error object saying it is simulated)."""
    if body is None:
        body = {"error": {"code": status, "message": "simulated by the dealersync kit"}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for method in METHODS:
            rsps.add(method, re.compile(r".*"), status=status, headers=headers, json=body)
        yield rsps


@contextmanager
def first_request_answered(status: int, platform: FakePlatform, **headers: str) -> Iterator[responses.RequestsMock]:
    """The first request of each method gets ``status`` (a 503, a 429), every later one reaches
    ``platform``: a retry that then succeeds. Unmatched requests are still reported."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        # registered before the fake's routes: responses answers the first of several matching
        # mocks once, then drops it
        for method in METHODS:
            rsps.add(method, re.compile(r".*"), status=status, headers=headers,
                     json={"error": {"code": status, "message": "simulated by the dealersync kit"}})
        platform.register(rsps)
        yield rsps
        _assert_no_stray(rsps)
