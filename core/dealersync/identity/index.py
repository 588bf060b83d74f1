"""The identity index: every customer normalized and hashed once per profile set, kept current.

Building a destination's members used to stage, normalize (regexes), hash and deduplicate the
audience's customers from scratch for every (audience, destination): a customer in three
audiences sent to two platforms was normalized and hashed six times, and again after any load.
The index does the per-customer work once per *profile set* (the sorted profile names of a
destination's identifiers, with the default country) and then only for the customers a load
changed; members are built from it by joins, a small connected-components pass and a sort.

Per profile set, two warehouse tables (``<t>`` = ``_identity_<16 hex of the set key>``):

``<t>``: one row per ``customers`` row (a customer id held by several rows has several, exactly
    as :func:`~dealersync.identity.build_members` always read them): ``cid``; ``rh``, a hash of
    the row's identity columns (to notice a change the change log missed); ``key``, the SHA-256
    of the row's smallest match-key token ``"<profile>:<normalized value>"`` (a member of one
    customer has it as ``member_key``); per profile ``j`` (sorted name order): ``v<j>`` the
    value as sent (SHA-256 lowercase hex for hashed profiles, plaintext otherwise), ``x<j>``
    whether a non-empty input normalized to NULL (the invalid counts), and for a match key sent
    unhashed ``t<j>``, its SHA-256. No normalized plaintext of a hashed profile is kept: the
    warehouse holds raw identifiers only in the source tables.
``<t>_shared``: ``(cid, tok)``, ``tok`` = ``"<profile>:<SHA-256 of the value>"``, for every
    match-key token more than one row holds: only these rows can join customers into one
    member, so the components pass of an audience reads its customers' rows here (and keeps the
    tokens shared *within* the audience) instead of scanning every token. A component's member
    key (the hash of its smallest *plaintext* token) is computed by deriving the match keys of
    its customers again, in temp tables: a few percent of the audience.

The set key names the tables and the entry in ``_derived`` (``identity:<set key>``); the
fingerprint stored there covers everything the rows depend on (the profiles' SQL for this
default country and ``as_of``, so a date-dependent rule such as ``meta.doby`` rebuilds when
the year turns and the others do not; the phonenumbers version; the customers columns' types;
:data:`INDEX_VERSION`). A different fingerprint rebuilds the index whole; otherwise
:func:`dealersync.changes.plan_refresh` says which customers to delete and re-derive.

No value ever appears in an error message or a log line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

import duckdb
import phonenumbers

from dealersync import changes
from dealersync.errors import ConfigError, FatalError
from dealersync.identity import phones
from dealersync.identity.region_codes import NANP_REGIONS
from dealersync.identity.profiles import (
    NormContext,
    Profile,
    get_profile,
    quote_ident,
    sql_str,
)
from dealersync.store import persisted_tables, scalar_int, transaction

if TYPE_CHECKING:
    from dealersync.identity.kept import KeptMembers

log = logging.getLogger("dealersync.identity")

#: Bump when the index's layout or derivation changes in a way its fingerprint cannot see.
INDEX_VERSION = 1


@dataclass
class MemberStats:
    """What building members found."""

    customers: int  # audience customers present in the warehouse
    members: int  # rows written: people as the platform sees them
    unmatchable: int  # customers with no valid match key (not members)
    invalid: dict[str, int]  # field -> customers whose non-empty input normalized to NULL


@dataclass
class IndexSpec:
    """One profile set, resolved against the warehouse: the SQL that derives its index rows."""

    names: list[str]  # distinct profile names, sorted: column j of the index is names[j]
    profs: list[Profile]
    region: str  # default country, ISO alpha-2 upper case
    ctx: NormContext
    exprs: list[str]  # per profile: normalized value (SQL over the staged row ``c``)
    needed: list[str]  # customers columns read
    available: dict[str, str]  # customers column -> type
    set_key: str
    fingerprint: str
    keyed: list[int] = field(default_factory=list)  # the match-key profiles' positions

    @property
    def table(self) -> str:
        return f"_identity_{self.set_key[:16]}"

    @property
    def derived_name(self) -> str:
        return f"identity:{self.set_key[:16]}"

    def column(self, name: str) -> int:
        return self.names.index(name)


def resolve(
    con: duckdb.DuckDBPyConnection,
    profile_names: list[str],
    *,
    default_country: str = "US",
    as_of: dt.date | None = None,
) -> IndexSpec:
    """The spec of the index for ``profile_names`` (ConfigError for an unknown profile, a bad
    country, or a column the warehouse lacks; FatalError when there is no customers table)."""
    names = sorted(set(profile_names))
    profs = [get_profile(n) for n in names]
    region = check_country(default_country)
    ctx = NormContext(default_country=region, as_of=as_of or dt.date.today())
    exprs = [p.sql(ctx) for p in profs]
    try:
        available = {row[0]: row[1] for row in con.execute("DESCRIBE customers").fetchall()}
    except duckdb.CatalogException:
        raise FatalError("identity: the warehouse has no customers table yet") from None
    needed: list[str] = []
    for c in [c for p in profs for c in p.columns] + sorted(ctx._columns):
        if c not in needed:
            needed.append(c)
    for c in needed:
        if c not in available:
            users = [p.name for p in profs if c in p.columns] or names
            raise ConfigError(
                f"identity profile(s) {', '.join(users)} read customers.{c}, which the warehouse lacks"
            )
    set_key = hashlib.sha256(json.dumps([names, region]).encode()).hexdigest()
    fingerprint = hashlib.sha256(
        json.dumps(
            [
                INDEX_VERSION,
                names,
                region,
                exprs,
                sorted(ctx._helpers.items()),
                sorted(ctx._phones),
                [(p.hashed, p.match_key, list(p.columns)) for p in profs],
                [(c, available[c]) for c in needed],
                phonenumbers.__version__,
            ]
        ).encode()
    ).hexdigest()
    return IndexSpec(
        names, profs, region, ctx, exprs, needed, available, set_key, fingerprint,
        keyed=[j for j, p in enumerate(profs) if p.match_key],
    )


class IdentityIndex:
    """The index of one profile set in tables ``table`` and ``table + "_shared"``.

    :meth:`refresh` brings a persistent index up to date (whole, or the changed customers);
    :meth:`build_members` writes one audience's members for given identifiers from it.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, spec: IndexSpec, *, table: str | None = None, temp: bool = False) -> None:
        self.con = con
        self.spec = spec
        self.table = table or spec.table
        self.shared = f"{self.table}_shared"
        self.temp = temp
        self.last_refresh: str | None = None  # "full", "customers" or "none" once refreshed
        self._keys_spec: IndexSpec | None = None  # the match-key profiles alone
        # This run's "hot" customers (see _note_hot): their ids, their index rows, and (built on
        # first use) their match keys normalized again; temp tables, dropped by close().
        hot = f"_dshot_{uuid.uuid4().hex[:10]}"
        self._hot_ids, self._hot_rows, self._hot_keys = f"{hot}_ids", f"{hot}_rows", f"{hot}_keys"
        self._hot: bool = False
        self._hot_keys_ready = False
        self._hot_closed = True  # every _note_hot converged within HOT_ROUNDS

    # ------------------------------------------------------------------------ refreshing
    def refresh(self) -> str:
        """Bring the index up to date with ``customers`` through the change log. Returns what
        was done: ``"full"``, ``"customers"`` or ``"none"``."""
        try:
            return self._refresh()
        except duckdb.Error as e:
            _fatal(e, f"refreshing the identity index {self.table}")

    def _refresh(self) -> str:
        con, spec = self.con, self.spec
        exists = {self.table, self.shared} <= persisted_tables(con)
        plan = changes.plan_refresh(con, spec.derived_name, spec.fingerprint, exists=exists)
        t0, c0 = time.perf_counter(), time.process_time()
        kind = plan.kind
        n = self._apply(kind, plan.changed_sql if kind == "customers" else None)
        if kind != "full":
            # a load that did not record its changes must not leave the index stale: compare
            # the rows' hashes (one scan) and re-derive the customers that differ
            missed = self._unrecorded()
            if missed:
                log.warning(
                    "identity index %s: %d customers changed without a change record; re-deriving them",
                    self.table, missed,
                )
                try:
                    # recorded, so that what is derived from the index (kept members) sees them too
                    changes.record_changes(con, f"SELECT customer_id FROM {self._missed}")
                    n += self._apply("customers", f"SELECT customer_id FROM {self._missed}")
                finally:
                    _drop(con, [self._missed])
                kind = "customers"
        if kind != "none":
            changes.mark_refreshed(con, spec.derived_name, spec.fingerprint, plan)
        if kind == "customers":
            self._load_hot()
        log.info(
            "identity index %s (%s): %s refresh, %d customer rows re-derived in %.2f s (%.2f s CPU)",
            self.table, ", ".join(spec.names), kind, n,
            time.perf_counter() - t0, time.process_time() - c0,
        )
        self.last_refresh = kind
        return kind

    def _unrecorded(self) -> int:
        """How many customers' rows differ from what the index was derived from (0: none; then
        the ids are in temp table ``self._missed``). One aggregate scan when nothing differs."""
        con, spec, idx = self.con, self.spec, quote_ident(self.table)
        now = f"SELECT cu.customer_id AS cid, {row_hash_sql(spec)} AS rh FROM customers AS cu WHERE cu.customer_id IS NOT NULL"
        a = con.execute(f"SELECT count(*), coalesce(sum(rh), 0) FROM ({now})").fetchone()
        b = con.execute(f"SELECT count(*), coalesce(sum(rh), 0) FROM {idx}").fetchone()
        if a == b:
            return 0
        self._missed = f"_dsix_{uuid.uuid4().hex[:10]}_missed"
        con.execute(
            f"CREATE TEMP TABLE {self._missed} AS SELECT DISTINCT coalesce(a.cid, b.cid) AS customer_id"
            f" FROM (SELECT cid, rh, count(*) AS n FROM ({now}) GROUP BY ALL) AS a"
            f" FULL OUTER JOIN (SELECT cid, rh, count(*) AS n FROM {idx} GROUP BY ALL) AS b"
            " ON a.cid = b.cid AND a.rh = b.rh AND a.n = b.n WHERE a.cid IS NULL OR b.cid IS NULL"
        )
        row = con.execute(f"SELECT count(*) FROM {self._missed}").fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------------ hot customers
    #: Rounds of following shared tokens from the changed customers (a cap: a customer the
    #: rounds miss is read from the index, as any other; the cache only saves the scan).
    HOT_ROUNDS = 6

    def _note_hot(self, t_ids: str) -> None:
        """Add to this run's hot customers the customers of ``t_ids`` and everyone linked to
        them through shared tokens (transitively, up to :attr:`HOT_ROUNDS`), as ``shared`` is
        now. Called before and after a refresh changes the index, so that both the old links
        and the new ones are in: the customers whose members a kept (audience, destination)
        may rebuild after this change are then (nearly always) hot, and their rows are read
        from the small hot table instead of a scan of the whole index per audience."""
        con, shared, hot = self.con, quote_ident(self.shared), self._hot_ids
        con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {hot} (cid VARCHAR)")
        con.execute(f"INSERT INTO {hot} SELECT customer_id FROM {t_ids} EXCEPT SELECT cid FROM {hot}")
        frontier = f"SELECT customer_id FROM {t_ids}"
        for _ in range(self.HOT_ROUNDS):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {hot}_next AS SELECT DISTINCT b.cid FROM {shared} AS a"
                f" JOIN {shared} AS b ON b.tok = a.tok WHERE a.cid IN ({frontier})"
                f" AND b.cid NOT IN (SELECT cid FROM {hot})"
            )
            if not scalar_int(con, f"SELECT count(*) FROM {hot}_next"):
                break
            con.execute(f"INSERT INTO {hot} SELECT cid FROM {hot}_next")
            con.execute(f"CREATE OR REPLACE TEMP TABLE {hot}_front AS SELECT cid FROM {hot}_next")
            frontier = f"SELECT cid FROM {hot}_front"
        else:
            self._hot_closed = False  # links left unfollowed
        _drop(con, [f"{hot}_next", f"{hot}_front"])

    def closed_hot(self) -> str | None:
        """The temp table of this run's hot customer ids (``cid``) when it is *closed*: every
        customer linked to a hot customer by a token shared now is hot (a customer the refresh
        did not change has the same links before and after it, and the closure before the
        refresh followed them). None when there are no hot customers or a closure was cut
        short. Links that existed only before (old members) are for the caller to check."""
        return self._hot_ids if self._hot and self._hot_closed else None

    def _load_hot(self) -> None:
        """The hot customers' index rows, read once (after the refresh is complete)."""
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {self._hot_rows} AS SELECT * FROM {quote_ident(self.table)}"
            f" WHERE cid IN (SELECT cid FROM {self._hot_ids})"
        )
        self._hot, self._hot_keys_ready = True, False

    def close(self) -> None:
        """Drop this run's temp tables (the hot customers)."""
        _drop(self.con, [self._hot_keys, self._hot_rows, self._hot_ids])
        self._hot = self._hot_keys_ready = False

    def _read_rows(self, select: str, ids: str, tmp: str, created: list[str]) -> str:
        """Temp table of ``select`` (columns of alias ``x``) over the index rows of the
        customers in temp table ``ids`` (``customer_id``): from the hot rows when they hold
        them all, else the rest from the index."""
        con, t_rows, idx = self.con, f"{tmp}_rows", quote_ident(self.table)
        con.execute(
            f"CREATE TEMP TABLE {t_rows} AS SELECT {select} FROM {self._hot_rows if self._hot else idx} AS x"
            f" WHERE x.cid IN (SELECT customer_id FROM {ids})"
        )
        created.append(t_rows)
        if self._hot:
            cold = f"SELECT customer_id FROM {ids} WHERE customer_id NOT IN (SELECT cid FROM {self._hot_ids})"
            if scalar_int(con, f"SELECT count(*) FROM ({cold})"):
                con.execute(f"INSERT INTO {t_rows} SELECT {select} FROM {idx} AS x WHERE x.cid IN ({cold})")
        return t_rows

    def build_for(self, customer_ids_sql: str, params: list | None = None) -> None:
        """Fill a fresh index with the customers of ``customer_ids_sql`` only (a temp index)."""
        self._apply("full", customer_ids_sql, params)

    def _apply(self, kind: str, ids_sql: str | None, params: list | None = None) -> int:
        """``full``: (re)create both tables from the customers of ``ids_sql`` (all when None);
        ``customers``: re-derive the customers of ``ids_sql``; ``none``: nothing."""
        if kind == "none":
            return 0
        con, spec = self.con, self.spec
        tmp = f"_dsix_{uuid.uuid4().hex[:10]}"
        created: list[str] = []
        idx, shared = quote_ident(self.table), quote_ident(self.shared)
        temp = "TEMP " if self.temp else ""
        try:
            if kind == "full":
                if ids_sql is None:
                    where = "cu.customer_id IS NOT NULL"
                else:
                    where = f"cu.customer_id IN (SELECT customer_id FROM ({ids_sql}))"
                rows_sql = _derive(con, spec, where, params, tmp, created)
                with transaction(con):  # the rows and their shared tokens, or neither
                    con.execute(f"CREATE OR REPLACE {temp}TABLE {idx} AS {rows_sql}")
                    toks = _tokens_sql(spec, idx)
                    con.execute(
                        f"CREATE OR REPLACE {temp}TABLE {shared} AS WITH k AS ({toks})"
                        " SELECT cid, tok FROM k WHERE tok IN (SELECT tok FROM k GROUP BY tok HAVING count(*) > 1)"
                    )
                n = con.execute(f"SELECT count(*) FROM {idx}").fetchone()
                return int(n[0]) if n else 0
            assert ids_sql is not None
            t_ids = f"{tmp}_ids"
            con.execute(f"CREATE TEMP TABLE {t_ids} AS SELECT DISTINCT customer_id FROM ({ids_sql})", params or [])
            created.append(t_ids)
            in_ids = f"IN (SELECT customer_id FROM {t_ids})"
            self._note_hot(t_ids)  # with the links they had
            rows_sql = _derive(con, spec, f"cu.customer_id {in_ids}", None, tmp, created)
            # the tokens whose sharing may change: the changed customers' shared tokens before,
            # and all their tokens after (a token held by one row stays unshared when that row
            # leaves; one a changed row now holds may have become shared)
            t_tok = f"{tmp}_tok"
            con.execute(f"CREATE TEMP TABLE {t_tok} AS SELECT tok FROM {shared} WHERE cid {in_ids}")
            created.append(t_tok)
            t_new = f"{tmp}_new"
            con.execute(f"CREATE TEMP TABLE {t_new} AS {rows_sql}")
            created.append(t_new)
            con.execute(f"INSERT INTO {t_tok} SELECT tok FROM ({_tokens_sql(spec, t_new)}) AS k")
            # one transaction: an interruption between the shared tokens' delete and insert
            # would lose links no later refresh looks at again
            with transaction(con):
                con.execute(f"DELETE FROM {idx} WHERE cid {in_ids}")
                con.execute(f"INSERT INTO {idx} SELECT * FROM {t_new}")
                con.execute(f"DELETE FROM {shared} WHERE tok IN (SELECT tok FROM {t_tok})")
                con.execute(
                    f"INSERT INTO {shared} WITH k AS ({_tokens_sql(spec, idx, t_tok)})"
                    " SELECT cid, tok FROM k WHERE tok IN (SELECT tok FROM k GROUP BY tok HAVING count(*) > 1)"
                )
            self._note_hot(t_ids)  # with the links they have now
            n = con.execute(f"SELECT count(*) FROM {t_new}").fetchone()
            return int(n[0]) if n else 0
        except duckdb.Error as e:
            _fatal(e, f"refreshing the identity index {self.table}")
        finally:
            _drop(con, created)

    def drop(self) -> None:
        for t in (self.shared, self.table):
            try:
                self.con.execute(f"DROP TABLE IF EXISTS {quote_ident(t)}")
            except duckdb.Error:
                pass

    # ------------------------------------------------------------------------ members
    def build_members(
        self,
        customer_ids_sql: str,
        identifiers: Mapping[str, str],
        *,
        target: str,
        params: list | None = None,
        temp: bool = False,
        state: str | None = None,
        ordered: bool = True,
    ) -> MemberStats:
        """Create (or replace) table ``target`` (a temp table when ``temp``) with the members of
        the customers returned by ``customer_ids_sql`` (see :func:`dealersync.identity.build_members`
        for the columns).

        Joins only: the audience's index rows, the components of its customers that share a
        token *within the audience*, one row per member, ordered by ``member_key`` unless not
        ``ordered`` (sorting the wide rows is a third of the build at a million customers).

        With ``state``, also creates table ``state`` (a temp table when ``temp``): per index row
        of those customers ``cid``, ``nokey`` (no valid match key), ``x<i>`` (field ``i``'s input
        was invalid) and the ``member_key`` of the member it joined (NULL when ``nokey``); what
        :class:`dealersync.identity.KeptMembers` keeps to update members incrementally."""
        from dealersync.identity.members import (
            check_identifiers,
            check_target,
            quote_target,
        )

        fields, profs = check_identifiers(identifiers)
        check_target(target)
        missing = [p.name for p in profs if p.name not in self.spec.names]
        if missing:
            raise ConfigError(f"identity index {self.table} has no profile {', '.join(missing)}")
        cols = [self.spec.column(p.name) for p in profs]
        con, shared = self.con, quote_ident(self.shared)
        tmp = f"_dsid_{uuid.uuid4().hex[:10]}"
        t_ids, t_edge = f"{tmp}_ids", f"{tmp}_edge"
        created: list[str] = []
        try:
            con.execute(
                f"CREATE TEMP TABLE {t_ids} AS SELECT DISTINCT customer_id FROM ({customer_ids_sql})",
                params or [],
            )
            created.append(t_ids)
            # the audience's index rows, read once: every later step works on these (a scan of
            # the index costs its size, not the audience's)
            used = sorted(set(cols))
            t_rows = self._read_rows("x.cid, x.key" + "".join(f", x.v{j}, x.x{j}" for j in used), t_ids, tmp, created)
            stats_sql = ", ".join(
                ["count(*)", "count(*) FILTER (WHERE r.key IS NULL)"]
                + [f"count(*) FILTER (WHERE r.x{j})" for j in cols]
            )
            row = con.execute(f"SELECT {stats_sql} FROM {t_rows} AS r").fetchone()
            assert row is not None
            n_customers, n_unmatchable = int(row[0]), int(row[1])
            invalid = {f: int(v) for f, v in zip(fields, row[2:], strict=True)}

            # customers sharing a token within the audience: connected components
            con.execute(
                f"CREATE TEMP TABLE {t_edge} AS WITH k AS (SELECT s.cid, s.tok FROM {shared} AS s"
                f" WHERE s.cid IN (SELECT cid FROM {t_rows}))"
                " SELECT cid, tok FROM k WHERE tok IN (SELECT tok FROM k GROUP BY tok HAVING count(*) > 1)"
            )
            created.append(t_edge)
            t_label = components(con, t_edge, tmp, created)
            # a component's key is the hash of its smallest plaintext token, which the index
            # does not keep: the match keys of the (few) customers in components, derived again
            t_keys = self._component_keys(t_label, tmp, created)

            # one row per member: a customer sharing nothing is its own member (its values and
            # key were hashed in the index); a component takes its smallest token's hash and,
            # per field, its smallest customer id's valid value
            singles = ", ".join(f"r.v{j} AS {quote_ident(f)}" for f, j in zip(fields, cols, strict=True))
            firsts = ", ".join(
                f"arg_min(r.v{j}, r.cid) FILTER (WHERE r.v{j} IS NOT NULL) AS {quote_ident(f)}"
                for f, j in zip(fields, cols, strict=True)
            )
            con.execute(
                f"CREATE OR REPLACE {'TEMP ' if temp else ''}TABLE {quote_target(target)} AS SELECT * FROM ("
                f" SELECT r.key AS member_key, [r.cid] AS customer_ids, {singles}"
                f" FROM {t_rows} AS r WHERE r.key IS NOT NULL"
                f" AND r.cid NOT IN (SELECT cid FROM {t_label})"
                " UNION ALL"
                f" SELECT k.member_key, g.* EXCLUDE (lbl) FROM ("
                f" SELECT l.lbl, list_sort(list_distinct(list(r.cid))) AS customer_ids, {firsts}"
                f" FROM {t_rows} AS r JOIN {t_label} AS l ON l.cid = r.cid GROUP BY l.lbl) AS g"
                f" JOIN {t_keys} AS k ON k.lbl = g.lbl"
                f"){' ORDER BY member_key' if ordered else ''}"
            )
            if state is not None:
                flags = "".join(f", r.x{j} AS x{i}" for i, j in enumerate(cols))
                con.execute(
                    f"CREATE OR REPLACE {'TEMP ' if temp else ''}TABLE {quote_target(state)} AS"
                    f" SELECT r.cid, r.key IS NULL AS nokey{flags},"
                    " CASE WHEN r.key IS NOT NULL THEN coalesce(k.member_key, r.key) END AS member_key"
                    f" FROM {t_rows} AS r LEFT JOIN {t_label} AS l ON l.cid = r.cid"
                    f" LEFT JOIN {t_keys} AS k ON k.lbl = l.lbl"
                )
            members = con.execute(f"SELECT count(*) FROM {quote_target(target)}").fetchone()
            assert members is not None
            stats = MemberStats(
                customers=n_customers, members=int(members[0]), unmatchable=n_unmatchable, invalid=invalid
            )
            log.info(
                "identity: %d customers -> %d members (%d unmatchable) into %s",
                stats.customers, stats.members, stats.unmatchable, target,
            )
            return stats
        except duckdb.Error as e:
            _fatal(e, f"building members into {target}")
        finally:
            _drop(con, created)


    def _component_keys(self, t_label: str, tmp: str, created: list[str]) -> str:
        """Temp table ``(lbl, member_key)``: per component of ``t_label``, the SHA-256 of its
        smallest match-key token, from the match keys of its customers derived again (the
        Python phone path runs for their international numbers only)."""
        if self._keys_spec is None:
            spec = self.spec
            self._keys_spec = resolve(
                self.con, [spec.names[j] for j in spec.keyed],
                default_country=spec.region, as_of=spec.ctx.as_of,
            )
        kspec, con = self._keys_spec, self.con
        t_keys = f"{tmp}_keys"
        n = con.execute(f"SELECT count(*) FROM {t_label}").fetchone()
        if not n or not n[0]:
            con.execute(f"CREATE TEMP TABLE {t_keys} AS SELECT lbl, lbl AS member_key FROM {t_label} LIMIT 0")
            created.append(t_keys)
            return t_keys
        norm = f"{tmp}_k_norm"
        if self._hot:
            if not self._hot_keys_ready:
                # the hot customers' match keys, normalized once this run (the components of
                # the audiences a change touches are nearly always among them)
                made: list[str] = []
                try:
                    _derive(con, kspec, f"cu.customer_id IN (SELECT cid FROM {self._hot_ids})", None, f"{self._hot_keys}_d", made)
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {self._hot_keys} AS SELECT * FROM {self._hot_keys}_d_norm")
                finally:
                    _drop(con, made)
                self._hot_keys_ready = True
            cold = f"SELECT cid FROM {t_label} WHERE cid NOT IN (SELECT cid FROM {self._hot_ids})"
            if scalar_int(con, f"SELECT count(*) FROM ({cold})"):
                _derive(con, kspec, f"cu.customer_id IN ({cold})", None, f"{tmp}_k", created)
                norm = f"(SELECT * FROM {self._hot_keys} UNION ALL SELECT * FROM {tmp}_k_norm)"
            else:
                norm = self._hot_keys
        else:
            _derive(con, kspec, f"cu.customer_id IN (SELECT cid FROM {t_label})", None, f"{tmp}_k", created)
        con.execute(
            f"CREATE TEMP TABLE {t_keys} AS SELECT l.lbl, sha256(min({min_token_sql(kspec, 'n')})) AS member_key"
            f" FROM {norm} AS n JOIN {t_label} AS l ON l.cid = n.cid GROUP BY l.lbl"
        )
        created.append(t_keys)
        return t_keys


