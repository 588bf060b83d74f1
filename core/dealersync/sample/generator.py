"""Write the sample dealership as a generic-layout extract, generated in DuckDB SQL."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from dealersync.model import TABLES
from dealersync.sample.macros import macro_statements
from dealersync.sample.tables import BUILDERS, Query, Spec

#: COPY options of the generic layout: header row, ISO 8601 dates and timestamps.
CSV_OPTIONS = (
    "FORMAT CSV, HEADER, DELIMITER ',', DATEFORMAT '%Y-%m-%d', TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S'"
)


def generate(out_dir: Path, customers: int, *, seed: int = 7, as_of: dt.date) -> dict[str, int]:
    """Write the generic-layout extract (one CSV per canonical table, header row, UTF-8,
    ISO 8601 dates, booleans true/false) into out_dir; return rows written per table name."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = Spec(customers=customers, year=as_of.year)
    con = duckdb.connect(
        ":memory:", config={"memory_limit": "2GB", "threads": 2, "preserve_insertion_order": True}
    )
    try:
        for statement in macro_statements(seed, as_of):
            con.execute(statement)
        return {name: _write(con, name, BUILDERS[name](spec), out_dir) for name in TABLES}
    finally:
        con.close()


def select_sql(name: str, query: Query) -> str:
    """The SELECT for one table, its columns in canonical order."""
    wanted = TABLES[name].column_names
    if sorted(query.columns) != sorted(wanted):
        raise AssertionError(f"{name}: builder columns differ from the model")
    select = ",\n  ".join(f'{query.columns[c]} AS "{c}"' for c in wanted)
    order = f" ORDER BY {query.order_by}" if query.order_by else ""
    return f"SELECT\n  {select}\nFROM {query.source}{order}"


def _write(con: duckdb.DuckDBPyConnection, name: str, query: Query, out_dir: Path) -> int:
    """COPY one table to ``<name>.csv`` through a temporary name; return its row count."""
    final = out_dir / f"{name}.csv"
    temp = out_dir / f".{name}.csv.tmp"
    target = str(temp).replace("'", "''")
    row = con.execute(f"COPY ({select_sql(name, query)}) TO '{target}' ({CSV_OPTIONS})").fetchone()
    os.replace(temp, final)
    return int(row[0]) if row else 0
