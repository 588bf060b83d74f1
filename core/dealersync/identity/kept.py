"""One (audience, destination)'s members kept in the warehouse and updated by what changed.

Building an audience's members from the identity index joins, groups and sorts all of the
audience's customers: at a million customers, about a second per (audience, destination), on
every run, however small the change. :class:`KeptMembers` keeps the pair's members and rebuilds
only those the change can touch:

``_members_<audience>_<destination>_<hash>``: the members (the columns of
    :func:`dealersync.identity.build_members`), in no particular order;
``_memberstate_<audience>_<destination>_<hash>``: per index row of the audience's customers: ``cid``,
    ``nokey``, the invalid-input flags ``x<i>`` and the ``member_key`` of its member.

An update takes the customers that **entered** or **left** the audience since the last build
and those the change log (:mod:`dealersync.changes`) says **changed**, then closes that set:
every customer of an old member it touches, and every audience customer sharing a match-key
token with it, until nothing is added. Members outside the closed set cannot have changed: none
of their customers changed, left, or gained a link to anyone who did. The closed set's members
are rebuilt from the index (the same code as a full build), the old ones deleted and the new
ones inserted in one transaction with the ``_derived`` mark, so an interrupted update is
repeated whole by the next run. The result equals a full build (``tests/test_identity_kept.py``
checks it after random changes).

A full build happens the first time, and whenever the index's fingerprint (profiles, country,
``as_of`` rules), the identifiers, or the change log (a change "for everyone") says so.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping

import duckdb

from dealersync import changes
from dealersync.identity.index import IdentityIndex, MemberStats, _drop, _fatal
from dealersync.identity.members import check_identifiers
from dealersync.identity.profiles import quote_ident
from dealersync.store import drop_tables_except, pair_table, persisted_tables, scalar_int, transaction

#: Bump when the kept tables' layout or meaning changes.
KEPT_VERSION = 1

MEMBERS_PREFIX = "_members_"
STATE_PREFIX = "_memberstate_"
DERIVED_PREFIX = "members:"


def kept_tables(audience: str, destination: str) -> tuple[str, str]:
    """The (members, state) table names of a pair (see :func:`dealersync.store.pair_table`)."""
    return pair_table(MEMBERS_PREFIX, audience, destination), pair_table(STATE_PREFIX, audience, destination)


class KeptMembers:
    """The kept members of one (audience, destination), built from ``index``."""

    def __init__(
        self,
        index: IdentityIndex,
        identifiers: Mapping[str, str],
        *,
        audience: str,
        destination: str,
    ) -> None:
        self.index = index
        self.con = index.con
        self.identifiers = dict(identifiers)
        self.fields, _ = check_identifiers(self.identifiers)
        self.table, self.state = kept_tables(audience, destination)
        self.derived_name = f"{DERIVED_PREFIX}{audience}:{destination}"
        self.fingerprint = hashlib.sha256(
            json.dumps([KEPT_VERSION, index.spec.fingerprint, list(self.identifiers.items())]).encode()
        ).hexdigest()
        self.last_update: str | None = None  # "full" or "customers" once updated
        self.rebuilt = 0  # customers whose members the last update rebuilt

    def update(self, customer_ids_sql: str, params: list | None = None) -> MemberStats:
        """Bring the members up to date with the customers of ``customer_ids_sql`` (a SELECT of
        ``customer_id``) and the index; return the whole audience's stats."""
        now = f"_dskm_{uuid.uuid4().hex[:10]}_now"
        try:
            self.con.execute(
                f"CREATE TEMP TABLE {now} AS SELECT DISTINCT customer_id FROM ({customer_ids_sql})"
                " WHERE customer_id IS NOT NULL",
                params or [],
            )
            return self.update_from_table(now)
        except duckdb.Error as e:
            _fatal(e, f"updating the kept members {self.table}")
        finally:
            _drop(self.con, [now])

    def update_from_table(self, now: str) -> MemberStats:
        """:meth:`update` from ``now``, a (temp) table of distinct, non-null ``customer_id``,
        read as it is (the sync's consented audience: no copy per destination)."""
        con = self.con
        exists = {self.table, self.state} <= persisted_tables(con)
        plan = changes.plan_refresh(con, self.derived_name, self.fingerprint, exists=exists)
        tmp = f"_dskm_{uuid.uuid4().hex[:10]}"
        built, built_state = f"{tmp}_members", f"{tmp}_state"
        created: list[str] = []
        try:
            if plan.kind == "full":
                self._rebuild(now, plan)
                self.rebuilt = self._count(now)
            else:
                touched = self._touched(now, plan, tmp, created)
                self.index.build_members(
                    f"SELECT cid AS customer_id FROM {touched} WHERE cid IN (SELECT customer_id FROM {now})",
                    self.identifiers, target=built, temp=True, state=built_state, ordered=False,
                )
                created += [built, built_state]
                self._patch(plan, touched, built, built_state)
                self.rebuilt = self._count(touched)
            self.last_update = plan.kind if plan.kind == "full" else "customers"
            return self._stats()
        except duckdb.Error as e:
            _fatal(e, f"updating the kept members {self.table}")
        finally:
            _drop(con, created)

    def _touched(self, now: str, plan: changes.Refresh, tmp: str, created: list[str]) -> str:
        """Temp table ``(cid)``: the customers whose members must be rebuilt (or dropped)."""
        con, state, shared = self.con, quote_ident(self.state), quote_ident(self.index.shared)
        seeds = [
            f"SELECT n.customer_id AS cid FROM {now} AS n ANTI JOIN {state} AS s ON s.cid = n.customer_id",
            f"SELECT s.cid FROM {state} AS s ANTI JOIN {now} AS n ON n.customer_id = s.cid",
        ]
        if plan.kind == "customers":
            # changed customers still in the audience (those no longer in it left: seeded above);
            # a join, so the small change log is the side hashed
            seeds.append(
                f"SELECT c.customer_id FROM ({plan.changed_sql}) AS c JOIN {now} AS n ON n.customer_id = c.customer_id"
            )
        touched = f"{tmp}_touched"
        con.execute(f"CREATE TEMP TABLE {touched} AS {' UNION '.join(seeds)}")
        created.append(touched)
        old_mates = (
            f"SELECT s.cid FROM {state} AS s WHERE s.member_key IN (SELECT member_key FROM {state}"
            f" WHERE cid IN (SELECT cid FROM {touched}) AND member_key IS NOT NULL)"
        )
        hot = self.index.closed_hot()
        if hot is not None and not self._count(f"(SELECT cid FROM {touched} EXCEPT SELECT cid FROM {hot})"):
            # every seed is among this run's hot customers, which hold every link shared now:
            # take the audience's hot customers; if no old member reaches outside them, that is
            # the closure (else grow from there)
            con.execute(
                f"INSERT INTO {touched} SELECT cid FROM {hot} WHERE cid IN (SELECT customer_id FROM {now})"
                f" OR cid IN (SELECT cid FROM {state}) EXCEPT SELECT cid FROM {touched}"
            )
            if not self._count(f"({old_mates} EXCEPT SELECT cid FROM {touched})"):
                return touched
        if not self._count(touched):
            return touched
        grow = f"{tmp}_grow"
        created.append(grow)
        while True:
            # the old members' other customers, and the audience's customers sharing a token
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {grow} AS {old_mates}"
                " UNION"
                f" SELECT b.cid FROM {shared} AS a JOIN {shared} AS b ON b.tok = a.tok"
                f"  WHERE a.cid IN (SELECT cid FROM {touched}) AND a.cid IN (SELECT customer_id FROM {now})"
                f"  AND b.cid IN (SELECT customer_id FROM {now})"
                " EXCEPT"
                f" SELECT cid FROM {touched}"
            )
            if not self._count(grow):
                return touched
            con.execute(f"INSERT INTO {touched} SELECT cid FROM {grow}")

    def _rebuild(self, now: str, plan: changes.Refresh) -> None:
        """Build the members and their state whole, straight into the kept tables (one write of
        the wide rows, unsorted: their order means nothing)."""
        with transaction(self.con):
            self.index.build_members(
                f"SELECT customer_id FROM {now}", self.identifiers,
                target=f"main.{self.table}", state=f"main.{self.state}", ordered=False,
            )
            changes.mark_refreshed(self.con, self.derived_name, self.fingerprint, plan)

    def _patch(self, plan: changes.Refresh, touched: str, built: str, built_state: str) -> None:
        """Replace the touched customers' members by the rebuilt ones, in one transaction."""
        con, table, state = self.con, quote_ident(self.table), quote_ident(self.state)
        with transaction(con):
            con.execute(
                f"DELETE FROM main.{table} WHERE member_key IN (SELECT member_key FROM main.{state}"
                f" WHERE cid IN (SELECT cid FROM {touched}))"
            )
            con.execute(f"DELETE FROM main.{state} WHERE cid IN (SELECT cid FROM {touched})")
            con.execute(f"INSERT INTO main.{table} SELECT * FROM {built}")
            con.execute(f"INSERT INTO main.{state} SELECT * FROM {built_state}")
            changes.mark_refreshed(con, self.derived_name, self.fingerprint, plan)

    def _stats(self) -> MemberStats:
        con = self.con
        flags = "".join(f", count(*) FILTER (WHERE x{i})" for i in range(len(self.fields)))
        row = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE nokey){flags} FROM main.{quote_ident(self.state)}"
        ).fetchone()
        assert row is not None
        members = self._count(f"main.{quote_ident(self.table)}")
        return MemberStats(
            customers=int(row[0]), members=members, unmatchable=int(row[1]),
            invalid={f: int(v) for f, v in zip(self.fields, row[2:], strict=True)},
        )

    def _count(self, table: str) -> int:
        return scalar_int(self.con, f"SELECT count(*) FROM {table}")


def drop_stale(con: duckdb.DuckDBPyConnection, pairs: set[tuple[str, str]]) -> list[str]:
    """Drop the kept tables (and ``_derived`` entries) of every pair not in ``pairs`` (an
    audience or destination removed from the configuration); returns the tables dropped."""
    stale = drop_tables_except(con, (MEMBERS_PREFIX, STATE_PREFIX), {t for a, d in pairs for t in kept_tables(a, d)})
    names = [f"{DERIVED_PREFIX}{a}:{d}" for a, d in sorted(pairs)]
    if "_derived" in persisted_tables(con):
        con.execute(
            "DELETE FROM _derived WHERE starts_with(name, ?) AND NOT list_contains(?::VARCHAR[], name)",
            [DERIVED_PREFIX, names],
        )
    return stale
