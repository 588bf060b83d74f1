"""Which customers changed since a derived table was last brought up to date.

The work after a load should follow the size of the change, not the size of the customer base.
Loading records, per load of a table, the customers whose rows it added, changed or removed in
``_changes`` (one sequence number per recording; ``customer_id`` NULL means "assume everyone
changed", e.g. a table whose rows cannot be tied to customers). A derived table (the facts, the
identity index) keeps in ``_derived`` the last sequence it has taken in and a fingerprint of what
it was computed with (``as_of``, the definitions). :func:`plan_refresh` then says whether it must be
rebuilt whole, refreshed for a set of customers, or is up to date; :func:`mark_refreshed` records
that it was, after the derived table itself has been written (a crash in between only repeats the
same refresh on the next run: refreshing a customer twice gives the same rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dealersync.store import create_table_if_missing

#: Rows of change log kept for derived tables that lag behind (see :func:`mark_refreshed`).
MAX_PENDING = 5_000_000

CHANGES_COLUMNS = (("seq", "BIGINT"), ("customer_id", "VARCHAR"), ("recorded_at", "TIMESTAMP"))
DERIVED_COLUMNS = (("name", "VARCHAR"), ("seq", "BIGINT"), ("fingerprint", "VARCHAR"))


def _ensure(con: Any) -> None:
    # called before every plan and mark (dozens per run): no catalog read (a column added to
    # these tables in a later version must be listed in store.BOOKKEEPING_ADDED, which adds it
    # when the warehouse opens)
    create_table_if_missing(con, "_changes", CHANGES_COLUMNS)
    create_table_if_missing(con, "_derived", DERIVED_COLUMNS)


def _last_seq(con: Any) -> int:
    # _derived too: once every derived table took the log in, it is emptied, and a new number
    # must still be above what they have seen
    row = con.execute(
        "SELECT greatest((SELECT coalesce(max(seq), 0) FROM _changes),"
        " (SELECT coalesce(max(seq), 0) FROM _derived))"
    ).fetchone()
    return int(row[0]) if row else 0


def record_changes(con: Any, customer_ids_sql: str, params: list[Any] | None = None) -> int:
    """Record the customers returned by ``customer_ids_sql`` (a SELECT of one column) as changed.

    Returns how many distinct customers were recorded (none: no sequence number is used). Runs
    in the caller's transaction, so a rolled-back load records nothing.
    """
    _ensure(con)
    seq = _last_seq(con) + 1
    con.execute(
        "INSERT INTO _changes SELECT DISTINCT ?, c, current_timestamp"
        f" FROM ({customer_ids_sql}) AS t(c) WHERE c IS NOT NULL",
        [seq, *(params or [])],
    )
    row = con.execute("SELECT count(*) FROM _changes WHERE seq = ?", [seq]).fetchone()
    return int(row[0]) if row else 0


def record_everything_changed(con: Any) -> None:
    """Record that every derived table must be rebuilt whole (a change no customer set covers)."""
    _ensure(con)
    con.execute("INSERT INTO _changes VALUES (?, NULL, current_timestamp)", [_last_seq(con) + 1])


@dataclass(frozen=True)
class Refresh:
    """What a derived table must do to be up to date.

    ``kind``: ``"full"`` (rebuild whole), ``"customers"`` (refresh the customers of
    :attr:`changed_sql`) or ``"none"``. ``upto`` is the sequence to pass to
    :func:`mark_refreshed` once the derived table is written.
    """

    kind: Literal["full", "customers", "none"]
    upto: int
    since: int = 0

    @property
    def changed_sql(self) -> str:
        """A SELECT of the distinct changed ``customer_id`` s (only for ``kind == "customers"``)."""
        return (
            f"SELECT DISTINCT customer_id FROM _changes WHERE seq > {int(self.since)}"
            f" AND seq <= {int(self.upto)}"
        )


def plan_refresh(con: Any, name: str, fingerprint: str, *, exists: bool = True) -> Refresh:
    """How derived table ``name``, computed with ``fingerprint``, gets up to date.

    Full when it does not exist (``exists`` False), was never built, was built with another
    fingerprint, or a change since covers everyone; otherwise the customers changed since.
    """
    _ensure(con)
    upto = _last_seq(con)
    row = con.execute("SELECT seq, fingerprint FROM _derived WHERE name = ?", [name]).fetchone()
    if not exists or row is None or row[1] != fingerprint:
        return Refresh("full", upto)
    since = int(row[0])
    if since >= upto:
        return Refresh("none", upto, since)
    everyone = con.execute(
        "SELECT count(*) FROM _changes WHERE seq > ? AND seq <= ? AND customer_id IS NULL",
        [since, upto],
    ).fetchone()
    if everyone and everyone[0]:
        return Refresh("full", upto)
    return Refresh("customers", upto, since)


def mark_refreshed(con: Any, name: str, fingerprint: str, refresh: Refresh) -> None:
    """Record that ``name`` is up to date with the changes up to ``refresh.upto``; changes every
    derived table has taken in are dropped."""
    _ensure(con)
    con.execute("DELETE FROM _derived WHERE name = ?", [name])
    con.execute("INSERT INTO _derived VALUES (?, ?, ?)", [name, refresh.upto, fingerprint])
    con.execute("DELETE FROM _changes WHERE seq <= (SELECT min(seq) FROM _derived)")
    # A derived table no run refreshes any more (e.g. the identity index of a destination that was
    # removed) would keep the log growing forever: past MAX_PENDING rows, the laggards are
    # forgotten, and rebuild whole if they are ever used again.
    row = con.execute("SELECT count(*) FROM _changes").fetchone()
    if row and row[0] > MAX_PENDING:
        con.execute("DELETE FROM _derived WHERE seq < ?", [refresh.upto])
        con.execute("DELETE FROM _changes WHERE seq <= ?", [refresh.upto])
