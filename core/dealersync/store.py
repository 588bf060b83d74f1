"""The embedded warehouse: one DuckDB file holding the canonical tables and the bookkeeping.

The warehouse is opened with explicit resource limits (``memory_limit``, ``threads``): DuckDB's
own default of 80% of RAM is not a sane default for a tool that shares a machine with a dealer's
other work. Opening creates every canonical table (:data:`dealersync.model.TABLES`) and the
bookkeeping tables if missing:

``_quarantine``
    one row per rejected cell or row of a load: source, table, file, 1-based physical line,
    column, reason, and ``row_loaded``: false for a row held back, true for a row loaded all
    the same with its column's fallback (an unknown suppression scope: every channel). Never
    the raw value.
``_loads``
    one row per loaded file or record stream, appended at every load (a load history);
    ``unchanged`` is true for a file skipped because it had not changed (its counts are the
    last load's).
``_load_files``
    per source and table, the extract files of its last successful load (path as given, size,
    mtime, content digest, the options that read it, rows loaded and quarantined), written in
    the table's replace transaction: a next load of the same bytes skips the table
    (:mod:`dealersync.loading.unchanged`).
``_runs``
    the run history, one row per (audience, destination) delivery; its columns are
    :data:`dealersync.run_history.RUNS_COLUMNS`.
``_schema``
    the version of the bookkeeping tables (:data:`SCHEMA_VERSION`). Opening a warehouse written
    by an earlier version migrates it, in one transaction, step by step
    (:data:`MIGRATIONS`); one written by a later version is refused with what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb

from dealersync.errors import ConfigError, FatalError
from dealersync.model import TABLES, create_table_sql
from dealersync.run_history import RUNS_COLUMNS, local_start_times_to_utc

#: The change guards' baseline per (audience, destination) (:mod:`dealersync.delivery.guards`).
GUARD_BASELINE_DDL = (
    'CREATE TABLE IF NOT EXISTS _guard_baseline (audience VARCHAR, destination VARCHAR, source VARCHAR,'
    ' "table" VARCHAR, rows BIGINT, quarantined BIGINT, files VARCHAR, recorded_at TIMESTAMP)'
)
#: ``_quarantine``'s mark of an entry whose row was loaded all the same, with its column's
#: fallback (:attr:`dealersync.model.Column.fallback`); false for a row held back.
QUARANTINE_ROW_LOADED = "row_loaded BOOLEAN DEFAULT false"
#: Bookkeeping tables, created beside the canonical tables.
BOOKKEEPING_SQL: tuple[str, ...] = (
    GUARD_BASELINE_DDL,
    (
        'CREATE TABLE IF NOT EXISTS _quarantine (source VARCHAR, "table" VARCHAR, file VARCHAR,'
        ' line BIGINT, "column" VARCHAR, reason VARCHAR, loaded_at TIMESTAMP,'
        f" {QUARANTINE_ROW_LOADED})"
    ),
    (
        'CREATE TABLE IF NOT EXISTS _loads (source VARCHAR, "table" VARCHAR, file VARCHAR,'
        " rows_loaded BIGINT, rows_quarantined BIGINT, loaded_at TIMESTAMP, unchanged BOOLEAN)"
    ),
    (
        'CREATE TABLE IF NOT EXISTS _load_files (source VARCHAR, "table" VARCHAR,'
        " position INTEGER, file VARCHAR, size BIGINT, mtime_ns BIGINT, digest VARCHAR,"
        " options VARCHAR, rows_loaded BIGINT, rows_quarantined BIGINT,"
        " approximate_lines BOOLEAN, loaded_at TIMESTAMP)"
    ),
)
#: Columns bookkeeping tables gained after their first release (added to older warehouses).
BOOKKEEPING_ADDED: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "_loads",
        (
            ("source", "VARCHAR"), ("table", "VARCHAR"), ("file", "VARCHAR"),
            ("rows_loaded", "BIGINT"), ("rows_quarantined", "BIGINT"),
            ("loaded_at", "TIMESTAMP"), ("unchanged", "BOOLEAN"),
        ),
    ),
    ("_runs", RUNS_COLUMNS),
)  # fmt: skip

MEMORY_DB = ":memory:"

#: The bookkeeping schema this code writes. 1: every release before versioning (no ``_schema``
#: table; the tables and columns of commit e2e7d72). 2: change guards (``_guard_baseline``), runs
#: may be ``held``. 3: confirmed sync state (``_sync_state`` gains ``request_id``, ``confirmed_at``,
#: ``fingerprint``, ``platform_id``; ``_requests``; see :mod:`dealersync.delivery.state`).
#: 4: suppression entries have a channel ``scope`` (:mod:`dealersync.suppressions`).
#: 5: the loaded ``suppressions`` table gains ``scope`` too (its rows so far: NULL, read as all).
#: 6: the run history's ``started_at`` is UTC (:mod:`dealersync.run_history`; it was local time).
#: 7: ``_quarantine`` gains ``row_loaded`` (its entries so far: false, their rows were held back).
SCHEMA_VERSION = 7
RUNS_IN_UTC_SINCE = 6
CONFIRMED_SINCE = 3


def _scoped_suppressions(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 4: suppression entries gain a channel scope; the existing ones keep ``all``."""
    from dealersync.suppressions import SCOPE_MIGRATION  # suppressions imports this module

    for sql in SCOPE_MIGRATION:
        con.execute(sql)


