"""Small hand-written dealer data: an empty set of canonical tables and rows put into them."""

from __future__ import annotations

from typing import Any

import duckdb

from dealersync.model import TABLES, create_table_sql


def dealer_tables() -> duckdb.DuckDBPyConnection:
    """An in-memory database with every canonical dealer table, empty."""
    con = duckdb.connect()
    for table in TABLES.values():
        con.execute(create_table_sql(table))
    return con


def insert(con: duckdb.DuckDBPyConnection, table: str, *rows: dict[str, Any]) -> None:
    """Each row (column -> value, the others NULL) into ``table``."""
    for row in rows:
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(row.values()))


def ro_line(ro_id: str, no: int, op: str, status: str | None = "performed") -> dict[str, Any]:
    """A repair order line: its op code and status."""
    return {"ro_id": ro_id, "line_no": no, "op_code": op, "status": status}
