"""The source conformance suite: streams, loading, keys, cursors (plus HTTP checks for APIs)::

    from dealersync.testing import SourceConformance
    from dealersync_acme import AcmeCrm

    class TestAcmeCrm(SourceConformance):
        connector = AcmeCrm
        config = {"base_url": "https://api.acme.test", "api_token": "test-token"}

        def mocks(self, rsps):
            rsps.add("GET", "https://api.acme.test/customers", json={"data": [...]})
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, ClassVar

import pytest

from dealersync.connectors import ConnectorContext, ExtractFile, RecordBatch, Source
from dealersync.loading import LoadReport, load_source
from dealersync.model import TABLES
from dealersync.store import Warehouse
from dealersync.testing.conformance import ConnectorConformance

#: Quarantine categories that are about keys: the keys check reports them, not the load check.
KEY_PROBLEMS = ("missing key", "duplicate key")
#: Record fields tried, in order, as a stream's cursor field when ``cursor_fields`` omits it.
CURSOR_CANDIDATES = ("updated_at", "occurred_at", "created_at")

Batches = dict[str, list[ExtractFile | RecordBatch]]


class SourceConformance(ConnectorConformance):
    """Checks for a :class:`dealersync.Source`. Set ``connector`` and ``config`` (or ``make_config``)."""

    connector: ClassVar[type[Source]]  # type: ignore[misc]
    #: Per stream, the record field its cursor advances on (default: updated_at, occurred_at,
    #: created_at, whichever the table has).
    cursor_fields: ClassVar[dict[str, str]] = {}

    def exercise(self, connector: Any) -> None:
        self.read_all(connector)

    def read_all(self, source: Source, states: dict[str, Any] | None = None) -> Batches:
        """Every stream's batches (``states``: the cursor to read each stream from)."""
        source.check()
        return {s: list(source.read(s, (states or {}).get(s))) for s in source.streams()}

    def _read(self, context: ConnectorContext) -> Batches:
        source = self.build(context)
        with self.http(self.new_platform()):
            return self.read_all(source)  # type: ignore[arg-type]

    # ---------------------------------------------------------------------------- checks
    def test_check_passes(self, dealersync_context: ConnectorContext) -> None:
        self._read(dealersync_context)

    def test_streams_are_canonical_tables(self, dealersync_context: ConnectorContext) -> None:
        batches = self._read(dealersync_context)
        assert batches, "streams() returned no stream"
        unknown = sorted(set(batches) - set(TABLES))
        assert not unknown, f"streams {unknown} are not canonical tables ({', '.join(TABLES)})"
        for stream, items in batches.items():
            for b in items:
                assert isinstance(b, ExtractFile | RecordBatch), (
                    f"read({stream!r}) yielded {type(b).__name__}; expected ExtractFile or RecordBatch"
                )
                assert b.table == stream, f"read({stream!r}) yielded a batch for table {b.table!r}"

    def test_streams_load_cleanly(self, dealersync_context: ConnectorContext) -> None:
        report = _load(self._read(dealersync_context))
        problems = {
            f"{f.file} ({f.table})": {k: v for k, v in f.quarantined.items() if k not in KEY_PROBLEMS}
            for f in report.files
        }
        problems = {k: v for k, v in problems.items() if v}
        assert not problems, f"rows the engine quarantined (reason: count): {problems}"
        assert report.total_loaded > 0, "the source delivered no row at all"

    def test_keys_present_and_unique(self, dealersync_context: ConnectorContext) -> None:
        batches = self._read(dealersync_context)
        report = _load(batches)
        problems = {
            f"{f.file} ({f.table})": {k: v for k, v in f.quarantined.items() if k in KEY_PROBLEMS}
            for f in report.files
        }
        problems = {k: v for k, v in problems.items() if v}
        assert not problems, f"key problems: {problems}"

    def test_incremental_reread_yields_nothing_older(self, dealersync_context: ConnectorContext) -> None:
        source = self.build(dealersync_context)
        with self.http(self.new_platform()):
            first = self.read_all(source)  # type: ignore[arg-type]
            cursors = {s: _last_cursor(items) for s, items in first.items()}
            cursors = {s: c for s, c in cursors.items() if c is not None}
            if not cursors:
                pytest.skip("no stream returns a cursor: every read is a full snapshot")
            again = self.read_all(source, cursors)  # type: ignore[arg-type]
        for stream in cursors:
            field = self._cursor_field(stream)
            seen = [r.get(field) for r in _records(first[stream]) if r.get(field) is not None]
            assert seen, f"{stream}: the first read has no {field} to compare (set cursor_fields)"
            newest = max(_as_time(v) for v in seen)
            older = [r for r in _records(again.get(stream, [])) if _as_time(r.get(field)) < newest]
            assert not older, (
                f"{stream}: re-reading from the saved cursor {cursors[stream]} yielded {len(older)}"
                f" record(s) with {field} before {newest}"
            )

    def _cursor_field(self, stream: str) -> str:
        if stream in self.cursor_fields:
            return self.cursor_fields[stream]
        names = TABLES[stream].column_names
        found = next((c for c in CURSOR_CANDIDATES if c in names), None)
        assert found, f"{stream}: which field does the cursor follow? set cursor_fields = {{{stream!r}: ...}}"
        return found


def _load(batches: Batches) -> LoadReport:
    with Warehouse(":memory:", memory_limit="512MB", threads=1) as wh:
        return load_source(wh, "kit", [b for items in batches.values() for b in items])


def _last_cursor(items: Iterable[ExtractFile | RecordBatch]) -> dict[str, Any] | None:
    cursor = None
    for b in items:
        if isinstance(b, RecordBatch) and b.cursor is not None:
            cursor = b.cursor
    return cursor


def _records(items: Iterable[ExtractFile | RecordBatch]) -> list[dict[str, Any]]:
    return [r for b in items if isinstance(b, RecordBatch) for r in b.records]


def _as_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return dt.datetime.fromisoformat(str(value))
