"""The wall clock of the sync state (``confirmed_at``, refresh): one function, so tests inject a
clock (``monkeypatch.setattr(dealersync.delivery.clock, "now", ...)``) and move days in seconds."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The local wall-clock time, as DuckDB's TIMESTAMP columns keep it (naive)."""
    return dt.datetime.now()
