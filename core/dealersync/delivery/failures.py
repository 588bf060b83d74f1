"""What went wrong in one delivery, as one line safe to print and to keep in ``_runs``.

Any error in one (audience, destination) fails that delivery only (the engine records it and goes
on with the next). Errors of dealersync's kinds carry a message written for the dealer; anything
else (a plugin's bug, an I/O error writing a file, DuckDB) is described by its kind and first line,
with anything that looks like a credential or an identifier masked (:func:`dealersync.secrets.redact`).
"""

from __future__ import annotations

import duckdb

from dealersync.errors import DealersyncError
from dealersync.secrets import redact


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, DealersyncError):
        return redact(exc.message)
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return redact(f"{exc.strerror}{where}")
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, duckdb.IOException) and first:
        return redact(f"could not read or write a file: {first}")
    return redact(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)


def rollback_open_transaction(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back a transaction a failed delivery may have left open, so the run can go on."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        return  # none was open: the usual case
