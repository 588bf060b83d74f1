"""What a snapshot destination last wrote, so it can also write only what changed.

A snapshot destination (an upload file) receives the whole audience every run. Platforms also take
files of changes (Meta Ads Manager "add customers" / "remove customers", Google Ads "upload and
append" / "upload and remove"), which are small after a small change. For those the engine keeps,
per (audience, destination), the member table of the last write the destination confirmed:

* before the members are rebuilt, :meth:`SnapshotHistory.rotate` renames the previous run's member
  table to ``_delivered_<audience>_<destination>`` if that run's write was confirmed (a rename: no
  copy). If it was not (the write failed, or the process died before confirming), the older
  delivered table stays, so the next change files repeat what may not have been written;
* after the destination wrote the snapshot, :meth:`SnapshotHistory.confirm` records it.

Re-adding or re-removing a member is harmless for these uploads, so an interrupted run converges.
"""

from __future__ import annotations

import duckdb

from dealersync.store import ensure_table

_LOG = "_snapshot_writes"
_LOG_COLUMNS = (("audience", "VARCHAR"), ("destination", "VARCHAR"), ("confirmed", "BOOLEAN"),
                ("updated_at", "TIMESTAMP"))


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [table]
    ).fetchone()
    return bool(row and row[0])


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f'DESCRIBE "{table}"').fetchall()]


class SnapshotHistory:
    """The last confirmed member table of one (audience, destination) pair."""

    def __init__(self, con: duckdb.DuckDBPyConnection, audience: str, destination: str, members: str) -> None:
        self.con = con
        self.pair = [audience, destination]
        self.members = members
        self.delivered = f"_delivered_{audience}_{destination}"
        ensure_table(con, _LOG, _LOG_COLUMNS)

    def rotate(self) -> None:
        """Before the members are rebuilt: keep the previous member table if its write was confirmed."""
        row = self.con.execute(
            f"SELECT confirmed FROM {_LOG} WHERE audience = ? AND destination = ?", self.pair
        ).fetchone()
        if row and row[0] and _exists(self.con, self.members):
            self.con.execute(f'DROP TABLE IF EXISTS "{self.delivered}"')
            self.con.execute(f'ALTER TABLE "{self.members}" RENAME TO "{self.delivered}"')
        self._set(False)

    def previous(self, *, full_resync: bool = False) -> str | None:
        """The table of the last confirmed write, or None (never written, or a full resync)."""
        if full_resync or not _exists(self.con, self.delivered):
            return None
        if _columns(self.con, self.delivered) != _columns(self.con, self.members):
            return None  # the destination's fields changed since: compare with nothing
        return self.delivered

    def confirm(self) -> None:
        """The destination wrote the snapshot of ``members``."""
        self._set(True)

    def _set(self, confirmed: bool) -> None:
        self.con.execute(f"DELETE FROM {_LOG} WHERE audience = ? AND destination = ?", self.pair)
        self.con.execute(f"INSERT INTO {_LOG} VALUES (?, ?, ?, now())", [*self.pair, confirmed])
