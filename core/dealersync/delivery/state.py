"""Sync state: per (audience, destination), what each member was last sent as, and what happened.

The state is the engine's memory of the remote audience. It keeps, per member, the
destination's ``state_fields`` (hashed identifiers: never raw PII) as the JSON ``payload`` that
was sent, so a member can be removed after its source row changed or vanished. A row is written
only after the platform accepted (or explicitly rejected) the member: a batch that was sent but
not acknowledged leaves no trace, and is simply sent again on the next run (destinations are
idempotent), so an interrupted sync converges.

**Confirmation.** A platform that answers a request asynchronously (Google Data Manager answers
``audienceMembers:ingest`` with a ``requestId``; the outcome comes later from
``requestStatus:retrieve``) reports its members as accepted *pending confirmation*. Their rows
then carry the ``request_id`` and a status saying what waits for it:

``synced``     on the platform, confirmed (``confirmed_at``: when, by the wall clock);
``pending``    added, its request not confirmed yet: not sent again, not yet counted as synced;
``retry``      its request came back FAILED or PARTIAL_SUCCESS (the platform reports counts, not
               which members): the whole request is sent again (ingest is idempotent), counted
               in ``attempts`` against the retry cap; it may be on the platform, so it is still
               removed when it leaves the audience;
``removing``   synced, its removal sent and not confirmed yet (back to synced if it fails);
``rejected``   refused by the platform (``code``/``reason``), retried up to the cap.

``_requests`` keeps one row per pending request (operation, members, the platform's status and
counts per reason once resolved). ``fingerprint`` (a hash of the destination's attribute fields)
and ``platform_id`` (the platform's own id of the member, not PII) are kept beside.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb

from dealersync.connectors import MemberOutcome, RemoteAudience, RequestStatus
from dealersync.delivery import clock
from dealersync.store import quote_ident, scalar_int, transaction

DDL = (
    """CREATE TABLE IF NOT EXISTS _sync_state (
        audience VARCHAR, destination VARCHAR, member_key VARCHAR, payload VARCHAR,
        status VARCHAR,          -- synced | rejected
        attempts INTEGER,        -- failed add attempts (rejected rows)
        final BOOLEAN,           -- rejected for good (e.g. a compliance state): never retried
        code VARCHAR, reason VARCHAR, updated_at TIMESTAMP,
        request_id VARCHAR,      -- the pending request this row waits for (pending, removing)
        confirmed_at TIMESTAMP,  -- the last confirmed upload (wall clock)
        fingerprint VARCHAR,     -- hash of the destination's attribute fields, never raw values
        platform_id VARCHAR,     -- the platform's id of the member (not PII), for removals
        PRIMARY KEY (audience, destination, member_key)
    )""",
    """CREATE TABLE IF NOT EXISTS _requests (
        audience VARCHAR, destination VARCHAR, request_id VARCHAR,
        op VARCHAR,              -- add | remove
        members BIGINT, sent_at TIMESTAMP,
        status VARCHAR,          -- pending | success | partial | failed
        counts VARCHAR,          -- the platform's counts (JSON), e.g. errors per reason
        resolved_at TIMESTAMP,
        PRIMARY KEY (audience, destination, request_id)
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
                self.con.execute("DELETE FROM _requests WHERE audience = ? AND destination = ?", self.pair)
            self.con.execute(
                "INSERT OR REPLACE INTO _remote_audiences VALUES (?, ?, ?, ?, now())",
                [*self.pair, remote.id, remote.name],
            )
        return changed

    def forget(self) -> None:
        """The platform list is gone: drop the pair's state, its pending requests and its binding."""
        with transaction(self.con):
            for table in ("_sync_state", "_requests", "_remote_audiences"):
                self.con.execute(f"DELETE FROM {table} WHERE audience = ? AND destination = ?", self.pair)

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
            f"""INSERT INTO _sync_state (audience, destination, member_key, payload, status, attempts, final,
                                        code, reason, updated_at, request_id, confirmed_at, platform_id, fingerprint)
               SELECT ?, ?, o.k, t._payload,
                      CASE WHEN NOT o.ok THEN 'rejected' WHEN o.req IS NULL THEN 'synced' ELSE 'pending' END,
                      CASE WHEN o.ok THEN 0 ELSE 1 END, NOT o.ok AND coalesce(starts_with(o.c, ?), false),
                      o.c, o.r, now(), CASE WHEN o.ok THEN o.req END,
                      CASE WHEN o.ok AND o.req IS NULL THEN ?::TIMESTAMP END, o.pid, t._fingerprint
               FROM (SELECT unnest(?) AS k, unnest(?) AS ok, unnest(?) AS c, unnest(?) AS r,
                            unnest(?) AS req, unnest(?) AS pid) o
               JOIN {quote_ident(planned)} t ON t.member_key = o.k
               ON CONFLICT DO UPDATE SET payload = excluded.payload, status = excluded.status,
                   attempts = CASE WHEN excluded.status = 'rejected' AND _sync_state.status = 'rejected'
                                   THEN _sync_state.attempts + 1
                                   WHEN excluded.status = 'pending' AND _sync_state.status = 'retry'
                                   THEN _sync_state.attempts ELSE excluded.attempts END,
                   final = excluded.final, code = excluded.code, reason = excluded.reason,
                   updated_at = excluded.updated_at, request_id = excluded.request_id,
                   confirmed_at = coalesce(excluded.confirmed_at, _sync_state.confirmed_at),
                   platform_id = coalesce(excluded.platform_id, _sync_state.platform_id),
                   fingerprint = excluded.fingerprint""",
            [*self.pair, FINAL_PREFIX, clock.now(), [o.member_key for o in outcomes], [o.accepted for o in outcomes],
             [o.code for o in outcomes], [o.reason for o in outcomes], [o.request_id for o in outcomes],
             [o.platform_id for o in outcomes]],
        )
        self._record_requests("add", outcomes)

    def commit_removed(self, outcomes: Sequence[MemberOutcome]) -> None:
        """One remove batch the platform answered: accepted members leave the state; those whose
        removal waits for confirmation become ``removing``."""
        done = [o.member_key for o in outcomes if o.accepted and o.request_id is None]
        waiting = [o for o in outcomes if o.accepted and o.request_id is not None]
        with transaction(self.con):
            self.con.execute(
                "DELETE FROM _sync_state WHERE audience = ? AND destination = ? AND member_key IN (SELECT unnest(?))",
                [*self.pair, done],
            )
            self.con.execute(
                """UPDATE _sync_state SET status = 'removing', request_id = o.req, updated_at = now()
                   FROM (SELECT unnest(?) AS k, unnest(?) AS req) o
                   WHERE audience = ? AND destination = ? AND member_key = o.k""",
                [[o.member_key for o in waiting], [o.request_id for o in waiting], *self.pair],
            )
            self._record_requests("remove", waiting)

    def _record_requests(self, op: str, outcomes: Sequence[MemberOutcome]) -> None:
        sizes: dict[str, int] = {}
        for o in outcomes:
            if o.accepted and o.request_id is not None:
                sizes[o.request_id] = sizes.get(o.request_id, 0) + 1
        for request_id, members in sizes.items():
            self.con.execute(
                """INSERT INTO _requests VALUES (?, ?, ?, ?, ?, now(), 'pending', NULL, NULL)
                   ON CONFLICT DO UPDATE SET members = excluded.members, sent_at = excluded.sent_at,
                       status = 'pending', counts = NULL, resolved_at = NULL""",
                [*self.pair, request_id, op, members],
            )

    def pending_requests(self) -> list[tuple[str, str, int]]:
        """(request id, operation, members) of every request still waiting for its outcome."""
        rows = self.con.execute(
            "SELECT request_id, op, members FROM _requests WHERE audience = ? AND destination = ? AND status = 'pending'"
            " ORDER BY sent_at, request_id",
            self.pair,
        ).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    def resolve(self, request_id: str, op: str, status: RequestStatus) -> int:
        """Apply the platform's outcome of one request, in one transaction; returns the members
        it settled (confirmed, or sent back for a retry)."""
        if status.state == "pending":
            return 0
        ok = status.state == "success"
        where = "audience = ? AND destination = ? AND request_id = ?"
        args = [*self.pair, request_id]
        with transaction(self.con):
            settled = scalar_int(self.con, f"SELECT count(*) FROM _sync_state WHERE {where}", args)
            if op == "add" and ok:
                self.con.execute(
                    "UPDATE _sync_state SET status = 'synced', request_id = NULL, attempts = 0, code = NULL,"
                    f" reason = NULL, confirmed_at = ?, updated_at = now() WHERE {where} AND status = 'pending'",
                    [clock.now(), *args],
                )
            elif op == "add":
                self.con.execute(
                    "UPDATE _sync_state SET status = 'retry', request_id = NULL, attempts = attempts + 1,"
                    f" code = ?, reason = ?, updated_at = now() WHERE {where} AND status = 'pending'",
                    [f"request:{status.state}", f"the platform reported the whole request {status.state}:"
                     " it is sent again", *args],
                )
            elif ok:
                self.con.execute(f"DELETE FROM _sync_state WHERE {where} AND status = 'removing'", args)
            else:  # a removal that failed: still on the platform, removed again by the next plan
                self.con.execute(
                    f"UPDATE _sync_state SET status = 'synced', request_id = NULL, updated_at = now() WHERE {where}"
                    " AND status = 'removing'",
                    args,
                )
            self.con.execute(
                f"UPDATE _requests SET status = ?, counts = ?, resolved_at = now() WHERE {where}",
                [status.state, json.dumps(dict(status.counts), sort_keys=True), *args],
            )
        return settled

    def replace_all(self, members_table: str, payload_sql: str, rejected: dict[str, MemberOutcome]) -> None:
        """After a platform-side replace finished: the state is exactly the members sent."""
        with transaction(self.con):
            self.con.execute("DELETE FROM _sync_state WHERE audience = ? AND destination = ?", self.pair)
            self.con.execute(
                f"""INSERT INTO _sync_state (audience, destination, member_key, payload, status, attempts, final,
                                            updated_at, confirmed_at)
                    SELECT ?, ?, member_key, {payload_sql}, 'synced', 0, false, now(), ?
                    FROM {quote_ident(members_table)} WHERE member_key NOT IN (SELECT unnest(?))""",
                [*self.pair, clock.now(), list(rejected)],
            )

    def forget_departed_rejections(self, current_table: str) -> None:
        """Rejected members that left the audience were never on the platform: drop their rows."""
        self.con.execute(
            f"""DELETE FROM _sync_state WHERE audience = ? AND destination = ? AND status = 'rejected'
                AND member_key NOT IN (SELECT member_key FROM {quote_ident(current_table)})""",
            self.pair,
        )
