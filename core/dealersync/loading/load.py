""":func:`load_source`: stage every batch of a source, then replace table by table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from dealersync.connectors import ExtractFile, RecordBatch
from dealersync.loading.csv_files import stage_file
from dealersync.loading.records import stage_records
from dealersync.loading.replace import replace_table
from dealersync.loading.reports import FileReport, LoadReport, log_file_report
from dealersync.loading.staging import Scratch, Staged
from dealersync.model import TABLES
from dealersync.store import Warehouse


def load_source(
    wh: Warehouse, source_name: str, batches: Iterable[ExtractFile | RecordBatch]
) -> LoadReport:
    """Load a source's batches into the warehouse, replacing that source's rows.

    Every table the batches deliver is replaced for ``source_name`` (rows and quarantine) in one
    transaction per table; tables the batches do not mention are left as they are. Returns a
    report per file (or per table's record stream). Raises :class:`dealersync.ConfigError` for a
    missing or unreadable file, an unknown table, or a file lacking a key column.
    """
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    scratch = Scratch(wh.con)
    staged: dict[str, list[Staged]] = {}
    # table -> records seen so far in this load (record numbers run across batches)
    records_seen: dict[str, int] = {}
    try:
        for batch in batches:
            if isinstance(batch, ExtractFile):
                s = stage_file(scratch, source_name, batch)
            elif isinstance(batch, RecordBatch):
                start = records_seen.get(batch.table, 0)
                s = stage_records(scratch, source_name, batch, start)
                records_seen[s.table] = start + len(batch.records)
            else:
                raise TypeError(
                    f"source {source_name!r} yielded {type(batch).__name__};"
                    " expected ExtractFile or RecordBatch"
                )
            staged.setdefault(s.table, []).append(s)
        for table_name in TABLES:  # canonical load order
            if table_name in staged:
                replace_table(
                    scratch, source_name, table_name, staged[table_name], loaded_at
                )
        report = LoadReport(files=_merge_record_streams(staged))
        for f in report.files:
            log_file_report(f)
        return report
    finally:
        scratch.drop_all()


def _merge_record_streams(staged: dict[str, list[Staged]]) -> list[FileReport]:
    """One report per file: the pages of a table's record stream are reported once."""
    merged: dict[tuple[str, str], FileReport] = {}
    for batches_of_table in staged.values():
        for s in batches_of_table:
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
