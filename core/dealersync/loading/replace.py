"""The snapshot replace: one transaction per table swaps in a source's staged rows.

The source's rows and quarantine in the table are deleted and the staged ones inserted (minus
duplicate keys), so re-running the same load gives identical tables; the reports are filled from
the same staged data, and one ``_loads`` row is written per file (or record stream). In the same
transaction: the customers the replace changed go to the change log
(:mod:`dealersync.loading.changed`) and the table's files to ``_load_files``
(:mod:`dealersync.loading.unchanged`), so a rolled-back replace records neither.
"""

from __future__ import annotations

import datetime as dt

from dealersync.loading.changed import diff_customers
from dealersync.loading.duplicates import (
    DUPLICATE_LINE,
    DUPLICATE_REASON,
    find_duplicates,
)
from dealersync.loading.lines import FileScan
from dealersync.loading.reports import entry_counts
from dealersync.loading.sql import ident, literal
from dealersync.loading.staging import Scratch, Staged
from dealersync.loading.unchanged import PendingFile, write_load_files
from dealersync.model import TABLES
from dealersync.rooftops import qualify_ids_sql
from dealersync.store import transaction


def replace_table(
    scratch: Scratch,
    source: str,
    table_name: str,
    staged: list[Staged],
    loaded_at: dt.datetime,
    load_files: list[tuple[PendingFile, FileScan]] | None = None,
    id_prefix: str = "",
) -> None:
    """Replace the source's rows and quarantine in one table, in one transaction.

    ``load_files``: the table's extract files with their scans when every batch of the table
    is a file (recorded for skipping an unchanged next load); None when it has record batches.
    ``id_prefix``: put before every id (the source's rooftop, :mod:`dealersync.rooftops`).
    """
    table = TABLES[table_name]
    con = scratch.con
    n = scratch.number()
    allv = scratch.name("VIEW", f"{n}_all")
    con.execute(
        f"CREATE TEMP VIEW {ident(allv)} AS "
        + qualify_ids_sql(" UNION ALL ".join(s.good_sql for s in staged), table.column_names, id_prefix)
    )
    dups = find_duplicates(scratch, table, allv, n)
    names = ", ".join(ident(c) for c in table.column_names)
    quarantine_union = " UNION ALL ".join(
        f'SELECT file, line, "column", reason, row_loaded FROM {ident(s.quarantine)}'
        for s in staged
    )
    n_dups_total = con.execute(f"SELECT count(*) FROM {ident(dups)}").fetchall()[0][0]
    key_label = literal(":".join(table.key)) if table.key else "NULL"
    anti = (
        f" ANTI JOIN {ident(dups)} d ON a._batch = d._batch AND a._ord = d._ord"
        if n_dups_total
        else ""
    )
    with transaction(con):
        # Which customers this changes, from the old rows before they go.
        changed = diff_customers(scratch, table, source, f"{ident(allv)} a{anti}", n)
        con.execute(f"DELETE FROM {ident(table.name)} WHERE _source = ?", [source])
        # No ORDER BY: the staged rows are scanned in file order already, and a sort of
        # millions of wide rows would cost more than the insert.
        con.execute(
            f"INSERT INTO {ident(table.name)} ({names}, _source, _source_id, _line)"
            f" SELECT {names}, ?, _source_id, _line FROM {ident(allv)} a{anti}",
            [source],
        )
        con.execute(
            'DELETE FROM _quarantine WHERE source = ? AND "table" = ?',
            [source, table.name],
        )
        con.execute(
            'INSERT INTO _quarantine (source, "table", file, line, "column", reason,'
            ' loaded_at, row_loaded) SELECT ?, ?, file, line, "column", reason, ?, row_loaded'
            f" FROM ({quarantine_union}"
            f" UNION ALL SELECT d._file, {DUPLICATE_LINE}, {key_label},"
            f" {DUPLICATE_REASON}, false FROM {ident(dups)} d"
            ") ORDER BY file, line",
            [source, table.name, loaded_at],
        )
        # Reports, from the same staged data.
        loaded = dict(
            con.execute(
                f"SELECT _batch, count(*) FROM {ident(allv)} a{anti} GROUP BY _batch"
            ).fetchall()
        )
        for s in staged:
            s.report.loaded = int(loaded.get(s.batch, 0))
            cats, fallbacks = entry_counts(
                table.name,
                con.execute(
                    f'SELECT "column", reason, row_loaded, count(*) FROM {ident(s.quarantine)}'
                    " GROUP BY ALL"
                ).fetchall(),
            )
            n_dups = con.execute(
                f"SELECT count(*) FROM {ident(dups)} WHERE _batch = ?", [s.batch]
            ).fetchall()[0][0]
            if n_dups:
                cats["duplicate key"] = cats.get("duplicate key", 0) + int(n_dups)
            distinct_bad = con.execute(
                f"SELECT count(DISTINCT (file, line)) FROM {ident(s.quarantine)}"
                " WHERE NOT row_loaded"
            ).fetchall()[0][0]
            s.report.quarantined = dict(sorted(cats.items()))
            s.report.fallbacks = fallbacks
            s.report.rows_quarantined = int(distinct_bad) + int(n_dups)
        # One _loads row per file (or record stream).
        per_file: dict[str, list[int]] = {}
        for s in staged:
            totals = per_file.setdefault(s.file, [0, 0])
            totals[0] += s.report.loaded
            totals[1] += s.report.rows_quarantined
        for file, (n_loaded, n_quarantined) in per_file.items():
            con.execute(
                'INSERT INTO _loads (source, "table", file, rows_loaded, rows_quarantined,'
                " loaded_at, unchanged) VALUES (?, ?, ?, ?, ?, ?, false)",
                [source, table.name, file, n_loaded, n_quarantined, loaded_at],
            )
        changed.record(con)
        reports = {s.batch: s.report for s in staged}
        write_load_files(
            con,
            source,
            table.name,
            None
            if load_files is None
            else [(p, scan, reports[p.n]) for p, scan in load_files],
            loaded_at,
        )
