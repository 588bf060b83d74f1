"""SQL text and DuckDB helpers shared by the loader's modules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import duckdb


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


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
