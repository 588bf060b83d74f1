"""Skipping a table whose extract files have not changed since its last successful load.

Each replace writes, in its transaction, the table's files to ``_load_files`` (in staging
order: path as given, size, mtime, a content digest, a fingerprint of the options that read it,
rows loaded and quarantined). The next load of the same source compares before staging
anything: same files in the same order, same options, same sizes, the table still holding the
rows that load left, and the same content digest of every file -> the table is not staged nor
replaced; its rows and quarantine stay, and each file is reported ``unchanged`` with the last
load's counts (``force=True`` reloads regardless).

The digest is always verified, even when size and mtime are equal: equal mtimes do not prove
equal bytes (``cp -p``, ``rsync -t``, an extract tool that restores timestamps, coarse
timestamps), and a file rewritten with the same bytes (new mtime) must still be skipped. It
costs one C-speed read (hardware SHA-256, ~0.7 GB/s here); a different size or a new file
settles "changed" without it, and then the digest is taken in the line scan the load does anyway
(:func:`~dealersync.loading.lines.scan_file`), so a file's bytes are read once by Python.
A table holding record batches (an API source) is never skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass

import duckdb

from dealersync.connectors import ExtractFile
from dealersync.loading.layout import Layout
from dealersync.loading.lines import FileScan, scan_file
from dealersync.loading.reports import FileReport, entry_counts
from dealersync.loading.sql import ident
from dealersync.model import Table
from dealersync.store import transaction

log = logging.getLogger(__package__)

#: Bump when a loader change makes the same bytes load differently: every table reloads once.
LOADER_VERSION = "3"  # 2: value vocabularies, money, date detection; 3: encodings, title/total rows


@dataclass
class PendingFile:
    """An extract file seen in the batches, checked (header, mapping) but not staged yet."""

    n: int  # its batch number: staging order decides which duplicate key is kept
    ef: ExtractFile
    layout: Layout
    options: str  # fingerprint of what reads it besides its bytes


@dataclass
class LastFile:
    """A file of the table's last successful load, from ``_load_files``."""

    file: str
    size: int
    digest: str
    options: str
    rows_loaded: int
    rows_quarantined: int
    approximate_lines: bool


def options_fingerprint(ef: ExtractFile, table: Table, month_first: bool = True) -> str:
    """What besides its bytes decides what a file loads as: the read options, the table's
    columns and key, the loader version, how dates that read both ways are read."""
    spec = {
        "loader": LOADER_VERSION,
        "table": table.name,
        "columns": [(c.name, c.type) for c in table.columns],
        "key": list(table.key),
        "mapping": sorted(ef.columns.items()),
        "delimiter": ef.delimiter,
        "quote": ef.quote,
        "date_format": ef.date_format,
        "timestamp_format": ef.timestamp_format,
        "encoding": ef.encoding,
        "skip_rows": ef.skip_rows,
        "values": {c: sorted(m.items()) for c, m in sorted(ef.values.items())},
        "decimal_separator": ef.decimal_separator,
        "month_first": month_first,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]


def last_load(
    con: duckdb.DuckDBPyConnection, source: str, table: str
) -> list[LastFile]:
    rows = con.execute(
        "SELECT file, size, digest, options, rows_loaded, rows_quarantined, approximate_lines"
        ' FROM _load_files WHERE source = ? AND "table" = ? ORDER BY position',
        [source, table],
    ).fetchall()
    return [
        LastFile(r[0], int(r[1]), r[2], r[3], int(r[4]), int(r[5]), bool(r[6]))
        for r in rows
    ]


def unchanged_since_last_load(
    con: duckdb.DuckDBPyConnection, source: str, table: Table, files: list[PendingFile]
) -> list[LastFile] | None:
    """The last load's files when ``files`` are the same bytes read the same way, else None."""
    last = last_load(con, source, table.name)
    if not last or len(last) != len(files):
        return None
    for p, f in zip(files, last, strict=True):
        if p.layout.file != f.file or p.options != f.options:
            return None
        try:
            if p.layout.path.stat().st_size != f.size:
                return None
        except OSError:
            return None
    # The table still holds what that load left (nothing deleted or added since).
    held = con.execute(
        f"SELECT count(*) FROM {ident(table.name)} WHERE _source = ?", [source]
    ).fetchall()[0][0]
    if held != sum(f.rows_loaded for f in last):
        return None
    for p, f in zip(files, last, strict=True):
        try:
            if scan_file(p.layout.path, lines=False).digest != f.digest:
                return None
        except OSError:
            return None
    return last


def skipped_reports(
    con: duckdb.DuckDBPyConnection,
    source: str,
    table: str,
    files: list[PendingFile],
    last: list[LastFile],
    loaded_at: dt.datetime,
) -> list[FileReport]:
    """Reports of an unchanged table's files (the last load's counts, its quarantine by
    category), each logged and appended to ``_loads`` as unchanged."""
    entries: dict[str, list[tuple[str | None, str, bool | None, int]]] = {}
    for file, *entry in con.execute(
        'SELECT file, "column", reason, row_loaded, count(*) FROM _quarantine'
        ' WHERE source = ? AND "table" = ? GROUP BY ALL',
        [source, table],
    ).fetchall():
        entries.setdefault(file, []).append(tuple(entry))  # type: ignore[arg-type]
    reports = []
    for p, f in zip(files, last, strict=True):
        cats, fallbacks = entry_counts(table, entries.get(f.file, []))
        reports.append(
            FileReport(
                source=source,
                table=table,
                file=f.file,
                loaded=f.rows_loaded,
                quarantined=cats,
                fallbacks=fallbacks,
                rows_quarantined=f.rows_quarantined,
                extra_columns=p.layout.extra_columns,
                missing_columns=p.layout.missing_columns,
                approximate_lines=f.approximate_lines,
                unchanged=True,
            )
        )
    with transaction(con):
        for r in reports:
            con.execute(
                "INSERT INTO _loads (source, \"table\", file, rows_loaded, rows_quarantined,"
                " loaded_at, unchanged) VALUES (?, ?, ?, ?, ?, ?, true)",
                [source, table, r.file, r.loaded, r.rows_quarantined, loaded_at],
            )
    return reports


def write_load_files(
    con: duckdb.DuckDBPyConnection,
    source: str,
    table: str,
    files: list[tuple[PendingFile, FileScan, FileReport]] | None,
    loaded_at: dt.datetime,
) -> None:
    """Replace the table's ``_load_files`` rows (in the caller's transaction); None (a table
    with record batches) leaves none, so the next load is never skipped."""
    con.execute(
        'DELETE FROM _load_files WHERE source = ? AND "table" = ?', [source, table]
    )
    for position, (p, scan, report) in enumerate(files or []):
        con.execute(
            "INSERT INTO _load_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                source,
                table,
                position,
                p.layout.file,
                scan.size,
                scan.mtime_ns,
                scan.digest,
                p.options,
                report.loaded,
                report.rows_quarantined,
                report.approximate_lines,
                loaded_at,
            ],
        )
