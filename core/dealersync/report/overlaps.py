"""Audience overlaps: how many customers two audiences share, recorded by each sync.

Nothing else in the warehouse keeps an audience's customers after policy (the kept members are
per destination, after its channel's consent, and a preview rebuilds them), so a sync records,
for every pair of the audiences it selected (an audience with itself included: its size), the
customers in both, in ``_audience_overlaps``: counts only, never a customer id. The report shows
each pair's latest recording.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import duckdb

from dealersync.store import create_table_if_missing, quote_ident

OVERLAPS_TABLE = "_audience_overlaps"
#: One row per pair of audiences selected by one run (``audience_a <= audience_b``).
OVERLAPS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "VARCHAR"),
    ("as_of", "DATE"),
    ("recorded_at", "TIMESTAMP"),
    ("audience_a", "VARCHAR"),
    ("audience_b", "VARCHAR"),
    ("customers", "BIGINT"),
)


def record_overlaps(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: dt.date, audience_tables: Mapping[str, str]
) -> int:
    """Record the pairwise overlaps of ``audience_tables`` (audience -> table of its customers
    after policy, one ``customer_id`` each) in one set-oriented statement; returns the pairs."""
    create_table_if_missing(con, OVERLAPS_TABLE, OVERLAPS_COLUMNS)
    names = sorted(audience_tables)
    if not names:
        return 0
    members = " UNION ALL ".join(
        f"SELECT ?::VARCHAR AS audience, customer_id FROM {quote_ident(audience_tables[n])}" for n in names
    )
    con.execute(
        f"""INSERT INTO {OVERLAPS_TABLE}
            WITH m AS ({members}),
                 shared AS (SELECT x.audience AS a, y.audience AS b, count(*) AS n
                            FROM m AS x JOIN m AS y ON y.customer_id = x.customer_id AND x.audience <= y.audience
                            GROUP BY ALL),
                 names AS (SELECT unnest(?::VARCHAR[]) AS audience)
            SELECT ?, ?, now()::TIMESTAMP, p.audience, q.audience, coalesce(shared.n, 0)
            FROM names AS p JOIN names AS q ON p.audience <= q.audience
            LEFT JOIN shared ON shared.a = p.audience AND shared.b = q.audience""",
        [*names, names, run_id, as_of],
    )
    return len(names) * (len(names) + 1) // 2
