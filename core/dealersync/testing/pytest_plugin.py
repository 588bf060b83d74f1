"""The conformance kit's pytest plugin, loaded through the ``pytest11`` entry point ``dealersync``.

It provides the fixtures the suites use, which a vendor's own tests can use too:

``dealersync_context``
    a :class:`~dealersync.ConnectorContext` rooted in the test's ``tmp_path`` (config paths
    resolve there; ``out/`` is the output directory), ``as_of`` fixed at 2026-11-23.
``dealersync_waits``
    core http's retry waits are recorded in this list instead of slept.
``dealersync_http``
    strict ``responses`` mocks (an unmocked request or an unused mock fails the test).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

import dealersync
from dealersync import http
from dealersync.connectors import ConnectorContext
from dealersync.testing.mocks import strict_http

AS_OF = dt.date(2026, 11, 23)


def pytest_configure(config: pytest.Config) -> None:
    """The kit marks its check of removals at scale ``slow`` (several seconds; it still runs)."""
    config.addinivalue_line("markers", "slow: takes more than a few seconds; still run in CI")


def pytest_report_header() -> str:
    return f"dealersync {dealersync.__version__} (conformance kit: dealersync.testing)"


@pytest.fixture
def dealersync_context(tmp_path: Path) -> ConnectorContext:
    return ConnectorContext("kit", tmp_path, AS_OF, tmp_path / "out", logging.getLogger("dealersync.kit"))


@pytest.fixture
def dealersync_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(http, "sleep", waits.append)
    return waits


@pytest.fixture
def dealersync_http() -> Iterator[responses.RequestsMock]:
    with strict_http() as rsps:
        yield rsps
