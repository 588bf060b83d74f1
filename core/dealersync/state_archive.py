"""The dealer's backup of what a warehouse cannot rebuild from the extracts: ``dealersync state
export`` / ``import``.

The canonical tables, the facts and the identity index come back from the next load. What does
not: the suppressions added by hand or reported by platforms (complaints, legal requests), the sync
state (which hashed identifiers each platform list holds because of this tool: without it, people
who left an audience stay on the platform for good), the remote lists bound to each audience, the
holdout history (with its salts), the run history, the change guards' baselines and the last
confirmed write of each file destination. An export writes these tables to one portable file: a
ZIP archive holding ``manifest.json`` (format, bookkeeping schema version, tables and row counts)
and one Parquet file per table. Only hashed identifiers are in it, never a raw e-mail or phone.

Import into a new or rebuilt warehouse: every table of the archive replaces the warehouse's rows
of that table, except the suppressions, which are added to those present (a suppression is never
lost by an import). An archive of a newer bookkeeping schema is refused; the run history of one
from before schema 6 (local start times) is converted to UTC as it is imported, and the synced
members of one from before schema 3 are confirmed when written, as the warehouse migration does.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dealersync.delivery.snapshots import DELIVERED_PREFIX
from dealersync.delivery.state import DDL as SYNC_STATE_DDL
from dealersync.errors import ConfigError
from dealersync.policy import HOLDOUTS_DDL
from dealersync.store import CONFIRMED_SINCE, RUNS_IN_UTC_SINCE, SCHEMA_VERSION, confirmed_when_written, ensure_table, persisted_tables, quote_ident, quote_literal, transaction
from dealersync.run_history import RUNS_COLUMNS, local_start_times_to_utc
from dealersync.suppressions import SuppressionList

FORMAT = "dealersync-state"
#: The fixed tables of the state, in import order; plus every ``_delivered_*`` table.
STATE_TABLES = (
    "_suppressions", "_remote_audiences", "_sync_state", "_requests", "_holdouts", "_runs", "_guard_baseline",
)
MERGED = frozenset({"_suppressions"})  # added to what is there, never replacing it


@dataclass(frozen=True)
class ArchiveSummary:
    path: Path
    schema_version: int
    rows: dict[str, int]


def ensure_state_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every state table that does not exist yet, with its own definition (keys included)."""
    for ddl in SYNC_STATE_DDL:
        con.execute(ddl)
    con.execute(HOLDOUTS_DDL)
    SuppressionList(con)
    ensure_table(con, "_runs", RUNS_COLUMNS)


def export_state(con: duckdb.DuckDBPyConnection, path: Path) -> ArchiveSummary:
    """Write the state tables to the archive ``path`` (replaced atomically)."""
    ensure_state_tables(con)
    tables = [*STATE_TABLES, *sorted(t for t in persisted_tables(con) if t.startswith(DELIVERED_PREFIX))]
    rows: dict[str, int] = {}
    path = path.expanduser()
    tmp = path.with_name(f".{path.name}.tmp")
    with tempfile.TemporaryDirectory(prefix="dealersync-state-") as work:
        for table in tables:
            file = Path(work) / f"{table}.parquet"
            con.execute(f"COPY (SELECT * FROM main.{quote_ident(table)}) TO {quote_literal(str(file))} (FORMAT parquet)")
            count = con.execute(f"SELECT count(*) FROM main.{quote_ident(table)}").fetchone()
            rows[table] = int(count[0]) if count else 0
        manifest = {
            "format": FORMAT, "schema_version": SCHEMA_VERSION,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "tables": rows,
        }
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest, indent=2))
            for table in tables:
                archive.write(Path(work) / f"{table}.parquet", f"{table}.parquet")
    tmp.replace(path)
    return ArchiveSummary(path, SCHEMA_VERSION, rows)


def import_state(con: duckdb.DuckDBPyConnection, path: Path) -> ArchiveSummary:
    """Load the archive ``path`` into the warehouse, in one transaction."""
    path = path.expanduser()
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except zipfile.BadZipFile:
        raise ConfigError(f"{path}: not a dealersync state export (not a ZIP archive)") from None
    with archive, tempfile.TemporaryDirectory(prefix="dealersync-state-") as work:
        manifest = _manifest(archive, path)
        version = int(manifest["schema_version"])
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{path}: exported by a newer dealersync (bookkeeping schema {version}; this one knows"
                f" {SCHEMA_VERSION}): upgrade dealersync first"
            )
        tables = [str(t) for t in manifest["tables"]]
        if any(t not in STATE_TABLES and not t.startswith(DELIVERED_PREFIX) for t in tables):
            raise ConfigError(f"{path}: holds tables that are not dealersync state")
        archive.extractall(work, members=[f"{t}.parquet" for t in tables])
        ensure_state_tables(con)
        with transaction(con):
            for table in tables:
                _load_table(con, table, Path(work) / f"{table}.parquet")
            if version < CONFIRMED_SINCE and "_sync_state" in tables:  # synced then meant delivered
                confirmed_when_written(con)
            if version < RUNS_IN_UTC_SINCE and "_runs" in tables:  # its run history is in local time
                local_start_times_to_utc(con)
    return ArchiveSummary(path, version, {str(t): int(n) for t, n in manifest["tables"].items()})


def _manifest(archive: zipfile.ZipFile, path: Path) -> dict[str, object]:
    try:
        manifest = json.loads(archive.read("manifest.json"))
    except (KeyError, ValueError):
        raise ConfigError(f"{path}: not a dealersync state export (no readable manifest.json)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("tables"), dict):
        raise ConfigError(f"{path}: not a dealersync state export (manifest format)")
    return manifest


def _load_table(con: duckdb.DuckDBPyConnection, table: str, file: Path) -> None:
    source = f"read_parquet({quote_literal(str(file))})"
    target = f"main.{quote_ident(table)}"
    if table.startswith(DELIVERED_PREFIX):
        con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {source}")
    elif table in MERGED:
        # an archive of an older schema lacks the columns added since (``_suppressions.scope``, in
        # its key): they take their declared default, which INSERT OR IGNORE needs spelled out
        have = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        added = "".join(
            f", {default} AS {quote_ident(name)}"
            for name, default in con.execute(
                "SELECT column_name, column_default FROM duckdb_columns() WHERE schema_name = 'main'"
                " AND table_name = ? AND column_default IS NOT NULL",
                [table],
            ).fetchall()
            if name not in have
        )
        con.execute(f"INSERT OR IGNORE INTO {target} BY NAME SELECT *{added} FROM {source}")
    else:
        con.execute(f"DELETE FROM {target}")
        con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {source}")
