"""Fixtures every test directory shares. Plain helpers (config snippets, warehouse queries, local
servers, processes) are in ``tests/support``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dealersync.store import Warehouse

# ``from tests.support... import``: the repository root is importable however pytest is started
_ROOT = str(Path(__file__).parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


@pytest.fixture
def warehouse_memory() -> str:
    """The memory limit of the ``wh`` fixture; a module that loads larger files overrides it."""
    return "256MB"


@pytest.fixture
def wh(warehouse_memory: str) -> Iterator[Warehouse]:
    """An in-memory warehouse with the bookkeeping schema, two threads."""
    with Warehouse(":memory:", memory_limit=warehouse_memory, threads=2) as w:
        yield w
