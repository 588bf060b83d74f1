"""Sync state: per (audience, destination), what each member was last sent as, and what happened.

The state is the engine's memory of the remote audience. It keeps, per member, the
destination's ``state_fields`` (hashed identifiers: never raw PII) as the JSON ``payload`` that
was sent, so a member can be removed after its source row changed or vanished. A row is written
only after the platform accepted (or explicitly rejected) the member: a batch that was sent but
not acknowledged leaves no trace, and is simply sent again on the next run (destinations are
idempotent), so an interrupted sync converges.
"""

from __future__ import annotations

from collections.abc import Sequence
import duckdb

from dealersync.connectors import MemberOutcome, RemoteAudience
from dealersync.store import quote_ident, transaction

DDL = (
    """CREATE TABLE IF NOT EXISTS _sync_state (
        audience VARCHAR, destination VARCHAR, member_key VARCHAR, payload VARCHAR,
        status VARCHAR,          -- synced | rejected
        attempts INTEGER,        -- failed add attempts (rejected rows)
        final BOOLEAN,           -- rejected for good (e.g. a compliance state): never retried
        code VARCHAR, reason VARCHAR, updated_at TIMESTAMP,
        PRIMARY KEY (audience, destination, member_key)
    )""",
    """CREATE TABLE IF NOT EXISTS _remote_audiences (
        audience VARCHAR, destination VARCHAR, remote_id VARCHAR, name VARCHAR, updated_at TIMESTAMP,
        PRIMARY KEY (audience, destination)
    )""",
)

#: Rejection codes starting with this are never retried (the platform will not change its mind).
FINAL_PREFIX = "suppressed:"


class SyncState:
    """Reads and commits the state of one (audience, destination) pair."""

    def __init__(self, con: duckdb.DuckDBPyConnection, audience: str, destination: str) -> None:
        self.con = con
        self.pair = [audience, destination]
        for ddl in DDL:
            con.execute(ddl)

    def bind_remote(self, remote: RemoteAudience) -> bool:
        """Record the platform list this pair syncs to. When it is a different list than last
        time, the old state describes a list we no longer write to: it is dropped. Returns True
        when that happened."""
        row = self.con.execute(
            "SELECT remote_id FROM _remote_audiences WHERE audience = ? AND destination = ?", self.pair
        ).fetchone()
        changed = row is not None and row[0] != remote.id
        with transaction(self.con):
            if changed:
                self.con.execute("DELETE FROM _sync_state WHERE audience = ? AND destination = ?", self.pair)
            self.con.execute(
                "INSERT OR REPLACE INTO _remote_audiences VALUES (?, ?, ?, ?, now())",
                [*self.pair, remote.id, remote.name],
            )
        return changed

    def remote_id(self) -> str | None:
        row = self.con.execute(
            "SELECT remote_id FROM _remote_audiences WHERE audience = ? AND destination = ?", self.pair
        ).fetchone()
        return None if row is None else str(row[0])

    def commit_added(self, planned: str, outcomes: Sequence[MemberOutcome]) -> None:
        """One add batch the platform answered: accepted members become synced, rejected ones are
        recorded with their code (counted towards the retry cap), in one transaction. The sent
        identifiers come from the plan table ``planned`` (its ``_payload`` column)."""
        with transaction(self.con):
            self._insert_outcomes(planned, outcomes)

    def _insert_outcomes(self, planned: str, outcomes: Sequence[MemberOutcome]) -> None:
        self.con.execute(
            f"""INSERT INTO _sync_state
               SELECT ?, ?, o.k, t._payload, CASE WHEN o.ok THEN 'synced' ELSE 'rejected' END,
                      CASE WHEN o.ok THEN 0 ELSE 1 END, NOT o.ok AND coalesce(starts_with(o.c, ?), false),
                      o.c, o.r, now()
               FROM (SELECT unnest(?) AS k, unnest(?) AS ok, unnest(?) AS c, unnest(?) AS r) o
               JOIN {quote_ident(planned)} t ON t.member_key = o.k
               ON CONFLICT DO UPDATE SET payload = excluded.payload, status = excluded.status,
                   attempts = CASE WHEN excluded.status = 'rejected' AND _sync_state.status = 'rejected'
                                   THEN _sync_state.attempts + 1 ELSE excluded.attempts END,
                   final = excluded.final, code = excluded.code, reason = excluded.reason,
                   updated_at = excluded.updated_at""",
            [*self.pair, FINAL_PREFIX, [o.member_key for o in outcomes], [o.accepted for o in outcomes],
             [o.code for o in outcomes], [o.reason for o in outcomes]],
        )

    def commit_removed(self, outcomes: Sequence[MemberOutcome]) -> None:
        """One remove batch the platform answered: accepted members leave the state."""
        keys = [o.member_key for o in outcomes if o.accepted]
        self.con.execute(
            "DELETE FROM _sync_state WHERE audience = ? AND destination = ? AND member_key IN (SELECT unnest(?))",
            [*self.pair, keys],
        )

    def replace_all(self, members_table: str, payload_sql: str, rejected: dict[str, MemberOutcome]) -> None:
        """After a platform-side replace finished: the state is exactly the members sent."""
        with transaction(self.con):
            self.con.execute("DELETE FROM _sync_state WHERE audience = ? AND destination = ?", self.pair)
            self.con.execute(
                f"""INSERT INTO _sync_state SELECT ?, ?, member_key, {payload_sql}, 'synced', 0, false, NULL, NULL, now()
                    FROM {quote_ident(members_table)} WHERE member_key NOT IN (SELECT unnest(?))""",
                [*self.pair, list(rejected)],
            )

    def forget_departed_rejections(self, current_table: str) -> None:
        """Rejected members that left the audience were never on the platform: drop their rows."""
        self.con.execute(
            f"""DELETE FROM _sync_state WHERE audience = ? AND destination = ? AND status = 'rejected'
                AND member_key NOT IN (SELECT member_key FROM {quote_ident(current_table)})""",
            self.pair,
        )
