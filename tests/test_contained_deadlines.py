"""Deadlines of :class:`dealersync.HttpSession`: a total per request (a server dripping its answer
never trips a read timeout) and a budget per destination and run, retries included."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from dealersync import FatalError, HttpSession, TransientError
from dealersync.http import deadlines

from tests.support.servers import LocalServer, drip


class _Drip(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).hits += 1
        drip(self, chunks=100, every=0.1, byte=b"x")


@pytest.fixture
def dripping() -> Iterator[str]:
    _Drip.hits = 0
    with LocalServer(_Drip) as server:
        yield server.url


def test_a_dripping_answer_is_cut_at_the_request_deadline(dripping: str) -> None:
    http = HttpSession("Drip", base_url=dripping, timeout=(1.0, 5.0), max_attempts=2, backoff=0.01)
    started = time.monotonic()
    with deadlines(request=0.5), pytest.raises(TransientError, match="deadline"):
        http.get("/slow")
    assert time.monotonic() - started < 2.5  # two attempts of 0.5 s, not 10 s of drip each
    assert _Drip.hits == 2  # retried within the rules


def test_the_destination_budget_bounds_the_retries(dripping: str) -> None:
    http = HttpSession("Drip", base_url=dripping, max_attempts=10, backoff=0.01)
    started = time.monotonic()
    with deadlines(request=0.4, until=time.monotonic() + 1.0), pytest.raises((TransientError, FatalError)):
        http.get("/slow")
    assert time.monotonic() - started < 1.8
    assert _Drip.hits <= 3  # 10 attempts allowed, the budget stopped them
    with deadlines(request=0.4, until=time.monotonic() - 1), pytest.raises(FatalError, match="used up"):
        http.get("/slow")


def test_a_dripping_answer_is_cut_at_the_deadline_off_the_main_thread(dripping: str) -> None:
    """A plugin's worker thread (Mailchimp sends from a pool) gets the same total deadline."""
    http = HttpSession("Drip", base_url=dripping, timeout=(1.0, 5.0), max_attempts=1)
    outcome: list[BaseException | None] = []

    def worker() -> None:
        with deadlines(request=0.5):
            try:
                http.get("/slow")
            except BaseException as exc:  # handed to the main thread's asserts
                outcome.append(exc)
            else:
                outcome.append(None)

    started = time.monotonic()
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=5.0)
    assert not thread.is_alive()
    assert time.monotonic() - started < 1.5  # cut at 0.5 s, not 10 s of drip
    assert isinstance(outcome[0], TransientError) and "deadline" in outcome[0].message