def confirmed_when_written(con: duckdb.DuckDBPyConnection) -> None:
    """Before confirmations existed a synced member was delivered when its row was written."""
    if "_sync_state" in persisted_tables(con):
        con.execute("UPDATE _sync_state SET confirmed_at = updated_at WHERE status = 'synced' AND confirmed_at IS NULL")


#: version -> the statements (SQL, or a function of the connection) that bring a warehouse of
#: version - 1 to it. Bookkeeping tables only grow (a column or table added, never renamed or
#: dropped), so a step is short.
MIGRATIONS: dict[int, tuple[str | Callable[[duckdb.DuckDBPyConnection], None], ...]] = {
    2: (GUARD_BASELINE_DDL,),
    CONFIRMED_SINCE: (
        *(f"ALTER TABLE IF EXISTS _sync_state ADD COLUMN IF NOT EXISTS {c}" for c in (
            "request_id VARCHAR", "confirmed_at TIMESTAMP", "fingerprint VARCHAR", "platform_id VARCHAR",
        )),
        confirmed_when_written,
    ),
    4: (_scoped_suppressions,),
    5: ("ALTER TABLE IF EXISTS suppressions ADD COLUMN IF NOT EXISTS scope VARCHAR",),
    RUNS_IN_UTC_SINCE: (local_start_times_to_utc,),
    7: (f"ALTER TABLE IF EXISTS _quarantine ADD COLUMN IF NOT EXISTS {QUARANTINE_ROW_LOADED}",),
}


def default_threads() -> int:
    """The engine's default thread count: the machine's CPUs, capped at 4."""
    return max(1, min(os.cpu_count() or 1, 4))


class Warehouse:
    """One DuckDB database file (or ``":memory:"`` for tests) with the canonical schema."""

    con: duckdb.DuckDBPyConnection

    def __init__(
        self,
        path: Path | str,
        *,
        memory_limit: str = "2GB",
        threads: int | None = None,
        temp_directory: Path | None = None,
    ) -> None:
        if str(path) == MEMORY_DB:
            self.path: Path | None = None
            database = MEMORY_DB
        else:
            self.path = Path(path).expanduser()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            database = str(self.path)
        self.memory_limit = memory_limit
        self.threads = threads if threads is not None else default_threads()
        # Limits go in at connect time, so even opening (WAL replay) runs within them.
        config: dict[str, str | int] = {
            "memory_limit": memory_limit,
            "threads": int(self.threads),
            "preserve_insertion_order": True,
        }
        if temp_directory is not None:
            Path(temp_directory).mkdir(parents=True, exist_ok=True)
            config["temp_directory"] = str(temp_directory)
        try:
            self.con = duckdb.connect(database, config=config)
        except duckdb.IOException as e:
            if "lock" in _first_line(e).lower():
                raise FatalError(
                    f"the warehouse {database} is in use by another process"
                    " (one dealersync run at a time per warehouse file)"
                ) from None
            raise FatalError(
                f"cannot open the warehouse {database}: {_first_line(e)}"
            ) from None
        except duckdb.Error as e:
            raise ConfigError(
                f"warehouse settings (memory_limit={memory_limit!r}, threads={self.threads}):"
                f" {_first_line(e)}"
            ) from None
        try:
            existed = bool(persisted_tables(self.con))
            self.create_schema()
            self.schema_version = migrate(self.con, existed, str(path))
        except BaseException:
            self.con.close()
            raise

    def create_schema(self) -> None:
        """Create the canonical and bookkeeping tables that do not exist yet."""
        for table in TABLES.values():
            self.con.execute(create_table_sql(table))
        for sql in BOOKKEEPING_SQL:
            self.con.execute(sql)
        for table, columns in BOOKKEEPING_ADDED:
            ensure_table(self.con, table, columns)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path) if self.path else MEMORY_DB!r})"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def migrate(con: duckdb.DuckDBPyConnection, existed: bool, where: str) -> int:
    """Bring the bookkeeping of a warehouse up to :data:`SCHEMA_VERSION`; returns the version it
    had (a new warehouse: the current one). ``existed``: the file held tables before this open."""
    con.execute("CREATE TABLE IF NOT EXISTS _schema (version INTEGER, migrated_at TIMESTAMP)")
    row = con.execute("SELECT max(version) FROM _schema").fetchone()
    found = row[0] if row and row[0] is not None else (1 if existed else SCHEMA_VERSION)
    if found > SCHEMA_VERSION:
        raise FatalError(
            f"the warehouse {where} was written by a newer dealersync (bookkeeping schema {found}; this"
            f" one knows {SCHEMA_VERSION}): upgrade dealersync, or `dealersync state export` with the newer"
            " one and import the file into a new warehouse"
        )
    if row and row[0] == SCHEMA_VERSION:
        return found
    with transaction(con):
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for step in MIGRATIONS.get(version, ()):
                if callable(step):
                    step(con)
                else:
                    con.execute(step)
        con.execute("INSERT INTO _schema VALUES (?, now())", [SCHEMA_VERSION])
    return found


