"""The source conformance suite: streams, loading, keys, cursors (plus HTTP checks for APIs)::

    from dealersync.testing import SourceConformance
    from dealersync_acme import AcmeCrm

    class TestAcmeCrm(SourceConformance):
        connector = AcmeCrm
        config = {"base_url": "https://api.acme.test", "api_token": "test-token"}

        def mocks(self, rsps):
            rsps.add("GET", "https://api.acme.test/customers", json={"data": [...]})

A source that reads files adds a fixture with malformed lines (``make_malformed_config``) and
the physical lines it must quarantine (``malformed_lines``): the kit checks the quarantine names
those files and lines, that good lines load with their line, and that no reason holds a value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dealersync.config import validate
from dealersync.connectors import ConnectorContext, ExtractFile, Located, RecordBatch, Source, Unparsable
from dealersync.loading import LoadReport, load_source
from dealersync.loading.checks import type_reason
from dealersync.model import TABLES
from dealersync.store import Warehouse
from dealersync.testing.conformance import ConnectorConformance
from dealersync.vocabularies import unknown_value_reason

#: Quarantine categories that are about keys: the keys check reports them, not the load check.
KEY_PROBLEMS = ("missing key", "duplicate key")
#: Record fields tried, in order, as a stream's cursor field when ``cursor_fields`` omits it.
CURSOR_CANDIDATES = ("updated_at", "occurred_at", "created_at")

#: A value-like run of a line's text (words, emails, dates, numbers) the leak check looks for.
VALUE_TOKEN = re.compile(r"[\w@.+\-:/]+")
#: A key of a JSON object in a line's text.
JSON_KEY = re.compile(r'"([^"\\]+)"\s*:')
#: Shorter runs are not checked (they match too much by chance: "Y", "Ann", "12").
MIN_TOKEN = 4
#: Digit-only runs shorter than this are not checked: a reason names line numbers and counts.
MIN_DIGITS = 6

Batches = dict[str, list[ExtractFile | RecordBatch]]


@dataclass
class Quarantined:
    """What loading the malformed fixture put in the warehouse."""

    report: LoadReport
    rows: list[tuple[str, int, str | None, str]]  # quarantine: file, line, column, reason
    unlocated: int  # loaded rows without a _line


class SourceConformance(ConnectorConformance):
    """Checks for a :class:`dealersync.Source`. Set ``connector`` and ``config`` (or ``make_config``)."""

    connector: ClassVar[type[Source]]  # type: ignore[misc]
    #: Per stream, the record field its cursor advances on (default: updated_at, occurred_at,
    #: created_at, whichever the table has).
    cursor_fields: ClassVar[dict[str, str]] = {}
    #: Per file name, the physical lines (1-based, as an editor numbers them) the source must
    #: quarantine when it reads the fixture of :meth:`make_malformed_config`.
    malformed_lines: ClassVar[Mapping[str, Collection[int]]] = {}

    def make_malformed_config(self, base_dir: Path) -> dict[str, Any] | None:
        """A config reading files with malformed lines (a syntax error, a record missing its
        key, an invalid value) besides good ones: write them under ``base_dir`` or point at your
        fixture. None (the default): the quarantine checks are skipped (an API source)."""
        return None

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

    def test_malformed_lines_quarantined_at_their_line(self, dealersync_context: ConnectorContext) -> None:
        q = self._load_malformed(dealersync_context)
        not_files = sorted({file for file, *_ in q.rows if not Path(file).is_file()})
        assert not not_files, (
            f"quarantine rows name {not_files}, not the file each line came from: yield records as"
            " dealersync.Located(record, file=path, line=n) and lines you cannot parse as"
            " dealersync.Unparsable(file=path, line=n, reason=...)"
        )
        found = {(Path(file).name, line) for file, line, *_ in q.rows}
        expected = {(name, line) for name, lines in self.malformed_lines.items() for line in lines}
        missing, unexpected = sorted(expected - found), sorted(found - expected)
        assert not missing and not unexpected, (
            f"malformed lines not quarantined: {missing}; quarantined lines not in malformed_lines:"
            f" {unexpected} (lines must be the file's physical lines: 1-based, blank lines and"
            " lines a record spans counted, not positions among the records)"
        )
        assert q.report.total_loaded > 0, "no good line of the malformed fixture was loaded"
        assert not q.unlocated, (
            f"{q.unlocated} loaded row(s) carry no line (_line): yield each record as"
            " dealersync.Located(record, file=path, line=n)"
        )

    def test_quarantine_reasons_hold_no_raw_value(self, dealersync_context: ConnectorContext) -> None:
        q = self._load_malformed(dealersync_context)
        assert q.rows, "the malformed fixture quarantined no line: no reason to check (see malformed_lines)"
        files = {Path(file) for file, *_ in q.rows if Path(file).is_file()}
        files |= {p for p in dealersync_context.base_dir.rglob("*") if p.is_file()}
        everything = [text for f in sorted(files) for text in _physical_lines(f)]
        exempt = _reason_words()
        leaks = []
        for file, line, _column, reason in q.rows:
            lines = _physical_lines(Path(file)) if Path(file).is_file() else []
            texts = [lines[line - 1]] if 0 < line <= len(lines) else everything
            values = {t for text in texts for t in _value_tokens(text) if t.lower() not in exempt}
            leaks += [(Path(file).name, line, v) for v in sorted(values) if v.lower() in reason.lower()]
        assert not leaks, (
            f"quarantine reasons hold text of the line (file, line, text): {leaks[:10]}; a reason says"
            " what is wrong, never the value (it may be an email or a name)"
        )

    def _load_malformed(self, context: ConnectorContext) -> Quarantined:
        raw = self.make_malformed_config(context.base_dir)
        if raw is None:
            pytest.skip("no malformed fixture: set make_malformed_config and malformed_lines (a source reading files)")
        assert self.malformed_lines, "make_malformed_config needs malformed_lines: {file name: [physical lines]}"
        cfg = validate(raw, self.connector.Config, prefix=f"sources.{context.instance}")
        source = self.connector(cfg, context)
        with self.http(self.new_platform()):
            batches = self.read_all(source)
        with _warehouse() as wh:
            report = load_source(wh, "kit", [b for items in batches.values() for b in items])
            rows = wh.con.execute('SELECT file, line, "column", reason FROM _quarantine ORDER BY file, line').fetchall()
            unlocated = sum(
                wh.con.execute(f'SELECT count(*) FROM "{table}" WHERE _line IS NULL').fetchall()[0][0]
                for table in {f.table for f in report.files}
            )
        return Quarantined(report, rows, unlocated)

    def _cursor_field(self, stream: str) -> str:
        if stream in self.cursor_fields:
            return self.cursor_fields[stream]
        names = TABLES[stream].column_names
        found = next((c for c in CURSOR_CANDIDATES if c in names), None)
        assert found, f"{stream}: which field does the cursor follow? set cursor_fields = {{{stream!r}: ...}}"
        return found


@contextmanager
def _warehouse() -> Iterator[Warehouse]:
    with Warehouse(":memory:", memory_limit="512MB", threads=1) as wh:
        yield wh


def _load(batches: Batches) -> LoadReport:
    with _warehouse() as wh:
        return load_source(wh, "kit", [b for items in batches.values() for b in items])


def _physical_lines(path: Path) -> list[str]:
    """The file's physical lines (split on \\n only, as sources must count them)."""
    return [raw.decode("utf-8", errors="replace") for raw in path.read_bytes().split(b"\n")]


