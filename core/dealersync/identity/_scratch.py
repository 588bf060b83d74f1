"""The member building of before the identity index, kept as the reference (its own staging,
normalizing and hashing; the checks and the components pass are the shared ones).

Tests (and benchmarks) check that :func:`dealersync.identity.build_members` and the index a
sync uses give byte-for-byte the tables :func:`build_members_from_scratch` gives. Not used by
the engine.

Member building: the audience's customers -> normalized, hashed, deduplicated members. All SQL.

A member is a person as the platform sees it: customers sharing any match-key value (the same
normalized email or phone under the destination's profiles) are one member, transitively
(connected components, by min-label propagation over the customers that share a value).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping

import duckdb

from dealersync.errors import ConfigError, FatalError
from dealersync.identity import phones
from dealersync.identity.region_codes import NANP_REGIONS
from dealersync.identity.index import MemberStats, check_country, components, input_columns
from dealersync.identity.members import check_identifiers, check_target, quote_target
from dealersync.identity.profiles import (
    NormContext,
    quote_ident,
    sql_str,
)

log = logging.getLogger("dealersync.identity.scratch")


def build_members_from_scratch(
    con: duckdb.DuckDBPyConnection,
    customer_ids_sql: str,
    identifiers: Mapping[str, str],
    *,
    target: str,
    default_country: str = "US",
    params: list | None = None,
    as_of: dt.date | None = None,
) -> MemberStats:
    """Create (or replace) table ``target``: one row per member, ordered by ``member_key``.

    ``customer_ids_sql`` is a SELECT returning a ``customer_id`` column (``?`` placeholders bound
    from ``params``); the customers are read from the warehouse table ``customers``.
    ``identifiers`` maps output field -> profile name, e.g. ``{"email": "meta.email"}``.

    Columns: ``member_key VARCHAR`` (SHA-256 hex of the member's smallest match-key token,
    ``"<profile>:<normalized value>"``: stable while the member's identifiers do not change),
    ``customer_ids VARCHAR[]`` (sorted), then one column per field in ``identifiers`` order
    (SHA-256 lowercase hex for hashed profiles, plain otherwise). Each field takes the value of
    the member's smallest customer id that has a valid one.

    Error messages and logs never carry a raw value.
    """
    fields, profs = check_identifiers(identifiers)
    check_target(target)
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
            users = [p.name for p in profs if c in p.columns] or sorted(set(identifiers.values()))
            raise ConfigError(
                f"identity profile(s) {', '.join(users)} read customers.{c}, which the warehouse lacks"
            )

    tmp = f"_dsid_{uuid.uuid4().hex[:10]}"
    t_cust, t_ph, t_norm, t_edge, t_mem = (
        f"{tmp}_{s}" for s in ("cust", "ph", "norm", "edge", "mem")
    )
    created: list[str] = []
    try:
        # 1. the audience's customers, text trimmed of spaces (each profile deals with other
        #    whitespace), NULL when empty, plus the helper columns several profiles read (phone
        #    digits, country, ...), computed once here: DuckDB inlines a subquery's expressions
        #    into every reference, so staging through a table keeps each regex at once per row.
        cols = []
        for c in needed:
            if available[c].upper().startswith("VARCHAR"):
                cols.append(f"nullif(trim(cu.{quote_ident(c)}), '') AS {quote_ident(c)}")
            else:
                cols.append(f"cu.{quote_ident(c)}")
        base = (
            f"SELECT cu.customer_id AS cid, {', '.join(cols)} FROM customers AS cu"
            f" WHERE cu.customer_id IN (SELECT customer_id FROM ({customer_ids_sql}))"
        )
        phone_cols = sorted(ctx._phones)
        nanp = region in NANP_REGIONS
        derived = [phones.prepare_sql(c) for c in phone_cols]
        derived += [f"{e} AS {quote_ident(k)}" for k, e in ctx._helpers.items()]
        con.execute(
            f"CREATE TEMP TABLE {t_cust} AS SELECT c.*{''.join(', ' + d for d in derived)}"
            f" FROM ({base}) AS c",
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
                values = [phones.e164_digits(k, region) for k in keys]
                con.execute(
                    f"CREATE TEMP TABLE {t_ph} AS"
                    " SELECT unnest(?::VARCHAR[]) AS k, unnest(?::VARCHAR[]) AS v",
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

        # 3. per customer: normalized values, "had input" flags, smallest match-key token
        sel = ["c.cid"]
        for i, (p, e) in enumerate(zip(profs, exprs, strict=True)):
            sel.append(f"({e}) AS f{i}")
        for i, p in enumerate(profs):
            present = " OR ".join(f"c.{quote_ident(c)} IS NOT NULL" for c in input_columns(p))
            sel.append(f"({present}) AS i{i}")
        norm_inner = f"SELECT {', '.join(sel)} FROM ({inner}) AS c"
        keyed = [i for i, p in enumerate(profs) if p.match_key]
        tokens = [f"{sql_str(profs[i].name + ':')} || n.f{i}" for i in keyed]
        tok = tokens[0] if len(tokens) == 1 else f"least({', '.join(tokens)})"
        con.execute(f"CREATE TEMP TABLE {t_norm} AS {norm_inner}")
        created.append(t_norm)

        stats_sql = ", ".join(
            ["count(*)", f"count(*) FILTER (WHERE {tok} IS NULL)"]
            + [f"count(*) FILTER (WHERE f{i} IS NULL AND i{i})" for i in range(len(profs))]
        )
        row = con.execute(f"SELECT {stats_sql} FROM {t_norm} AS n").fetchone()
        assert row is not None
        n_customers, n_unmatchable = int(row[0]), int(row[1])
        invalid = {f: int(v) for f, v in zip(fields, row[2:], strict=True)}

        # 4. customers sharing a match-key value: connected components
        keys_sql = " UNION ALL ".join(
            f"SELECT cid, {sql_str(profs[i].name + ':')} || f{i} AS tok FROM {t_norm} WHERE f{i} IS NOT NULL"
            for i in keyed
        )
        con.execute(
            f"CREATE TEMP TABLE {t_edge} AS WITH k AS ({keys_sql})"
            " SELECT cid, tok FROM k WHERE tok IN (SELECT tok FROM k GROUP BY tok HAVING count(*) > 1)"
        )
        created.append(t_edge)
        t_label = components(con, t_edge, tmp, created)

        # 5. one row per member
        hashed = [p.hashed for p in profs]
        # Sorted first, hashed after, in two statements: the sort then moves short plaintext,
        # not 64-char digests, and the hashing scans a table, which DuckDB runs in parallel
        # while keeping the rows in order (a projection straight over ORDER BY runs on one
        # thread). Each field: the smallest customer id's valid value.
        plain = ", ".join(f"n.f{i}" for i in range(len(profs)))
        firsts = ", ".join(
            f"arg_min(n.f{i}, n.cid) FILTER (WHERE n.f{i} IS NOT NULL) AS f{i}"
            for i in range(len(profs))
        )
        con.execute(
            f"CREATE TEMP TABLE {t_mem} AS SELECT * FROM ("
            f" SELECT sha256({tok}) AS member_key, [n.cid] AS customer_ids, {plain}"
            f" FROM {t_norm} AS n WHERE {tok} IS NOT NULL"
            f" AND n.cid NOT IN (SELECT cid FROM {t_label})"
            f" UNION ALL"
            f" SELECT sha256(min({tok})) AS member_key, list_sort(list_distinct(list(n.cid)))"
            f" AS customer_ids, {firsts}"
            f" FROM {t_norm} AS n JOIN {t_label} AS l ON l.cid = n.cid GROUP BY l.lbl"
            f") ORDER BY member_key"
        )
        created.append(t_mem)
        for t in (t_norm, t_label, t_edge):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        ordered = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
        keep_order = "" if ordered and ordered[0] else " ORDER BY s.member_key"
        outs = ", ".join(
            f"{'sha256(s.f' + str(i) + ')' if hashed[i] else 's.f' + str(i)} AS {quote_ident(fields[i])}"
            for i in range(len(profs))
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {quote_target(target)} AS"
            f" SELECT s.member_key, s.customer_ids, {outs} FROM {t_mem} AS s{keep_order}"
        )
        members = con.execute(f"SELECT count(*) FROM {quote_target(target)}").fetchone()
        assert members is not None
        stats = MemberStats(
            customers=n_customers,
            members=int(members[0]),
            unmatchable=n_unmatchable,
            invalid=invalid,
        )
        log.info(
            "identity: %d customers -> %d members (%d unmatchable) into %s",
            stats.customers,
            stats.members,
            stats.unmatchable,
            target,
        )
        return stats
    except duckdb.Error as e:
        # conversion and invalid-input errors can quote a row's value: never let one ride along
        if isinstance(e, (duckdb.ConversionException, duckdb.InvalidInputException)):
            raise FatalError(
                f"identity: building members into {target} failed ({type(e).__name__})"
            ) from None
        raise FatalError(f"identity: building members into {target} failed: {e}") from e
    finally:
        for t in reversed(created):
            try:
                con.execute(f"DROP TABLE IF EXISTS {t}")
            except duckdb.Error:  # e.g. an aborted transaction: the temp table dies with it
                pass