def create_table_if_missing(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[tuple[str, str]]) -> None:
    """Create ``table`` with ``columns`` unless it exists (one cheap statement, no catalog read)."""
    cols = ", ".join(f'"{n}" {t}' for n, t in columns)
    con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({cols})')


def ensure_table(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[tuple[str, str]]) -> None:
    """Create ``table`` with ``columns``, or add the ones an older version did not have.

    Bookkeeping tables only grow (a column is never renamed or dropped), so a warehouse written
    by an earlier version keeps its history and gains the new columns as NULL.
    """
    create_table_if_missing(con, table, columns)
    have = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()}
    for name, typ in columns:
        if name not in have:
            con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {typ}')


def persisted_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the warehouse's own tables (not temp tables, not other attached databases)."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables()"
        " WHERE NOT temporary AND database_name = current_database() AND schema_name = current_schema()"
    ).fetchall()
    return {r[0] for r in rows}


def quote_ident(name: str) -> str:
    """A SQL identifier, double-quoted: the one way a name (a table, a column, an audience's
    table) reaches SQL text."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A single-quoted SQL string literal (for names that must be SQL text; values are bound)."""
    return "'" + value.replace("'", "''") + "'"


def pair_table(prefix: str, audience: str, destination: str) -> str:
    """The name of a table kept per (audience, destination): readable, and told apart by a hash of
    the pair (names may contain ``_``: ("a_b", "c") and ("a", "b_c") must not share a table)."""
    digest = hashlib.sha256(json.dumps([audience, destination]).encode()).hexdigest()[:8]
    return f"{prefix}{audience}_{destination}_{digest}"


def drop_tables_except(con: duckdb.DuckDBPyConnection, prefixes: tuple[str, ...], keep: set[str]) -> list[str]:
    """Drop the warehouse tables named with one of ``prefixes`` that are not in ``keep`` (those of
    an audience or destination removed from the configuration); returns them, sorted."""
    stale = sorted(t for t in persisted_tables(con) if t.startswith(prefixes) and t not in keep)
    for t in stale:
        con.execute(f"DROP TABLE IF EXISTS main.{quote_ident(t)}")
    return stale


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(name, type) of each column of ``table`` (a SQL table reference), from a result's
    description: cheaper than the catalog views, which list every table."""
    cur = con.execute(f"SELECT * FROM {table} LIMIT 0")
    return [(d[0], str(d[1])) for d in cur.description or []]


def scalar_int(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    """The first column of the first row of ``sql`` (a count, usually) as an int; 0 for no row."""
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the block in one transaction: committed when it ends, rolled back when it raises
    (whatever it raises: an interrupted write must leave nothing half done)."""
    con.begin()
    try:
        yield
        con.commit()
    except BaseException:
        con.rollback()
        raise
