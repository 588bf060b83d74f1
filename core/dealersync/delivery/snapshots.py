"""What a snapshot destination last wrote, so it can also write only what changed.

A snapshot destination (an upload file) receives the whole audience every run. Platforms also take
files of changes (Meta Ads Manager "add customers" / "remove customers", Google Ads "upload and
append" / "upload and remove"), which are small after a small change. For a destination that
writes them (:meth:`dealersync.AudienceSnapshot.write_changes_csv`) the engine keeps, per
(audience, destination), the members of its last **confirmed** write in
``_delivered_<audience>_<destination>_<hash>`` (:func:`dealersync.store.pair_table`):

* the change files are computed against that table;
* only after the destination returned (the files are written) does :meth:`SnapshotHistory.confirm`
  apply the same changes to it, in one transaction: removals out, additions in. The work follows
  the size of the change; the first write copies the whole member table once.

If a write fails, or the process dies before the confirmation, the table still holds the older
write, so the next change files repeat what may be missing; re-adding or re-removing a member is
harmless for these uploads, so an interrupted run converges.
"""

from __future__ import annotations

import logging

import duckdb

from dealersync.audiences import AudienceSnapshot
from dealersync.store import (
    drop_tables_except,
    pair_table,
    persisted_tables,
    quote_ident,
    table_columns,
    transaction,
)

DELIVERED_PREFIX = "_delivered_"

log = logging.getLogger("dealersync")


class SnapshotHistory:
    """The last confirmed write of one (audience, destination) pair."""

    def __init__(self, con: duckdb.DuckDBPyConnection, audience: str, destination: str, members: str) -> None:
        self.con = con
        self.members = members  # this run's member table
        self.delivered = pair_table(DELIVERED_PREFIX, audience, destination)

    def previous(self, *, full_resync: bool = False) -> str | None:
        """The table of the last confirmed write, or None (never written, a full resync, or the
        destination's fields changed since)."""
        if full_resync or self.delivered not in persisted_tables(self.con):
            return None
        if table_columns(self.con, f'main.{quote_ident(self.delivered)}') != table_columns(self.con, quote_ident(self.members)):
            return None
        return f"main.{self.delivered}"

    def confirm(self, snapshot: AudienceSnapshot) -> None:
        """The destination wrote the snapshot: if it wrote change files, its members become the
        baseline of the next ones."""
        changes = snapshot.changes_written
        if changes is None:
            return
        con = self.con
        with transaction(con):
            if snapshot.first:
                con.execute(f'CREATE OR REPLACE TABLE main.{quote_ident(self.delivered)} AS SELECT * FROM {quote_ident(self.members)}')
            else:
                adds, removes = changes
                con.execute(
                    f'DELETE FROM main.{quote_ident(self.delivered)} WHERE member_key IN (SELECT member_key FROM {quote_ident(removes)})'
                )
                con.execute(f'INSERT INTO main.{quote_ident(self.delivered)} SELECT * FROM {quote_ident(adds)}')


def drop_stale_deliveries(con: duckdb.DuckDBPyConnection, pairs: set[tuple[str, str]]) -> list[str]:
    """Drop the last-write tables of every pair not in ``pairs`` (an audience or destination removed
    from the configuration); returns the tables dropped. If such a pair comes back, its change
    files start again as a first write: every member added.

    A table named before the pair's hash was part of the name (``_delivered_<audience>_<destination>``)
    is renamed to its pair's table, so no pending removal is lost; only when two configured
    pairs share that old name (their baseline was mixed up) is it dropped, with a warning."""
    tables = persisted_tables(con)
    owners: dict[str, list[tuple[str, str]]] = {}
    for a, d in sorted(pairs):
        owners.setdefault(f"{DELIVERED_PREFIX}{a}_{d}", []).append((a, d))
    for old, pair_list in owners.items():
        new = pair_table(DELIVERED_PREFIX, *pair_list[0])
        if old not in tables or new in tables:
            continue
        if len(pair_list) == 1:
            con.execute(f"ALTER TABLE main.{quote_ident(old)} RENAME TO {quote_ident(new)}")
        else:
            log.warning(
                "the last confirmed write of %s was kept in one table for all of them: their next"
                " change files add every member; re-upload these audiences whole (--full-resync)"
                " to remove members who left", " and ".join(f"{a}/{d}" for a, d in pair_list),
            )
    return drop_tables_except(con, (DELIVERED_PREFIX,), {pair_table(DELIVERED_PREFIX, a, d) for a, d in pairs})
