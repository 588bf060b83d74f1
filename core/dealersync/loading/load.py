""":func:`load_source`: check every batch of a source, then stage and replace table by table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from dataclasses import dataclass

from dealersync.connectors import ExtractFile, RecordBatch
from dealersync.loading.copies import Copies
from dealersync.loading.dates import MONTH_FIRST_COUNTRIES
from dealersync.loading.extract_files import stage_extract
from dealersync.loading.layout import read_layout
from dealersync.loading.lines import FileScan
from dealersync.loading.records import stage_records
from dealersync.loading.replace import replace_table
from dealersync.loading.reports import (
    FileReport,
    LoadReport,
    UnreadableFile,
    log_file_report,
)
from dealersync.loading.sql import ident
from dealersync.loading.staging import Scratch, Staged, target_table
from dealersync.loading.unchanged import (
    PendingFile,
    options_fingerprint,
    skipped_reports,
    unchanged_since_last_load,
)
from dealersync.model import TABLES
from dealersync.run_history import utc_now
from dealersync.store import Warehouse


@dataclass
class FailedFile:
    """An extract file whose header could not be read: its table is not replaced."""

    ef: ExtractFile
    error: str


def load_source(
    wh: Warehouse,
    source_name: str,
    batches: Iterable[ExtractFile | RecordBatch],
    force: bool = False,
    default_country: str = "US",
    id_prefix: str = "",
) -> LoadReport:
    """Load a source's batches into the warehouse, replacing that source's rows.

    Every table the batches deliver is replaced for ``source_name`` (rows and quarantine) in one
    transaction per table; tables the batches do not mention are left as they are. A table whose
    extract files are byte-identical to its last successful load (same files, same options) is
    skipped: its rows and quarantine are kept and its files reported ``unchanged`` with that
    load's counts; ``force`` reloads every table regardless. Returns a report per file (or per
    table's record stream). ``default_country`` (the dealer's, ``[identity]``) decides how
    dates that read both ways are read (:mod:`dealersync.loading.dates`). ``id_prefix`` goes
    before every id the source loads (its rooftop's, :mod:`dealersync.rooftops`; empty for the
    home rooftop).

    Every file's header and column mapping is checked before any table is replaced, so a
    missing file, an unknown table or a file lacking a key column raises
    :class:`dealersync.ConfigError` with nothing loaded. Tables are then staged and replaced one
    at a time, in canonical order, each table's staging dropped once it is in (memory holds one
    table's staging, not the whole source's).

    A file whose bytes cannot be read (empty, not CSV as configured, an I/O error) is an
    outcome for that file, not a configuration error: its report carries the error and the fix
    (:attr:`FileReport.error`), its table is not replaced (it keeps the rows of its previous
    load: an unreadable export must not take people out of live audiences) and the other tables
    load. Files DuckDB cannot read as they are (another encoding, mixed line ends) are read
    from a UTF-8 copy (:mod:`dealersync.loading.extract_files`).
    """
    loaded_at = utc_now()
    con = wh.con
    scratch = Scratch(con)
    copies = Copies(wh.path)
    # table -> its batches in staging order: files checked but not read yet, records staged
    pending: dict[str, list[PendingFile | Staged | FailedFile]] = {}
    # table -> records seen so far in this load (record numbers run across batches)
    records_seen: dict[str, int] = {}
    month_first = default_country.upper() in MONTH_FIRST_COUNTRIES
    try:
        for batch in batches:
            if isinstance(batch, ExtractFile):
                table = target_table(batch.table)
                n = scratch.number()
                try:
                    item: PendingFile | Staged | FailedFile = PendingFile(
                        n,
                        batch,
                        read_layout(batch, table),
                        options_fingerprint(batch, table, month_first) + id_prefix,
                    )
                except UnreadableFile as e:
                    item = FailedFile(batch, e.message)
                name = table.name
            elif isinstance(batch, RecordBatch):
                start = records_seen.get(batch.table, 0)
                item = stage_records(scratch, source_name, batch, start)
                name = item.table
                records_seen[name] = start + len(batch.records)
            else:
                raise TypeError(
                    f"source {source_name!r} yielded {type(batch).__name__};"
                    " expected ExtractFile or RecordBatch"
                )
            pending.setdefault(name, []).append(item)
        by_table: dict[str, list[FileReport]] = {}
        for table_name in TABLES:  # canonical load order
            if table_name in pending:
                by_table[table_name] = _load_table(
                    scratch,
                    copies,
                    source_name,
                    table_name,
                    pending[table_name],
                    loaded_at,
                    force,
                    month_first,
                    id_prefix,
                )
        # Reported in the order the source delivered the tables.
        report = LoadReport(files=[f for name in pending for f in by_table[name]])
        for f in report.files:
            log_file_report(f)
        return report
    finally:
        scratch.drop_all()
        copies.close()


def _load_table(
    scratch: Scratch,
    copies: Copies,
    source: str,
    table_name: str,
    items: list[PendingFile | Staged | FailedFile],
    loaded_at: dt.datetime,
    force: bool,
    month_first: bool,
    id_prefix: str,
) -> list[FileReport]:
    """Skip the table when its files are unchanged, else stage its files and replace it; a
    file that cannot be read leaves the table as it was (see :func:`load_source`)."""
    con = scratch.con
    failed = next((i for i in items if isinstance(i, FailedFile)), None)
    if failed is not None:
        return _kept_reports(con, source, table_name, items, failed)
    files = [i for i in items if isinstance(i, PendingFile)]
    only_files = len(files) == len(items)
    if only_files and not force:
        last = unchanged_since_last_load(con, source, TABLES[table_name], files)
        if last is not None:
            return skipped_reports(con, source, table_name, files, last, loaded_at)
    mark = scratch.mark()
    try:
        staged: list[Staged] = []
        scans: list[tuple[PendingFile, FileScan]] = []
        # The byte scan (digest, line count, blank lines) of a file runs in a thread while
        # DuckDB reads the same file (it releases the GIL): two cores, one read each.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dealersync-scan") as pool:
            for item in items:
                if isinstance(item, Staged):
                    staged.append(item)
                    continue
                assert isinstance(item, PendingFile)
                try:
                    done, scan = stage_extract(
                        scratch, source, item, pool, copies, month_first
                    )
                except UnreadableFile as e:
                    return _kept_reports(
                        con, source, table_name, items, FailedFile(item.ef, e.message)
                    )
                staged.append(done)
                scans.append((item, scan))
        replace_table(
            scratch,
            source,
            table_name,
            staged,
            loaded_at,
            load_files=scans if only_files else None,
            id_prefix=id_prefix,
        )
        return _merge_record_streams(staged)
    finally:
        scratch.drop_since(mark)


def _kept_reports(
    con: object,
    source: str,
    table_name: str,
    items: list[PendingFile | Staged | FailedFile],
    failed: FailedFile,
) -> list[FileReport]:
    """Reports of a table left as it was because ``failed`` could not be read."""
    kept = con.execute(  # type: ignore[attr-defined]
        f"SELECT count(*) FROM {ident(table_name)} WHERE _source = ?", [source]
    ).fetchall()[0][0]
    keeps = f"{table_name} keeps the {kept:,} rows of its previous load"
    reports = []
    for item in items:
        file = str(item.ef.path) if not isinstance(item, Staged) else item.file
        if item is failed or (not isinstance(item, Staged) and item.ef is failed.ef):
            error = f"{failed.error}; {keeps}"
        else:
            error = f"not loaded: {failed.ef.path} of the same table could not be read; {keeps}"
        reports.append(FileReport(source, table_name, file, loaded=0, error=error))
    return reports


def _merge_record_streams(staged: list[Staged]) -> list[FileReport]:
    """One report per file: the pages of a table's record stream are reported once."""
    merged: dict[tuple[str, str], FileReport] = {}
    for s in staged:
        key = (s.table, s.file)
        if key in merged:
            m = merged[key]
            m.loaded += s.report.loaded
            m.rows_quarantined += s.report.rows_quarantined
            for k, v in s.report.quarantined.items():
                m.quarantined[k] = m.quarantined.get(k, 0) + v
            for k, v in s.report.fallbacks.items():
                m.fallbacks[k] = m.fallbacks.get(k, 0) + v
        else:
            merged[key] = s.report
    return list(merged.values())