class IdentityIndexes:
    """The identity indexes of one run: each profile set's index is refreshed once, the first
    time an (audience, destination) needs it, and then serves every audience."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, default_country: str = "US", as_of: dt.date | None = None) -> None:
        self.con = con
        self.default_country = default_country
        self.as_of = as_of or dt.date.today()
        self._indexes: dict[tuple[str, ...], IdentityIndex] = {}

    def index(self, identifiers: Mapping[str, str]) -> IdentityIndex:
        """The up-to-date index of the profiles ``identifiers`` names."""
        from dealersync.identity.members import check_identifiers

        _, profs = check_identifiers(identifiers)
        key = tuple(sorted({p.name for p in profs}))
        known = self._indexes.get(key)
        if known is None:
            spec = resolve(self.con, list(key), default_country=self.default_country, as_of=self.as_of)
            known = IdentityIndex(self.con, spec)
            known.refresh()
            self._indexes[key] = known
        return known

    def build_members(
        self,
        customer_ids_sql: str,
        identifiers: Mapping[str, str],
        *,
        target: str,
        params: list | None = None,
        temp: bool = False,
    ) -> MemberStats:
        return self.index(identifiers).build_members(
            customer_ids_sql, identifiers, target=target, params=params, temp=temp
        )

    def close(self) -> None:
        """Drop the run's temp tables of every index."""
        for index in self._indexes.values():
            index.close()

    def kept(self, identifiers: Mapping[str, str], *, audience: str, destination: str) -> KeptMembers:
        """The kept members of (audience, destination), on the up-to-date index (call
        :meth:`KeptMembers.update` to bring them up to date)."""
        from dealersync.identity.kept import KeptMembers

        return KeptMembers(self.index(identifiers), identifiers, audience=audience, destination=destination)


