"""SQL text and DuckDB helpers shared by the loader's modules."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import duckdb

from dealersync.store import quote_ident, quote_literal

#: A quoted SQL identifier and a SQL string literal: the store's one quoting helpers.
ident = quote_ident
literal = quote_literal


def append_rows(
    con: duckdb.DuckDBPyConnection, temp_table: str, rows: Iterable[tuple[Any, ...]]
) -> None:
    """Bulk-insert ``rows`` into a temp table through DuckDB's appender."""
    app = con.appender(f"temp.main.{temp_table}")
    app.append_rows(rows)
    app.flush()


def error_summary(e: duckdb.Error) -> str:
    """The first line of a DuckDB error, which names the problem but not cell values."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    # Whatever DuckDB quotes could be a value from the file: drop it.
    first = re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", first)
    return first[:200]


#: Physical operators a file-order read may go through: DuckDB's CSV scan, row-wise
#: projections and filters (they keep each chunk's batch index), and the batch insert (it
#: appends the chunks by batch index, i.e. in file order).
ORDER_KEEPING_OPERATORS = frozenset(
    {"BATCH_CREATE_TABLE_AS", "PROJECTION", "FILTER", "READ_CSV"}
)


def keeps_file_order(
    con: duckdb.DuckDBPyConnection, create_sql: str, params: list[Any] | None = None
) -> bool:
    """Whether DuckDB plans ``create_sql`` (a ``CREATE TEMP TABLE ... AS SELECT`` over a
    parallel ``read_csv``) as a batch insert fed only by row-wise operators, which appends
    the rows in file order (``rowid`` = position in the file). Any other plan (a join, a
    window, an aggregate, a plain parallel insert) may not; see
    :mod:`dealersync.loading.lines`."""
    try:
        plan = json.loads(
            con.execute("EXPLAIN (FORMAT json) " + create_sql, params).fetchall()[0][1]
        )
    except (duckdb.Error, ValueError, IndexError, TypeError):
        return False
    if (
        not isinstance(plan, list)
        or len(plan) != 1
        or plan[0].get("name") != "BATCH_CREATE_TABLE_AS"
    ):
        return False
    todo = list(plan)
    while todo:
        node = todo.pop()
        if node.get("name") not in ORDER_KEEPING_OPERATORS:
            return False
        todo.extend(node.get("children") or [])
    return True


def create_in_file_order(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select: Callable[[bool], str],
    params: list[Any] | None = None,
    *,
    allow_parallel: bool = True,
) -> bool:
    """``CREATE TEMP TABLE table AS select(parallel)`` with the rows in file order.

    ``select(parallel)`` is the SELECT over a ``read_csv`` with that ``parallel`` setting. The
    parallel read is used when ``allow_parallel`` and :func:`keeps_file_order` proves it keeps
    the order; else the single-threaded one. Returns whether the read was parallel.
    """
    sql = f"CREATE TEMP TABLE {ident(table)} AS "
    parallel = allow_parallel and keeps_file_order(con, sql + select(True), params)
    con.execute(sql + select(parallel), params)
    return parallel
