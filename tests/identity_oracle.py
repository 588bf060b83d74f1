"""The identity oracle: an audience's members as the contract defines them, in plain SQL.

The engine (:func:`dealersync.identity.build_members` and the persistent
:class:`dealersync.identity.IdentityIndexes`) builds members from an index kept between runs,
by min-label propagation with pointer jumping and a second derivation of component keys. This
module answers the same question the obvious way, so the equivalence tests in
``tests/test_identity_index.py`` compare the engine with something it does not share:

* a member is a connected component of the audience's customer ids, two ids being connected when
  they hold the same match-key token ``"<profile>:<normalized value>"``: one recursive query
  (the transitive closure of "shares a token with"), its smallest reachable id naming the
  component;
* its ``member_key`` is the SHA-256 of the smallest token its customers hold, ``customer_ids``
  its ids sorted, each field the valid value of its smallest customer id holding one (SHA-256
  for hashed profiles): one GROUP BY;
* the counts are per ``customers`` row, as the engine reports them: rows of the audience, rows
  with no match-key token, and per field rows whose filled input normalized to NULL.

What it shares with the engine is the normalization of one value: each profile's SQL expression
and the phone rule of :mod:`dealersync.identity.phones`. Those are checked on their own, against
published examples, by ``tests/test_identity.py``; the set logic here is written independently.

Slow on purpose (the closure is quadratic in a component's size): for test-sized warehouses only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping

import duckdb
import phonenumbers
from dealersync.errors import ConfigError, FatalError
from dealersync.identity import MemberStats, NormContext, e164_digits
from dealersync.identity.members import check_identifiers, check_target
from dealersync.identity.phones import prepare_sql, stage_sql

__all__ = ["members_by_definition"]


def members_by_definition(
    con: duckdb.DuckDBPyConnection,
    customer_ids_sql: str,
    identifiers: Mapping[str, str],
    *,
    target: str,
    default_country: str = "US",
    params: list | None = None,
    as_of: dt.date | None = None,
) -> MemberStats:
    """Create (or replace) table ``target`` with the members of the customers ``customer_ids_sql``
    returns, with the columns and counts :func:`dealersync.identity.build_members` documents."""
    fields, profiles = check_identifiers(identifiers)
    check_target(target)
    region = (default_country or "").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"default country {default_country!r} is not an ISO 3166-1 alpha-2 code")
    ctx = NormContext(default_country=region, as_of=as_of or dt.date.today())
    exprs = [p.sql(ctx) for p in profiles]  # fills ctx's columns, phones and helpers
    columns = _customer_columns(con)
    read = list(dict.fromkeys([c for p in profiles for c in p.columns] + sorted(ctx._columns)))
    missing = [c for c in read if c not in columns]
    if missing:
        raise ConfigError(f"identity profiles read customers.{missing[0]}, which the warehouse lacks")

    table = ".".join(_q(part) for part in target.split("."))
    tmp = f"_oracle_{uuid.uuid4().hex[:8]}"
    rows, values, tokens, components = (f"{tmp}_{s}" for s in ("rows", "values", "tokens", "components"))
    created: list[str] = []

    def create(name: str, sql: str, bind: list | None = None) -> None:
        con.execute(f"CREATE TEMP TABLE {name} AS {sql}", bind or [])
        created.append(name)

    try:
        # the audience's customers rows, text trimmed and NULL when blank
        staged = ", ".join(
            f"nullif(trim(cu.{_q(c)}), '') AS {_q(c)}" if columns[c].startswith("VARCHAR") else f"cu.{_q(c)}"
            for c in read
        )
        create(
            rows,
            f"SELECT cu.customer_id AS cid, {staged} FROM customers AS cu"
            f" WHERE cu.customer_id IN (SELECT customer_id FROM ({customer_ids_sql}))",
            params,
        )

        # each phone column's canonical digits, per distinct number
        phone_joins, phone_cols = [], []
        for i, col in enumerate(sorted(ctx._phones)):
            numbers = [r[0] for r in con.execute(f"SELECT DISTINCT {_q(col)} FROM {rows} WHERE {_q(col)} IS NOT NULL").fetchall()]
            create(
                f"{tmp}_phone{i}",
                "SELECT unnest(?::VARCHAR[]) AS number, unnest(?::VARCHAR[]) AS digits",
                [numbers, _phone_digits(con, numbers, region)],
            )
            phone_joins.append(f" LEFT JOIN {tmp}_phone{i} AS p{i} ON p{i}.number = r.{_q(col)}")
            phone_cols.append(f", p{i}.digits AS {_q('__phone__' + col)}")
        helpers = "".join(f", {expr} AS {_q(name)}" for name, expr in ctx._helpers.items())
        row_inputs = (
            f"SELECT c.*{helpers} FROM (SELECT r.*{''.join(phone_cols)} FROM {rows} AS r{''.join(phone_joins)}) AS c"
        )

        # per row: each field's normalized value and whether its input was filled
        selected = [f"({e}) AS v{i}" for i, e in enumerate(exprs)]
        for i, p in enumerate(profiles):
            own = [c for c in p.columns if c != "country"] or list(p.columns)  # country only qualifies
            selected.append("(" + " OR ".join(f"c.{_q(c)} IS NOT NULL" for c in own) + f") AS filled{i}")
        create(values, f"SELECT c.cid, {', '.join(selected)} FROM ({row_inputs}) AS c")

        keyed = [i for i, p in enumerate(profiles) if p.match_key]
        create(
            tokens,
            " UNION ".join(
                f"SELECT cid, {_literal(profiles[i].name + ':')} || v{i} AS tok FROM {values} WHERE v{i} IS NOT NULL" for i in keyed
            ),
        )
        create(
            components,
            "WITH RECURSIVE link AS ("
            f"  SELECT DISTINCT a.cid AS a, b.cid AS b FROM {tokens} AS a JOIN {tokens} AS b ON a.tok = b.tok),"
            " reach(a, b) AS (SELECT a, b FROM link"
            "  UNION SELECT reach.a, link.b FROM reach JOIN link ON link.a = reach.b)"
            " SELECT a AS cid, min(b) AS component FROM reach GROUP BY a",
        )

        firsts = ", ".join(f"arg_min(v.v{i}, v.cid) FILTER (WHERE v.v{i} IS NOT NULL) AS v{i}" for i in range(len(profiles)))
        outputs = ", ".join(
            f"{'sha256(m.v' + str(i) + ')' if p.hashed else 'm.v' + str(i)} AS {_q(f)}"
            for i, (f, p) in enumerate(zip(fields, profiles, strict=True))
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS"
            f" WITH keys AS (SELECT c.component, min(t.tok) AS tok FROM {tokens} AS t"
            f"  JOIN {components} AS c ON c.cid = t.cid GROUP BY c.component),"
            f" members AS (SELECT c.component, list_sort(list_distinct(list(v.cid))) AS customer_ids, {firsts}"
            f"  FROM {values} AS v JOIN {components} AS c ON c.cid = v.cid GROUP BY c.component)"
            f" SELECT sha256(k.tok) AS member_key, m.customer_ids, {outputs}"
            " FROM members AS m JOIN keys AS k ON k.component = m.component ORDER BY member_key"
        )

        no_token = " AND ".join(f"v{i} IS NULL" for i in keyed)
        counts = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {no_token})"
            + "".join(f", count(*) FILTER (WHERE v{i} IS NULL AND filled{i})" for i in range(len(profiles)))
            + f" FROM {values}"
        ).fetchone()
        members = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert counts is not None and members is not None
        return MemberStats(
            customers=counts[0],
            members=members[0],
            unmatchable=counts[1],
            invalid=dict(zip(fields, counts[2:], strict=True)),
        )
    except duckdb.Error as e:
        raise FatalError(f"identity oracle: {type(e).__name__}") from None
    finally:
        for name in reversed(created):
            con.execute(f"DROP TABLE IF EXISTS {name}")


def _customer_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    try:
        return {name: kind.upper() for name, kind, *_ in con.execute("DESCRIBE customers").fetchall()}
    except duckdb.CatalogException:
        raise FatalError("identity oracle: the warehouse has no customers table") from None


def _phone_digits(con: duckdb.DuckDBPyConnection, numbers: list[str], region: str) -> list[str | None]:
    """The phone rule of :mod:`dealersync.identity.phones` applied to each number: the SQL
    reading of North American numbers, phonenumbers for the rest."""
    if not numbers:
        return []
    fast, key = stage_sql("n", nanp_default=phonenumbers.country_code_for_region(region) == 1)
    staged = {
        number: (digits, k)
        for number, digits, k in con.execute(
            f"SELECT n, {fast}, {key} FROM (SELECT n, {prepare_sql('n')} FROM (SELECT unnest(?::VARCHAR[]) AS n))",
            [numbers],
        ).fetchall()
    }
    return [
        digits if digits is not None or k is None else e164_digits(k, region)
        for digits, k in (staged[number] for number in numbers)
    ]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