# ---------------------------------------------------------------------------- the SQL


def _derive(
    con: duckdb.DuckDBPyConnection,
    spec: IndexSpec,
    where: str,
    params: list | None,
    tmp: str,
    created: list[str],
) -> str:
    """Stage and normalize the ``customers`` rows matching ``where`` (over alias ``cu``) into
    temp tables (the last, ``<tmp>_norm``, holds ``cid, rh, f<j>, i<j>``); returns the SELECT
    of their index rows (it hashes: run it once)."""
    available, ctx = spec.available, spec.ctx
    t_cust, t_ph, t_norm = f"{tmp}_cust", f"{tmp}_ph", f"{tmp}_norm"
    # 1. the rows, text trimmed of spaces (each profile deals with other whitespace), NULL when
    #    empty, plus the helper columns several profiles read (phone digits, country, ...),
    #    computed once here: DuckDB inlines a subquery's expressions into every reference, so
    #    staging through a table keeps each regex at once per row.
    cols = []
    for c in spec.needed:
        if available[c].upper().startswith("VARCHAR"):
            cols.append(f"nullif(trim(cu.{quote_ident(c)}), '') AS {quote_ident(c)}")
        else:
            cols.append(f"cu.{quote_ident(c)}")
    base = (
        f"SELECT cu.customer_id AS cid, {row_hash_sql(spec)} AS rh, {', '.join(cols)}"
        f" FROM customers AS cu WHERE {where}"
    )
    phone_cols = sorted(ctx._phones)
    nanp = spec.region in NANP_REGIONS
    derived = [phones.prepare_sql(c) for c in phone_cols]
    derived += [f"{e} AS {quote_ident(k)}" for k, e in ctx._helpers.items()]
    con.execute(
        f"CREATE TEMP TABLE {t_cust} AS SELECT c.*{''.join(', ' + d for d in derived)} FROM ({base}) AS c",
        params or [],
    )
    created.append(t_cust)

    # 2. numbers SQL cannot decide (international, country code not 1): Python, distinct only
    joins, phone_cols_sql = [], []
    if phone_cols:
        staged = {c: phones.stage_sql(c, nanp_default=nanp, prefix="b.") for c in phone_cols}
        union = " UNION ".join(
            f"SELECT k FROM (SELECT {staged[c][1]} AS k FROM {t_cust} AS b) WHERE k IS NOT NULL"
            for c in phone_cols
        )
        keys = [r[0] for r in con.execute(union).fetchall()]
        if keys:
            values = [phones.e164_digits(k, spec.region) for k in keys]
            con.execute(
                f"CREATE TEMP TABLE {t_ph} AS SELECT unnest(?::VARCHAR[]) AS k, unnest(?::VARCHAR[]) AS v",
                [keys, values],
            )
            created.append(t_ph)
            log.debug("identity: %d distinct phone numbers parsed outside SQL", len(keys))
        for i, c in enumerate(phone_cols):
            fast, key = staged[c]
            if keys:
                joins.append(f"LEFT JOIN {t_ph} AS p{i} ON p{i}.k = ({key})")
                fast = f"coalesce({fast}, p{i}.v)"
            phone_cols_sql.append(f"{fast} AS {quote_ident('__phone__' + c)}")
    inner = f"SELECT b.*{''.join(', ' + s for s in phone_cols_sql)} FROM {t_cust} AS b {' '.join(joins)}"

    # 3. per row: normalized values and "had input" flags
    sel = ["c.cid", "c.rh"]
    sel += [f"({e}) AS f{j}" for j, e in enumerate(spec.exprs)]
    for j, p in enumerate(spec.profs):
        present = " OR ".join(f"c.{quote_ident(c)} IS NOT NULL" for c in input_columns(p))
        sel.append(f"({present}) AS i{j}")
    con.execute(f"CREATE TEMP TABLE {t_norm} AS SELECT {', '.join(sel)} FROM ({inner}) AS c")
    created.append(t_norm)

    # 4. the index row (no plaintext: the warehouse keeps none outside the source tables): the
    #    hash of the smallest token, per profile the value as sent (hashed here, once) and the
    #    invalid flag, per unhashed match key the value's hash (tokens compare by hash)
    out = ["n.cid", "n.rh", f"sha256({min_token_sql(spec, 'n')}) AS key"]
    joins = []
    for j, p in enumerate(spec.profs):
        if p.hashed and not p.match_key:
            # attributes (names, city, state, zip, country, birth year) repeat a lot: hash each
            # distinct value once and join it back (cheaper than a SHA-256 per row)
            t_h = f"{tmp}_h{j}"
            con.execute(
                f"CREATE TEMP TABLE {t_h} AS SELECT f, sha256(f) AS h FROM"
                f" (SELECT DISTINCT f{j} AS f FROM {t_norm} WHERE f{j} IS NOT NULL)"
            )
            created.append(t_h)
            joins.append(f" LEFT JOIN {t_h} AS h{j} ON h{j}.f = n.f{j}")
            out.append(f"h{j}.h AS v{j}")
        else:
            out.append(f"{'sha256(n.f' + str(j) + ')' if p.hashed else 'n.f' + str(j)} AS v{j}")
        out.append(f"(n.f{j} IS NULL AND n.i{j}) AS x{j}")
        if p.match_key and not p.hashed:
            out.append(f"sha256(n.f{j}) AS t{j}")
    return f"SELECT {', '.join(out)} FROM {t_norm} AS n{''.join(joins)}"


