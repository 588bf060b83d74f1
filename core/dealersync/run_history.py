"""The run history: ``_runs``, one row per (audience, destination) delivery; never an identifier.

Its columns are defined here, once: the warehouse creates the table from them and adds the ones
an older warehouse lacks (:mod:`dealersync.store`), :func:`record_delivery` writes them, and
``dealersync runs``, the report and the state export read them. A column other than the run's
own (:data:`RUN_COLUMNS`) holds the :class:`~dealersync.delivery.result.DeliveryResult` field
of the same name.

``started_at`` is UTC, like ``_loads.loaded_at``, stored as a naive ``TIMESTAMP``. Releases before
bookkeeping schema 6 stored the syncing machine's local time; opening such a warehouse, or
importing a state export of one, converts it (:func:`local_start_times_to_utc`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from dealersync.delivery.result import DeliveryResult

#: The run history's columns, in table order: (name, DuckDB type).
RUNS_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (c.split()[0], c.split()[1])
    for c in """
    run_id VARCHAR, started_at TIMESTAMP, seconds DOUBLE, as_of DATE, audience VARCHAR,
    destination VARCHAR, connector VARCHAR, mode VARCHAR, status VARCHAR, segment_size BIGINT,
    excluded BIGINT, suppressed BIGINT, outranked BIGINT, held_out BIGINT, no_consent BIGINT,
    customers BIGINT, members BIGINT, unmatchable BIGINT, written BIGINT, location VARCHAR,
    error VARCHAR, warnings VARCHAR[], planned BIGINT, added BIGINT, removed BIGINT,
    rejected BIGINT, unchanged BIGINT, gave_up BIGINT, full_resync BOOLEAN,
    platform_counts VARCHAR, rejections VARCHAR, pending BIGINT, confirmations VARCHAR,
    platform_size_lower BIGINT, platform_size_upper BIGINT, platform_status VARCHAR, match_rate VARCHAR,
    updated BIGINT
    """.split(",")
)
#: The columns that describe the run rather than one delivery of it.
RUN_COLUMNS = ("run_id", "started_at", "as_of")
RUNS_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in RUNS_COLUMNS)
#: Columns holding JSON text (a result's dict or list), with the JSON an empty one stands for.
JSON_COLUMNS: dict[str, str] = {"platform_counts": "{}", "rejections": "{}", "confirmations": "[]"}


def utc_now() -> dt.datetime:
    """Now in UTC, as the naive ``TIMESTAMP`` the bookkeeping tables store."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def record_delivery(
    con: duckdb.DuckDBPyConnection, result: DeliveryResult, *, run_id: str, started_at: dt.datetime, as_of: dt.date
) -> None:
    """Append one delivery of run ``run_id`` (started at ``started_at``, UTC) to the history."""
    run: dict[str, Any] = {"run_id": run_id, "started_at": started_at, "as_of": as_of}
    values = [run[name] if name in run else _stored(getattr(result, name), typ) for name, typ in RUNS_COLUMNS]
    con.execute(
        f"INSERT INTO _runs ({', '.join(RUNS_COLUMN_NAMES)}) VALUES ({', '.join(['?'] * len(RUNS_COLUMNS))})",
        values,
    )


def _stored(value: Any, sql_type: str) -> Any:
    """A result's field as its column holds it: a dict or list in a text column as JSON."""
    if sql_type == "VARCHAR" and isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def decode_json_columns(record: dict[str, Any]) -> None:
    """Turn the JSON text columns of one history row (read as a dict) back into dicts and lists."""
    for name, empty in JSON_COLUMNS.items():
        if name in record:
            record[name] = json.loads(record[name] or empty)


def local_start_times_to_utc(con: duckdb.DuckDBPyConnection) -> None:
    """Convert ``started_at`` from the local time releases before bookkeeping schema 6 wrote to UTC.

    The local time was this machine's (the warehouse lives beside the syncing machine), so this
    machine's time zone rules convert it, with the offset in force at each time: summer and winter
    times both come out right. A time in the hour that happens twice when clocks go back is read
    as its first occurrence. Python's conversion is the operating system's (``TZ``, else
    ``/etc/localtime``), which is what ``datetime.now()`` wrote the times with."""
    stamps = [row[0] for row in con.execute("SELECT DISTINCT started_at FROM _runs WHERE started_at IS NOT NULL").fetchall()]
    if stamps:
        con.execute(
            "UPDATE _runs SET started_at = converted.utc FROM (SELECT unnest(?::TIMESTAMP[]) AS local_time,"
            " unnest(?::TIMESTAMP[]) AS utc) converted WHERE _runs.started_at = converted.local_time",
            [stamps, [t.astimezone(dt.UTC).replace(tzinfo=None) for t in stamps]],
        )


def last_platform_size(con: duckdb.DuckDBPyConnection, audience: str, destination: str) -> int | None:
    """The audience size the platform last reported for the pair (its upper bound), if any."""
    row = con.execute(
        "SELECT platform_size_upper FROM _runs WHERE audience = ? AND destination = ?"
        " AND platform_size_upper IS NOT NULL ORDER BY started_at DESC LIMIT 1",
        [audience, destination],
    ).fetchone()
    return int(row[0]) if row else None
