"""Write the sample dealership as a generic-layout extract, generated in DuckDB SQL."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from dealersync.model import TABLES
from dealersync.sample.dialect import PLAIN, Dialect
from dealersync.sample.macros import macro_statements
from dealersync.sample.tables import BUILDERS, Query, Spec

#: COPY options of the generic layout: header row, ISO 8601 dates and timestamps.
CSV_OPTIONS = (
    "FORMAT CSV, HEADER, DELIMITER ',', DATEFORMAT '%Y-%m-%d', TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S'"
)
#: Encodings the customers file can be written in; a legacy one is written with CRLF line ends,
#: as the Windows report writers that produce it do.
ENCODINGS = ("utf-8", "cp1252")
#: The file a legacy encoding applies to: the one with accented names.
LEGACY_ENCODED_TABLE = "customers"
#: Characters transcoded per step (the file is streamed, never held whole).
_TRANSCODE_CHUNK = 1 << 20


def generate(
    out_dir: Path,
    customers: int,
    *,
    seed: int = 7,
    as_of: dt.date,
    dialect: Dialect = PLAIN,
    encoding: str = "utf-8",
) -> dict[str, int]:
    """Write the generic-layout extract (one CSV per canonical table, header row, ISO 8601 dates,
    booleans true/false) into out_dir, in ``dialect``'s words; return rows written per table.

    Every file is UTF-8 with LF line ends, except customers.csv when ``encoding`` is ``cp1252``:
    Windows-1252 with CRLF line ends.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r}: expected one of {', '.join(ENCODINGS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = Spec(customers=customers, year=as_of.year, dialect=dialect)
    con = duckdb.connect(
        ":memory:", config={"memory_limit": "2GB", "threads": 2, "preserve_insertion_order": True}
    )
    try:
        for statement in macro_statements(seed, as_of, dialect.menu):
            con.execute(statement)
        return {
            name: _write(
                con,
                name,
                BUILDERS[name](spec),
                out_dir,
                encoding if name == LEGACY_ENCODED_TABLE else "utf-8",
            )
            for name in TABLES
        }
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


def _write(
    con: duckdb.DuckDBPyConnection, name: str, query: Query, out_dir: Path, encoding: str
) -> int:
    """COPY one table to ``<name>.csv`` through a temporary name; return its row count."""
    final = out_dir / f"{name}.csv"
    temp = out_dir / f".{name}.csv.tmp"
    target = str(temp).replace("'", "''")
    row = con.execute(f"COPY ({select_sql(name, query)}) TO '{target}' ({CSV_OPTIONS})").fetchone()
    if encoding != "utf-8":
        _transcode(temp, encoding)
    os.replace(temp, final)
    return int(row[0]) if row else 0


def _transcode(path: Path, encoding: str) -> None:
    """Rewrite a UTF-8, LF file in ``encoding`` with CRLF line ends (no value holds a line end)."""
    converted = path.with_name(path.name + ".enc")
    with (
        path.open(encoding="utf-8", newline="") as source,
        converted.open("w", encoding=encoding, newline="\r\n") as target,
    ):
        while chunk := source.read(_TRANSCODE_CHUNK):
            target.write(chunk)
    os.replace(converted, path)