def min_token_sql(spec: IndexSpec, alias: str) -> str:
    """The row's smallest match-key token ``"<profile>:<normalized value>"`` (plaintext) over
    the normalized columns ``f<j>`` of ``alias``; NULL when it has none."""
    tokens = [f"{sql_str(spec.names[j] + ':')} || {alias}.f{j}" for j in spec.keyed]
    return tokens[0] if len(tokens) == 1 else f"least({', '.join(tokens)})"


def token_hash_sql(spec: IndexSpec, j: int) -> str:
    """Index column holding match key ``j``'s value hash."""
    return f"v{j}" if spec.profs[j].hashed else f"t{j}"


def row_hash_sql(spec: IndexSpec) -> str:
    """A 64-bit hash of a ``customers`` row (alias ``cu``) over the columns the profiles read:
    what the index compares to notice a change the change log missed."""
    cols = ["cu.customer_id", *(f"cu.{quote_ident(c)}" for c in spec.needed)]
    return f"hash({', '.join(cols)})"


def _tokens_sql(spec: IndexSpec, idx: str, only: str | None = None) -> str:
    """``(cid, tok)`` of every match-key value of index ``idx``, one per row and profile, the
    token being ``"<profile>:<the value's SHA-256>"``; with ``only`` (a table of ``tok``), just
    those tokens."""
    parts = []
    for j in spec.keyed:
        prefix = sql_str(spec.names[j] + ":")
        h = token_hash_sql(spec, j)
        cond = f"{h} IS NOT NULL"
        if only is not None:
            cond = (
                f"{h} IN (SELECT substr(tok, {len(spec.names[j]) + 2}) FROM {only}"
                f" WHERE starts_with(tok, {prefix}))"
            )
        parts.append(f"SELECT cid, {prefix} || {h} AS tok FROM {idx} WHERE {cond}")
    return " UNION ALL ".join(parts)


