"""The plan: the difference between the audience's members now and the sync state, in SQL.

* **add**: members not in the state, members whose sent identifiers changed (a new email), and
  rejected members still under the retry cap (all current members on a full resync);
* **remove** (mirror mode only): members this tool added (synced rows of the state) that left
  the audience, and the old identifiers of members whose identifiers changed;
* **unchanged**: members already synced with the same identifiers.

Removals go before additions, so a member whose identifiers changed is never left twice on the
platform: if the run stops in between, the next run adds the member again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Plan:
    add_table: str
    remove_table: str
    adds: int
    removes: int
    unchanged: int
    gave_up: int  # rejected too often, or for good: not sent again


def payload_sql(fields: Sequence[str], alias: str = "") -> str:
    """The JSON text the state keeps for a member: its state fields, in a fixed order."""
    prefix = f"{alias}." if alias else ""
    pairs = ", ".join(f"'{f}', {prefix}\"{f}\"" for f in fields)
    return f"json_object({pairs})::VARCHAR"


def make_plan(
    con: duckdb.DuckDBPyConnection,
    members: str,
    pair: list[str],
    state_fields: Sequence[str],
    *,
    mirror: bool,
    full_resync: bool,
    retry_cap: int,
) -> Plan:
    tag = f"{pair[0]}_{pair[1]}"
    cur, st = f"_cur_{tag}", f"_st_{tag}"
    add, remove = f"_add_{tag}", f"_remove_{tag}"
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{cur}" AS SELECT *, {payload_sql(state_fields)} AS _payload FROM "{members}"')
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{st}" AS SELECT member_key, payload, status, attempts, final '
        "FROM _sync_state WHERE audience = ? AND destination = ?",
        pair,
    )
    gave_up = f"(s.status = 'rejected' AND s.payload = c._payload AND (s.final OR s.attempts >= {int(retry_cap)}))"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE "{add}" AS
            SELECT c.* FROM "{cur}" c LEFT JOIN "{st}" s USING (member_key)
            WHERE NOT coalesce({gave_up}, false)
              AND ({'true' if full_resync else 'false'} OR s.member_key IS NULL
                   OR s.payload <> c._payload OR s.status = 'rejected')
            ORDER BY c.member_key"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE "{remove}" AS
            SELECT s.member_key, s.payload AS _payload FROM "{st}" s LEFT JOIN "{cur}" c USING (member_key)
            WHERE {'true' if mirror else 'false'} AND s.status = 'synced'
              AND (c.member_key IS NULL OR c._payload <> s.payload)
            ORDER BY s.member_key"""
    )
    counts = con.execute(
        f"""SELECT (SELECT count(*) FROM "{add}"), (SELECT count(*) FROM "{remove}"),
                   (SELECT count(*) FROM "{cur}" c JOIN "{st}" s USING (member_key)
                    WHERE s.status = 'synced' AND s.payload = c._payload),
                   (SELECT count(*) FROM "{cur}" c JOIN "{st}" s USING (member_key) WHERE {gave_up})"""
    ).fetchone()
    assert counts is not None
    adds, removes, unchanged, gave_up_n = (int(x) for x in counts)
    if full_resync:
        unchanged = 0
    return Plan(add, remove, adds, removes, unchanged, gave_up_n)
