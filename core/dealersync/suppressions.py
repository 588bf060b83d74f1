"""The suppression list: people no audience may contain, on every channel or on one.

Every entry has a **scope**: ``all`` (every channel: the default, and the scope of every entry
written before scopes existed), or one channel, ``ads``, ``email`` or ``sms``. A bounced or
unsubscribed address (a Mailchimp ``cleaned`` or ``unsubscribed`` contact) is suppressed for
``email`` only, so the person stays in the Meta and Google audiences. ``all`` entries are applied
by the audience policy; channel entries with consent, per destination (both per person).

Entries come from three places and are matched the same way:

* the ``suppressions`` table a source loads (``suppressions.csv``: email, phone or customer id,
  and an optional ``scope`` column: a file without it, or an empty cell, means ``all``; any other
  value than the four is quarantined with its file, line and column, like any bad value);
* ``dealersync suppress add`` / ``remove`` (source ``cli``);
* :class:`SuppressionList` ``add``, the public API destinations call when a platform reports an
  unsubscribe, bounce or complaint (source: the destination's name).

Added entries are stored as SHA-256 of a match key, never as the raw email or phone. The match
key is deliberately simple and symmetric, so the loaded list, added entries and customers agree:
an email is trimmed and lowercased; a phone is its digits without leading zeros, and a North
American number (10 digits, or 11 starting with 1) is its last 10 digits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import duckdb

from dealersync.changes import mark_refreshed, plan_refresh
from dealersync.errors import ConfigError
from dealersync.model import SUPPRESSION_SCOPES
from dealersync.store import persisted_tables, transaction

Kind = Literal["email", "phone", "customer_id"]
Scope = Literal["all", "ads", "email", "sms"]
SCOPES: tuple[str, ...] = SUPPRESSION_SCOPES
#: The scope of a loaded ``suppressions`` row (a file without the column, or an empty cell: all).
LOADED_SCOPE_SQL = "coalesce(scope, 'all')"

DDL = """
CREATE TABLE IF NOT EXISTS _suppressions (
    kind VARCHAR NOT NULL, key_sha256 VARCHAR NOT NULL, reason VARCHAR, source VARCHAR,
    since DATE, scope VARCHAR NOT NULL DEFAULT 'all', PRIMARY KEY (kind, key_sha256, scope)
)"""

#: Bookkeeping schema 4: ``_suppressions`` gains ``scope`` (in its key), existing entries ``all``.
#: The key changes, so the table is rebuilt (a warehouse that never had one gets it as before).
SCOPE_MIGRATION: tuple[str, ...] = (
    DDL.replace("_suppressions (", "_suppressions_scoped (").replace("IF NOT EXISTS ", ""),
    "CREATE TABLE IF NOT EXISTS _suppressions (kind VARCHAR, key_sha256 VARCHAR, reason VARCHAR, source VARCHAR, since DATE)",
    "INSERT INTO _suppressions_scoped SELECT kind, key_sha256, reason, source, since, 'all' FROM _suppressions",
    "DROP TABLE _suppressions",
    "ALTER TABLE _suppressions_scoped RENAME TO _suppressions",
)


def email_key_sql(expr: str) -> str:
    return f"nullif(lower(trim({expr})), '')"


def phone_key_sql(expr: str) -> str:
    digits = f"ltrim(regexp_replace(coalesce({expr}, ''), '[^0-9]', '', 'g'), '0')"
    return (
        f"(CASE WHEN length({digits}) = 11 AND {digits} LIKE '1%' THEN right({digits}, 10)"
        f" WHEN length({digits}) >= 7 THEN {digits} END)"
    )


#: Every customer's match keys (customer_id, kind, key_sha256), kept by ``refresh_customer_keys``.
CUSTOMER_KEYS = "_customer_match_keys"
_KEYS_VERSION = "1"  # bump when the match-key rules change: the table is then rebuilt whole
_CUSTOMER_KEY_COLUMNS = (("email", "email"), ("phone", "phone_mobile"), ("phone", "phone_home"), ("customer_id", "customer_id"))


def _customer_keys_sql(customers: str) -> str:
    """Every match key of the customers in relation ``customers`` (the table, or a subset of it)."""
    return " UNION ALL ".join(
        f"SELECT customer_id, '{kind}' AS kind, sha256({_key_sql(kind, 'c.' + col)}) AS key_sha256"
        f" FROM {customers} c WHERE {_key_sql(kind, 'c.' + col)} IS NOT NULL"
        for kind, col in _CUSTOMER_KEY_COLUMNS
    )


def _key_sql(kind: Kind, expr: str) -> str:
    if kind == "email":
        return email_key_sql(expr)
    if kind == "phone":
        return phone_key_sql(expr)
    return f"nullif(trim({expr}), '')"


@dataclass(frozen=True)
class SuppressionCount:
    source: str
    reason: str
    kind: str
    entries: int
    scope: str = "all"


class SuppressionList:
    """Read and change the suppression list kept in the warehouse."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        con.execute(DDL)

    def add(
        self,
        *,
        reason: str,
        source: str,
        email: str | None = None,
        phone: str | None = None,
        customer_id: str | None = None,
        since: dt.date | None = None,
        scope: Scope = "all",
    ) -> int:
        """Suppress a person by any of the identifiers given, on ``scope`` (every channel, or
        ``ads``, ``email`` or ``sms``); return how many entries were new.

        Raises :class:`ConfigError` when none of the identifiers is usable (the message never
        repeats the value).
        """
        if scope not in SCOPES:
            raise ConfigError(f"suppression scope: found {scope!r}, expected one of {', '.join(SCOPES)}")
        added = 0
        for kind, value in _given(email=email, phone=phone, customer_id=customer_id):
            key = self._key(kind, value)
            before = self._size()
            self._con.execute(
                "INSERT INTO _suppressions (kind, key_sha256, reason, source, since, scope)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [kind, key, reason, source, since or dt.date.today(), scope],
            )
            added += self._size() - before
        return added

    def remove(
        self,
        *,
        email: str | None = None,
        phone: str | None = None,
        customer_id: str | None = None,
        scope: Scope | None = None,
    ) -> int:
        """Lift added suppressions for these identifiers (of every scope, or of ``scope`` only);
        return how many entries were removed.

        Entries loaded from a source's ``suppressions.csv`` are lifted by changing that file.
        """
        removed = 0
        for kind, value in _given(email=email, phone=phone, customer_id=customer_id):
            before = self._size()
            self._con.execute(
                "DELETE FROM _suppressions WHERE kind = ? AND key_sha256 = ? AND scope = coalesce(?, scope)",
                [kind, self._key(kind, value), scope],
            )
            removed += before - self._size()
        return removed

    def counts(self) -> list[SuppressionCount]:
        """Entries by source, reason and kind: what ``dealersync suppress list`` shows."""
        rows = self._con.execute(
            f"""SELECT source, reason, kind, count(*), scope FROM (
                    SELECT source, coalesce(reason, '') AS reason, kind, scope FROM _suppressions
                    UNION ALL
                    SELECT _source, coalesce(reason, ''), kind, {LOADED_SCOPE_SQL} FROM suppressions,
                        (SELECT unnest(['email', 'phone', 'customer_id']) AS kind) k
                    WHERE (kind = 'email' AND {email_key_sql('email')} IS NOT NULL)
                       OR (kind = 'phone' AND {phone_key_sql('phone')} IS NOT NULL)
                       OR (kind = 'customer_id' AND nullif(trim(customer_id), '') IS NOT NULL)
                ) GROUP BY ALL ORDER BY ALL"""
        ).fetchall()
        return [SuppressionCount(*r) for r in rows]

    def suppressed_customers_sql(self, scope: Scope = "all") -> str:
        """A SELECT of every customer_id the list suppresses on ``scope`` (loaded and added
        entries; a loaded ``suppressions.csv`` row without a scope has scope ``all``).

        Brings :data:`CUSTOMER_KEYS` up to date first (see :meth:`refresh_customer_keys`).
        """
        if scope not in SCOPES:
            raise ValueError(f"unknown suppression scope {scope!r}")
        self.refresh_customer_keys()
        added = f"SELECT kind, key_sha256 FROM _suppressions WHERE scope = '{scope}'"
        loaded = " UNION ALL ".join(
            f"SELECT '{kind}' AS kind, sha256({_key_sql(kind, col)}) AS key_sha256 FROM suppressions"
            f" WHERE {_key_sql(kind, col)} IS NOT NULL AND {LOADED_SCOPE_SQL} = '{scope}'"
            for kind, col in (("email", "email"), ("phone", "phone"), ("customer_id", "customer_id"))
        )
        keys = f"({added} UNION ALL {loaded})"
        return f"SELECT DISTINCT p.customer_id FROM {CUSTOMER_KEYS} p JOIN {keys} k USING (kind, key_sha256)"

    def refresh_customer_keys(self) -> None:
        """Keep :data:`CUSTOMER_KEYS` (every customer's hashed match keys) up to date.

        Hashing every customer's email and phones is most of the policy step's cost, and the keys
        only change with the customer: the table is rebuilt whole once, then only the customers a
        load changed (:mod:`dealersync.changes`) are recomputed.
        """
        con = self._con
        refresh = plan_refresh(con, CUSTOMER_KEYS, _KEYS_VERSION, exists=CUSTOMER_KEYS in persisted_tables(con))
        if refresh.kind == "none":
            return
        with transaction(con):
            if refresh.kind == "full":
                con.execute(f"CREATE OR REPLACE TABLE {CUSTOMER_KEYS} AS {_customer_keys_sql('customers')}")
            else:
                # the changed customers' rows first, so the key expressions run on those only
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE _changed_customer_rows AS SELECT * FROM customers"
                    f" WHERE customer_id IN ({refresh.changed_sql})"
                )
                con.execute(f"DELETE FROM {CUSTOMER_KEYS} WHERE customer_id IN ({refresh.changed_sql})")
                con.execute(f"INSERT INTO {CUSTOMER_KEYS} {_customer_keys_sql('_changed_customer_rows')}")
                con.execute("DROP TABLE _changed_customer_rows")
            mark_refreshed(con, CUSTOMER_KEYS, _KEYS_VERSION, refresh)

    def _key(self, kind: Kind, value: str) -> str:
        # the value bound once: the phone key's SQL reads it several times
        row = self._con.execute(f"SELECT sha256({_key_sql(kind, 'v')}) FROM (SELECT ?::VARCHAR AS v)", [value]).fetchone()
        if row is None or row[0] is None:
            raise ConfigError(f"suppression: the {kind.replace('_', ' ')} given is not usable (empty or malformed)")
        return str(row[0])

    def _size(self) -> int:
        row = self._con.execute("SELECT count(*) FROM _suppressions").fetchone()
        return int(row[0]) if row else 0


def _given(**identifiers: str | None) -> Iterable[tuple[Kind, str]]:
    given = [(k, v) for k, v in identifiers.items() if v is not None and str(v).strip()]
    if not given:
        raise ConfigError("suppression: give an email, a phone or a customer id")
    return given  # type: ignore[return-value]
