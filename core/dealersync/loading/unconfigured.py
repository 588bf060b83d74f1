"""Sources as configured: rows of a source no longer in ``connectors.toml`` leave the warehouse.

Every loaded row keeps the name of its source (``_source``), and a load replaces only its own
source's rows. A source renamed (``[sources.dms]`` -> ``[sources.store_dms]``) or removed would
otherwise keep its rows for good: every customer twice, and an opt-out in the new extract would
not take effect, since the old row still says yes. So each load first deletes, in one
transaction, every row, quarantine entry and file record of the sources the config no longer
names, and marks every customer changed (the facts and identity index are rebuilt from what
remains). The caller warns, naming each source.

Audiences are protected by the change guards at delivery: if the rows removed with a source
make an audience lose more than its share, its removals are held until ``--accept-changes``.
"""

from __future__ import annotations

from collections.abc import Collection

import duckdb

from dealersync.changes import record_everything_changed
from dealersync.model import TABLES
from dealersync.store import quote_ident, transaction

_BOOKKEEPING = ("_quarantine", "_load_files")


def loaded_sources(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every source name with a row, a quarantine entry or a file record in the warehouse."""
    union = " UNION ".join(
        [f"SELECT DISTINCT _source AS s FROM {quote_ident(t)}" for t in TABLES]
        + [f"SELECT DISTINCT source AS s FROM {t}" for t in _BOOKKEEPING]
    )
    return {str(r[0]) for r in con.execute(union).fetchall() if r[0] is not None}


def forget_unconfigured_sources(con: duckdb.DuckDBPyConnection, configured: Collection[str]) -> dict[str, int]:
    """Delete the rows of every source not in ``configured``; returns source -> rows deleted from
    the canonical tables (an empty dict when there is none, the usual case)."""
    stale = sorted(loaded_sources(con) - set(configured))
    if not stale:
        return {}
    removed = dict.fromkeys(stale, 0)
    with transaction(con):
        for table in TABLES:
            for source, n in con.execute(
                f"SELECT _source, count(*) FROM {quote_ident(table)} WHERE _source IN (SELECT unnest(?)) GROUP BY ALL",
                [stale],
            ).fetchall():
                removed[source] += int(n)
            con.execute(f"DELETE FROM {quote_ident(table)} WHERE _source IN (SELECT unnest(?))", [stale])
        for table in _BOOKKEEPING:
            con.execute(f"DELETE FROM {table} WHERE source IN (SELECT unnest(?))", [stale])
        record_everything_changed(con)
    return removed