def components(con: duckdb.DuckDBPyConnection, t_edge: str, tmp: str, created: list[str]) -> str:
    """Label every customer of ``t_edge`` (cid, tok) with the smallest customer id of its
    connected component. Min-label propagation through the shared tokens, with pointer jumping
    (a label takes its own label's label), until no label changes. Returns the label table."""
    t_label = f"{tmp}_label"
    con.execute(f"CREATE TEMP TABLE {t_label} AS SELECT DISTINCT cid, cid AS lbl FROM {t_edge}")
    created.append(t_label)
    t_next = f"{tmp}_next"
    rounds = 0
    while True:
        rounds += 1
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {t_next} AS"
            f" WITH tl AS (SELECT e.tok, min(l.lbl) AS lbl FROM {t_edge} AS e"
            f"   JOIN {t_label} AS l ON l.cid = e.cid GROUP BY e.tok),"
            f" cl AS (SELECT e.cid, min(tl.lbl) AS lbl FROM {t_edge} AS e"
            f"   JOIN tl ON tl.tok = e.tok GROUP BY e.cid)"
            f" SELECT a.cid, least(a.lbl, b.lbl) AS lbl FROM cl AS a JOIN cl AS b ON b.cid = a.lbl"
        )
        if t_next not in created:
            created.append(t_next)
        changed = con.execute(
            f"SELECT count(*) FROM {t_next} AS n JOIN {t_label} AS l ON l.cid = n.cid WHERE n.lbl <> l.lbl"
        ).fetchone()
        con.execute(f"DROP TABLE {t_label}")
        con.execute(f"ALTER TABLE {t_next} RENAME TO {t_label.split('.')[-1]}")
        if not changed or changed[0] == 0:
            break
    log.debug("identity: components converged in %d rounds", rounds)
    return t_label


def input_columns(p: Profile) -> tuple[str, ...]:
    # country only qualifies another column (zip, state); it is not that field's input
    own = tuple(c for c in p.columns if c != "country")
    return own or p.columns


def check_country(default_country: str) -> str:
    region = (default_country or "").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            f"default country {default_country!r} is not an ISO 3166-1 alpha-2 code (e.g. US)"
        )
    return region


def _fatal(e: duckdb.Error, what: str) -> NoReturn:
    """Raise ``e`` as a FatalError. Conversion and invalid-input errors can quote a row's value:
    those keep only their type (and no chained cause)."""
    if isinstance(e, (duckdb.ConversionException, duckdb.InvalidInputException)):
        raise FatalError(f"identity: {what} failed ({type(e).__name__})") from None
    raise FatalError(f"identity: {what} failed: {e}") from e


def _drop(con: duckdb.DuckDBPyConnection, created: list[str]) -> None:
    for t in reversed(created):
        try:
            con.execute(f"DROP TABLE IF EXISTS {t}")
        except duckdb.Error:  # e.g. an aborted transaction: the temp table dies with it
            pass
