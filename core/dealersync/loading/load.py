""":func:`load_source`: check every batch of a source, then stage and replace table by table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from dealersync.connectors import ExtractFile, RecordBatch
from dealersync.loading.csv_files import stage_file
from dealersync.loading.layout import read_layout
from dealersync.loading.lines import FileScan
from dealersync.loading.records import stage_records
from dealersync.loading.replace import replace_table
from dealersync.loading.reports import FileReport, LoadReport, log_file_report
from dealersync.loading.staging import Scratch, Staged, target_table
from dealersync.loading.unchanged import (
    PendingFile,
    options_fingerprint,
    scan_or_config_error,
    skipped_reports,
    unchanged_since_last_load,
)
from dealersync.model import TABLES
from dealersync.store import Warehouse


def load_source(
    wh: Warehouse,
    source_name: str,
    batches: Iterable[ExtractFile | RecordBatch],
    force: bool = False,
) -> LoadReport:
    """Load a source's batches into the warehouse, replacing that source's rows.

    Every table the batches deliver is replaced for ``source_name`` (rows and quarantine) in one
    transaction per table; tables the batches do not mention are left as they are. A table whose
    extract files are byte-identical to its last successful load (same files, same options) is
    skipped: its rows and quarantine are kept and its files reported ``unchanged`` with that
    load's counts; ``force`` reloads every table regardless. Returns a report per file (or per
    table's record stream).

    Every file's header and column mapping is checked before any table is replaced, so a
    missing or unreadable file, an unknown table or a file lacking a key column raises
    :class:`dealersync.ConfigError` with nothing loaded. Tables are then staged and replaced one
    at a time, in canonical order, each table's staging dropped once it is in (memory holds one
    table's staging, not the whole source's); a file DuckDB cannot read at all still raises a
    ConfigError then, after the tables before it were replaced.
    """
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con = wh.con
    scratch = Scratch(con)
    # table -> its batches in staging order: files checked but not read yet, records staged
    pending: dict[str, list[PendingFile | Staged]] = {}
    # table -> records seen so far in this load (record numbers run across batches)
    records_seen: dict[str, int] = {}
    try:
        for batch in batches:
            if isinstance(batch, ExtractFile):
                table = target_table(batch.table)
                item: PendingFile | Staged = PendingFile(
                    scratch.number(),
                    batch,
                    read_layout(batch, table),
                    options_fingerprint(batch, table),
                )
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
                    scratch, source_name, table_name, pending[table_name], loaded_at, force
                )
        # Reported in the order the source delivered the tables.
        report = LoadReport(files=[f for name in pending for f in by_table[name]])
        for f in report.files:
            log_file_report(f)
        return report
    finally:
        scratch.drop_all()


def _load_table(
    scratch: Scratch,
    source: str,
    table_name: str,
    items: list[PendingFile | Staged],
    loaded_at: dt.datetime,
    force: bool,
) -> list[FileReport]:
    """Skip the table when its files are unchanged, else stage its files and replace it."""
    con = scratch.con
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
                fut: Future[FileScan] = pool.submit(scan_or_config_error, item)
                staged.append(
                    stage_file(
                        scratch,
                        source,
                        item.ef,
                        n=item.n,
                        layout=item.layout,
                        lines=lambda fut=fut: fut.result().lines,  # type: ignore[misc]
                    )
                )
                scans.append((item, fut.result()))
        replace_table(
            scratch,
            source,
            table_name,
            staged,
            loaded_at,
            load_files=scans if only_files else None,
        )
        return _merge_record_streams(staged)
    finally:
        scratch.drop_since(mark)


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
        else:
            merged[key] = s.report
    return list(merged.values())
