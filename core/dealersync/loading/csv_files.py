"""Staging an extract file: read by DuckDB, converted and checked in SQL, with quarantine.

The file is read by DuckDB's CSV reader (every column as text, ``store_rejects`` on), converted
to the canonical types in SQL and checked in SQL (:mod:`dealersync.loading.checks`); Python
never touches a row. What cannot be loaded goes to ``_quarantine`` with the file, the 1-based
physical line (header = line 1; :mod:`dealersync.loading.lines`), the column and a reason;
never the raw value.

* structural errors (from DuckDB's rejects table; :mod:`dealersync.loading.rejects`):
  ``expected 21 columns, found 20``, ``invalid UTF-8``, ``unterminated quote``,
  ``invalid quoting`` (text after a closing quote), ``line too long``;
* a non-empty value that is not of its column's type: ``not a date (expected YYYY-MM-DD)``,
  ``not a timestamp (...)``, ``not a whole number``, ``not a number``,
  ``not a boolean (expected true/false/Y/N/1/0)``. A row with several bad cells gets one
  quarantine row per bad cell, and is not loaded;
* an empty key: ``missing key customer_id``;
* a repeated key (:mod:`dealersync.loading.duplicates`, over all the table's batches).

Invalid UTF-8 in a file column that is not mapped to the model is not checked (the column is
never read).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import duckdb

from dealersync.connectors import ExtractFile
from dealersync.loading.checks import RowChecks, quarantine_flagged_cells, row_checks
from dealersync.loading.dates import read_dates
from dealersync.loading.layout import Layout, read_layout
from dealersync.loading.lines import Placement, place_rows
from dealersync.loading.rejects import Reject, read_rejects
from dealersync.loading.reports import FileReport, UnreadableFile
from dealersync.loading.sql import create_in_file_order, error_summary, ident, literal
from dealersync.loading.staging import Scratch, Staged, target_table
from dealersync.loading.total_rows import first_total_line

log = logging.getLogger(__package__)


def stage_file(
    scratch: Scratch,
    source: str,
    ef: ExtractFile,
    *,
    n: int | None = None,
    layout: Layout | None = None,
    lines: Callable[[], tuple[int, list[int]] | None] | None = None,
    month_first: bool = True,
) -> Staged:
    """Read, convert and check one extract file into temp tables; nothing is loaded yet.

    ``n`` (the batch number), ``layout`` and ``lines`` (the file's line scan, see
    :func:`~dealersync.loading.lines.scan_lines`) are taken when the caller has them already.
    ``month_first``: dates that read both ways (03/04/2024, no day above 12) are month first
    (the dealer's country writes them so; :mod:`dealersync.loading.dates`).
    """
    con = scratch.con
    table = target_table(ef.table)
    if n is None:
        n = scratch.number()
    if layout is None:
        layout = read_layout(ef, table)
    file = layout.file

    # 1. DuckDB's CSV reader, every column as text, rejects stored; convert and check in SQL.
    # 2. Where each row sits in the file.
    checks = row_checks(layout, read_dates(con, layout, month_first=month_first))
    mark = scratch.mark()
    try:
        typ, rejects, placement, parallel = _read_and_place(
            scratch, layout, checks, n, lines, allow_parallel=True
        )
    except UnreadableFile:
        # DuckDB could not read the file (in parallel, or the plan fell back): one
        # single-threaded try before the error is reported.
        log.debug("%s: the read failed: read again single-threaded", file)
        scratch.drop_since(mark)
        typ, rejects, placement, parallel = _read_and_place(
            scratch, layout, checks, n, lines, allow_parallel=False
        )
    if parallel and not _parallel_read_trusted(rejects, placement):
        # A quote problem (or a file the walk cannot account for): the parallel reader may
        # resume after it at a chunk boundary and lose rows without a reject, so the lines
        # could be off. Read the file again, single-threaded (see dealersync.loading.lines).
        log.debug("%s: quote problems: read again single-threaded", file)
        scratch.drop_since(mark)
        typ, rejects, placement, parallel = _read_and_place(
            scratch, layout, checks, n, lines, allow_parallel=False
        )
    walk = placement.walk
    # 3. Total rows at the end of the file (report writers): skipped, counted.
    totals = first_total_line(layout, placement.n_lines)
    reject_lines = {r.record: walk.reject_lines.get(r.record, r.record) for r in rejects}

    # 4. Quarantine: structural rejects, bad cells, missing keys.
    rows: list[tuple[Any, ...]] = [
        (file, reject_lines[r.record], layout.column_label(idx), reason)
        for r in rejects
        if totals is None or reject_lines[r.record] < totals
        for idx, reason in r.problems
    ]
    if walk.tail_line is not None and (totals is None or walk.tail_line < totals):
        rows.append((file, walk.tail_line, None, "unterminated quote"))
    qt = scratch.new_quarantine_table(n, rows)
    quarantine_flagged_cells(
        con,
        checks,
        typed=typ,
        breakpoints=placement.breakpoints,
        quarantine=qt,
        file=file,
    )
    n_totals = 0
    if totals is not None:
        con.execute(f"DELETE FROM {ident(qt)} WHERE line >= ?", [totals])
        n_totals = con.execute(
            f"SELECT count(*) FROM {ident(placement.lined)} WHERE _line >= ?", [totals]
        ).fetchall()[0][0] + sum(1 for line in reject_lines.values() if line >= totals)

    names = ", ".join(ident(c) for c in table.column_names)
    before_totals = f" AND _line < {int(totals)}" if totals is not None else ""
    good_sql = (
        f"SELECT {names}, _source_id, _line, _ord, {n} AS _batch, {literal(file)} AS _file"
        f" FROM {ident(placement.lined)} WHERE _ok{before_totals}"
    )
    report = FileReport(
        source=source,
        table=table.name,
        file=file,
        loaded=0,
        extra_columns=layout.extra_columns,
        missing_columns=layout.missing_columns,
        approximate_lines=placement.approximate,
        encoding=layout.encoding.label,
        title_rows=layout.title_lines,
        total_rows=int(n_totals),
        warnings=list(layout.warnings),
    )
    if placement.approximate:
        log.warning(
            "%s: line numbers in the quarantine may be approximate for this file", file
        )
    return Staged(n, table.name, file, good_sql, qt, report)


#: Reject reasons after which the parallel reader's rows are not trusted to be in place.
_QUOTE_REASONS = frozenset({"invalid quoting", "unterminated quote"})


def _read_and_place(
    scratch: Scratch,
    layout: Layout,
    checks: RowChecks,
    n: int,
    lines: Callable[[], tuple[int, list[int]] | None] | None,
    *,
    allow_parallel: bool,
) -> tuple[str, list[Reject], Placement, bool]:
    """Read, convert and check the file into a temp table in file order (the parallel reader
    when ``allow_parallel`` and the plan keeps the order), and place its rows on lines.
    Returns (typed table, rejects, placement, whether the read was parallel)."""
    con = scratch.con
    file = layout.file
    rej = scratch.name("TABLE", f"{n}_rej")
    rej_scan = scratch.name("TABLE", f"{n}_rejscan")
    typ = scratch.name("TABLE", f"{n}_typ")
    options = (
        f"store_rejects=true, rejects_table={literal(rej)}, rejects_scan={literal(rej_scan)},"
        " rejects_line_size_limit=0"  # the whole rejected text: its line count matters
    )
    try:
        # In file order (rowid = position): the parallel reader when the plan keeps it.
        parallel = create_in_file_order(
            con,
            typ,
            lambda par: checks.select_from(layout.read_csv(options, parallel=par)),
            layout.read_params,
            allow_parallel=allow_parallel,
        )
    except duckdb.Error as e:
        raise UnreadableFile(f"could not be read as CSV ({error_summary(e)})") from None
    if allow_parallel and not parallel:
        log.debug("%s: read single-threaded (the plan would not keep file order)", file)
    rejects = read_rejects(con, rej, len(layout.header), layout.ef.quote or "")
    placement = place_rows(
        scratch,
        layout,
        n=n,
        typed=typ,
        rejects=[(r.record, r.span) for r in rejects],
        lines=lines,
        parallel=parallel,
    )
    return typ, rejects, placement, parallel


def _parallel_read_trusted(rejects: list[Reject], placement: Placement) -> bool:
    """Whether a parallel read's placement can be kept: no quote problem among the rejects,
    no unread tail, and the walk agreed with the file everywhere."""
    if placement.approximate or placement.walk.tail_line is not None:
        return False
    return not any(
        reason in _QUOTE_REASONS for r in rejects for _, reason in r.problems
    )
