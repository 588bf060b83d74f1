"""The plan: the difference between the audience's members now and the sync state, in SQL.

* **add**: members not in the state, members whose sent identifiers changed (a new email),
  rejected members and members of a request that came back failed (``retry``) still under the
  retry cap, and members whose removal is pending but who are back (all current members on a
  full resync);
* **remove** (mirror mode only): members this tool added (synced, pending or retry rows of the
  state: any of them may be on the platform) that left the audience, and the old identifiers of
  members whose identifiers changed;
* **update**: members synced with the same identifiers whose attribute fingerprint changed (a
  new first name for a Mailchimp merge field): sent through the destination's ``update``, never
  removed. A state row without a fingerprint (written before fingerprints existed) takes the
  current one as its baseline, without a send;
* **refresh**: members synced whose last confirmed upload is older than the destination's
  ``refresh_after_days`` (platforms that expire members, such as Customer Match), oldest first,
  at most a seventh of the synced members a run, so a wave spreads over a week of runs; sent
  again as additions (adding is idempotent);
* **unchanged**: members synced, or pending confirmation, with the same identifiers (and
  attributes).

Removals go before additions, so a member whose identifiers changed is never left twice on the
platform: if the run stops in between, the next run adds the member again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from dealersync.store import quote_ident, quote_literal


@dataclass(frozen=True)
class Plan:
    add_table: str
    remove_table: str
    adds: int
    removes: int
    unchanged: int
    gave_up: int  # rejected too often, or for good: not sent again
    synced: int = 0  # members the state says are on the platform before this run
    update_table: str = ""
    updates: int = 0
    refreshes: int = 0  # of ``adds``: stale members sent again


def payload_sql(fields: Sequence[str], alias: str = "") -> str:
    """The JSON text the state keeps for a member: its state fields, in a fixed order."""
    prefix = f"{alias}." if alias else ""
    pairs = ", ".join(f"{quote_literal(f)}, {prefix}{quote_ident(f)}" for f in fields)
    return f"json_object({pairs})::VARCHAR"


def fingerprint_sql(fields: Sequence[str]) -> str:
    """A hash of a member's attribute fields (never the values themselves), or NULL without any."""
    if not fields:
        return "NULL::VARCHAR"
    return f"sha256({payload_sql(fields)})"


def make_plan(
    con: duckdb.DuckDBPyConnection,
    members: str,
    pair: list[str],
    state_fields: Sequence[str],
    *,
    mirror: bool,
    full_resync: bool,
    retry_cap: int,
    attributes: Sequence[str] = (),
    refresh_before: dt.datetime | None = None,
) -> Plan:
    tag = f"{pair[0]}_{pair[1]}"
    cur, st = f"_cur_{tag}", f"_st_{tag}"
    add, remove, update = f"_add_{tag}", f"_remove_{tag}", f"_update_{tag}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(cur)} AS SELECT *, {payload_sql(state_fields)} AS _payload,"
        f" {fingerprint_sql(attributes)} AS _fingerprint FROM {quote_ident(members)}"
    )
    if attributes:  # rows from before fingerprints: the current attributes become their baseline
        con.execute(
            f"""UPDATE _sync_state SET fingerprint = c._fingerprint FROM {quote_ident(cur)} c
                WHERE audience = ? AND destination = ? AND _sync_state.member_key = c.member_key
                  AND fingerprint IS NULL AND status = 'synced' AND payload = c._payload""",
            pair,
        )
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE {quote_ident(st)} AS SELECT member_key, payload, status, attempts, final, fingerprint, confirmed_at, platform_id '
        "FROM _sync_state WHERE audience = ? AND destination = ?",
        pair,
    )
    changed = "(s.fingerprint IS DISTINCT FROM c._fingerprint)" if attributes else "false"
    gave_up = (
        f"(s.status IN ('rejected', 'retry') AND s.payload = c._payload AND (s.final OR s.attempts >= {int(retry_cap)}))"
    )
    refresh = f"_refresh_{tag}"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {quote_ident(refresh)} AS
            SELECT member_key FROM {quote_ident(cur)} c JOIN {quote_ident(st)} s USING (member_key)
            WHERE ?::TIMESTAMP IS NOT NULL AND s.status = 'synced' AND s.payload = c._payload
              AND s.confirmed_at < ?::TIMESTAMP
            ORDER BY s.confirmed_at, member_key
            LIMIT (SELECT ceil(count(*) / 7)::BIGINT FROM {quote_ident(st)} WHERE status = 'synced')""",
        [refresh_before, refresh_before],
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {quote_ident(add)} AS
            SELECT c.* FROM {quote_ident(cur)} c LEFT JOIN {quote_ident(st)} s USING (member_key)
            WHERE NOT coalesce({gave_up}, false)
              AND ({'true' if full_resync else 'false'} OR s.member_key IS NULL
                   OR s.payload <> c._payload OR s.status IN ('rejected', 'retry', 'removing')
                   OR c.member_key IN (SELECT member_key FROM {quote_ident(refresh)}))
            ORDER BY c.member_key"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {quote_ident(update)} AS
            SELECT c.* FROM {quote_ident(cur)} c JOIN {quote_ident(st)} s USING (member_key)
            WHERE NOT {'true' if full_resync else 'false'} AND s.status = 'synced' AND s.payload = c._payload
              AND {changed}
            ORDER BY c.member_key"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {quote_ident(remove)} AS
            SELECT s.member_key, s.payload AS _payload, s.platform_id AS _platform_id
            FROM {quote_ident(st)} s LEFT JOIN {quote_ident(cur)} c USING (member_key)
            WHERE {'true' if mirror else 'false'} AND s.status IN ('synced', 'pending', 'retry')
              AND (c.member_key IS NULL OR c._payload <> s.payload)
            ORDER BY s.member_key"""
    )
    counts = con.execute(
        f"""SELECT (SELECT count(*) FROM {quote_ident(add)}), (SELECT count(*) FROM {quote_ident(remove)}),
                   (SELECT count(*) FROM {quote_ident(cur)} c JOIN {quote_ident(st)} s USING (member_key)
                    WHERE s.status IN ('synced', 'pending') AND s.payload = c._payload AND NOT {changed}
                      AND member_key NOT IN (SELECT member_key FROM {quote_ident(refresh)})),
                   (SELECT count(*) FROM {quote_ident(cur)} c JOIN {quote_ident(st)} s USING (member_key) WHERE {gave_up}),
                   (SELECT count(*) FROM {quote_ident(st)} WHERE status = 'synced'),
                   (SELECT count(*) FROM {quote_ident(update)}),
                   (SELECT count(*) FROM {quote_ident(refresh)})"""
    ).fetchone()
    assert counts is not None
    adds, removes, unchanged, gave_up_n, synced, updates, refreshes = (int(x) for x in counts)
    if full_resync:
        unchanged = 0
    return Plan(add, remove, adds, removes, unchanged, gave_up_n, synced, update, updates, refreshes)