def _value_tokens(text: str) -> set[str]:
    """The value-like runs of a line's text worth looking for in a reason (not the keys of a
    JSON object: a field's name in a reason is no leak)."""
    keys = {k.lower() for k in JSON_KEY.findall(text)}
    tokens = {t.strip(".-:/+") for t in VALUE_TOKEN.findall(text)}
    return {
        t for t in tokens
        if len(t) >= MIN_TOKEN and not (t.isdigit() and len(t) < MIN_DIGITS) and t.lower() not in keys
    }


def _reason_words() -> set[str]:
    """Words a reason may share with a line without leaking it: column names, JSON's literals and
    the words of core's own reasons for records."""
    reasons = ["missing key", "unknown column", "duplicate of line record", "not a record"]
    for table in TABLES.values():
        for column in table.columns:
            reasons += [column.name, type_reason(column)]
            if column.choices:
                reasons.append(unknown_value_reason(table.name, column.name))
    words = {w.lower() for text in reasons for w in VALUE_TOKEN.findall(text)}
    return words | {"true", "false", "null"}


def _last_cursor(items: Iterable[ExtractFile | RecordBatch]) -> dict[str, Any] | None:
    cursor = None
    for b in items:
        if isinstance(b, RecordBatch) and b.cursor is not None:
            cursor = b.cursor
    return cursor


def _records(items: Iterable[ExtractFile | RecordBatch]) -> list[Mapping[str, Any]]:
    """The records of the batches, unwrapped from Located; unparsable lines left out."""
    return [
        r.record if isinstance(r, Located) else r
        for b in items
        if isinstance(b, RecordBatch)
        for r in b.records
        if not isinstance(r, Unparsable)
    ]


def _as_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return dt.datetime.fromisoformat(str(value))
