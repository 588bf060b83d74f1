"""Build the facts tables: related records, ``vehicle_facts`` and ``customer_facts``.

:func:`build_facts` runs a few set-oriented statements, each ``CREATE OR REPLACE TABLE ... AS``:

1. ``_facts_meta`` (the ``as_of``), then the related-record views of
   :mod:`dealersync.facts.relations`, cut at it;
2. ``_vehicles``, one row per vehicle with its odometer estimate and last service, and over it
   the view ``vehicle_facts`` (the vehicle-grain facts);
3. ``customer_facts``: per-customer aggregate CTEs over those tables, LEFT JOINed to
   ``customers``, one column per customer-grain fact.

Bound parameters only: ``$as_of`` (and the sorted category list ``$categories``); ``{as_of}`` in a
fact's SQL becomes the column ``_p.as_of`` of a one-row relation holding the bound value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from dealersync.errors import ConfigError
from dealersync.facts.defaults import DEFAULT_MILES_PER_YEAR
from dealersync.facts.registry import (
    FACT_TYPES,
    FACTS_TABLE,
    VEHICLE_FACTS_TABLE,
    Fact,
    FactRegistry,
)
from dealersync.facts.relations import RELATION_SQL, scoped
from dealersync.model import TABLES, create_table_sql
from dealersync.service_categories import LINE_CATEGORIES_TABLE, OPCODES_TABLE, CategoryRules
from dealersync.service_categories.rules import category_rules, default_rules
from dealersync.service_categories.sql import (
    add_new_line_pairs,
    build_line_categories,
    categorize_sql,
)
from dealersync.store import persisted_tables, scalar_int

_CATEGORY_RE = re.compile(r"^[a-z0-9_]+$")
_AS_OF = "{as_of}"
_PARAMS_CTE = "SELECT CAST($as_of AS DATE) AS as_of, CAST($categories AS VARCHAR[]) AS categories"

#: One row per vehicle known on as_of (purchased_on NULL or <= as_of); the vehicle facts read it.
#: ``@vscope:<col>@`` marks where a refresh limits the vehicles (see :func:`_vehicles_sql`).
#: Ties (two readings on one day) go to the higher reading, so a rebuild is deterministic.
#:
#: One pass over the readings (the vehicle record's and the service visits'): the latest and the
#: first reading are ``max``/``min`` of ``(day << 64) + miles`` / ``(day << 64) - miles`` (a
#: HUGEINT: the day orders, then the miles; the miles are the difference to the day's key),
#: which orders like the pair but is a fixed-width value. A vehicle_id seen once (nearly all) is
#: its own row; the duplicates alone are ranked.
_VEHICLES_TEMPLATE = f"""
WITH _p AS (SELECT CAST($as_of AS DATE) AS as_of),
vk AS (
    SELECT vh.* FROM vehicles AS vh, _p
    WHERE vh.vehicle_id IS NOT NULL AND (vh.purchased_on IS NULL OR vh.purchased_on <= _p.as_of)
          @vscope:vh.vehicle_id@),
vdup AS (SELECT vehicle_id FROM vk GROUP BY vehicle_id HAVING count(*) > 1),
v AS (
    SELECT * FROM vk WHERE vehicle_id NOT IN (SELECT vehicle_id FROM vdup)
    UNION ALL
    SELECT * FROM vk WHERE vehicle_id IN (SELECT vehicle_id FROM vdup)
    QUALIFY row_number() OVER (PARTITION BY vehicle_id ORDER BY _source, _line) = 1),
readings AS (
    SELECT v.vehicle_id, v.odometer_date AS d, v.odometer AS miles, false AS visit
    FROM v, _p WHERE v.odometer > 0 AND v.odometer_date <= _p.as_of
    UNION ALL
    SELECT vehicle_id, date, odometer, true FROM rel_service_visits
    WHERE vehicle_id IS NOT NULL @vscope:vehicle_id@),
rk AS (
    SELECT vehicle_id, d, miles, visit, miles > 0 AS reading,
           CAST(d - DATE '1970-01-01' AS HUGEINT) << 64 AS dk
    FROM readings),
od AS (
    SELECT vehicle_id,
           max(d) FILTER (WHERE reading) AS last_d,
           max(dk + miles) FILTER (WHERE reading) AS last_k,
           min(d) FILTER (WHERE reading) AS first_d,
           min(dk - miles) FILTER (WHERE reading) AS first_k,
           max(d) FILTER (WHERE visit) AS last_service,
           max(d) FILTER (WHERE visit AND reading) AS service_d,
           max(dk + miles) FILTER (WHERE visit AND reading) AS service_k
    FROM rk GROUP BY vehicle_id),
ods AS (
    SELECT vehicle_id, last_service,
           {{'d': last_d, 'm': CAST(last_k - (CAST(last_d - DATE '1970-01-01' AS HUGEINT) << 64)
                                  AS BIGINT)}} AS last,
           {{'d': first_d, 'm': CAST(first_k - (CAST(first_d - DATE '1970-01-01' AS HUGEINT) << 64)
                                   AS BIGINT)}} AS first,
           CAST(service_k - (CAST(service_d - DATE '1970-01-01' AS HUGEINT) << 64) AS BIGINT)
               AS service_odometer
    FROM od),
est AS (
    SELECT v.*, od.last.m AS odometer_now, od.last.d AS odometer_date_now,
           od.last_service, od.service_odometer,
           CAST(round(od.last.m + (_p.as_of - od.last.d) * CASE
               WHEN od.last.d - od.first.d >= 60 AND od.last.m > -od.first.m
               THEN (od.last.m + od.first.m) / (od.last.d - od.first.d)
               ELSE {DEFAULT_MILES_PER_YEAR} / 365.25 END) AS BIGINT) AS estimated_mileage,
           (v.disposed_on IS NULL OR v.disposed_on > _p.as_of) AS owned
    FROM v CROSS JOIN _p
    LEFT JOIN ods AS od ON od.vehicle_id = v.vehicle_id)
SELECT vehicle_id, customer_id, vin, year, make, model, fuel_type, purchased_on, disposed_on,
       warranty_end, owned, odometer_now AS odometer, odometer_date_now AS odometer_date,
       estimated_mileage, last_service AS vehicle_last_service_date,
       CASE WHEN estimated_mileage < service_odometer THEN 0
            ELSE estimated_mileage - service_odometer END AS vehicle_miles_since_service
FROM est"""

_VSCOPE_RE = re.compile(r"@vscope:([\w.]+)@")


def _vehicles_sql(scope: str | None = None) -> str:
    """The SELECT of ``_vehicles``; with ``scope`` (a table of ``vehicle_id``), those only."""
    if scope is None:
        return _VSCOPE_RE.sub("", _VEHICLES_TEMPLATE)
    return _VSCOPE_RE.sub(rf"AND \1 IN (SELECT vehicle_id FROM {scope})", _VEHICLES_TEMPLATE)


VEHICLES_SQL = _vehicles_sql()

_STREET_WORDS = (
    ("street", "st"),
    ("avenue", "ave"),
    ("road", "rd"),
    ("drive", "dr"),
    ("lane", "ln"),
    ("boulevard", "blvd"),
    ("apartment|unit|suite|ste", "apt"),
)


def _address_key_sql(col: str) -> str:
    """Normalized address line: lower case, '#' as apt, punctuation out, street words short.

    Word by word (after punctuation is out, words are the runs of [a-z0-9] between single
    spaces): one pass instead of a regular expression per street word, half the time.
    """
    expr = f"regexp_replace(lower({col}), '#', ' apt ', 'g')"
    expr = f"trim(regexp_replace({expr}, '[^a-z0-9]+', ' ', 'g'))"
    cases = " ".join(
        f"WHEN '{word}' THEN '{short}'"
        for words, short in _STREET_WORDS
        for word in words.split("|")
    )
    return f"array_to_string(list_transform(string_split({expr}, ' '), lambda w: CASE w {cases} ELSE w END), ' ')"


def _address_key_regex_sql(col: str) -> str:
    """The same key by regular expressions (the definition; tests compare the two)."""
    expr = f"regexp_replace(lower({col}), '#', ' apt ', 'g')"
    expr = f"regexp_replace({expr}, '[^a-z0-9]+', ' ', 'g')"
    for words, short in _STREET_WORDS:
        expr = f"regexp_replace({expr}, '\\b({words})\\b', '{short}', 'g')"
    return f"trim(regexp_replace({expr}, ' +', ' ', 'g'))"


#: Per-customer aggregates a customer fact's SQL may use, by alias; one row per customer_id.
_AGGREGATE_CTES: dict[str, str] = {
    "ro": """
        SELECT customer_id,
               min(date) AS first_service_date,
               max(date) AS last_service_date,
               count(*) AS visits,
               count(*) FILTER (WHERE date_sub('month', date, _p.as_of) < 12) AS visits_12m,
               count(*) FILTER (WHERE date_sub('month', date, _p.as_of) < 24) AS visits_24m,
               sum(total) FILTER (WHERE pay_type = 'customer') AS customer_pay_total,
               sum(total) FILTER (
                   WHERE pay_type = 'customer' AND date_sub('month', date, _p.as_of) < 12
               ) AS customer_pay_12m
        FROM @src:rel_service_visits@, _p
        GROUP BY customer_id""",
    "svc": "",  # generated from the service categories by _svc_sql
    "dw": """
        SELECT customer_id, max(date) AS last_declined_date,
               list_sort(list(category)) AS declined_categories
        FROM @src:rel_declined_work@
        GROUP BY customer_id""",
    "dl": """
        SELECT customer_id,
               max(date) AS last_sale_date,
               count(*) AS deals,
               first(deal_type ORDER BY date DESC, deal_id DESC) AS last_deal_type,
               COALESCE(
                   min(lease_maturity_date)
                       FILTER (WHERE deal_type = 'lease' AND lease_maturity_date >= _p.as_of),
                   max(lease_maturity_date) FILTER (WHERE deal_type = 'lease')
               ) AS lease_maturity_date,
               first(struct_pack(date := date, term_months := term_months, apr := apr,
                                 payoff_amount := payoff_amount, sale_price := sale_price)
                     ORDER BY date DESC, deal_id DESC) FILTER (WHERE deal_type = 'finance')
                   AS fin
        FROM @src:rel_deals@, _p
        GROUP BY customer_id""",
    "vh": """
        WITH b AS (
            SELECT customer_id,
                   count(*) FILTER (WHERE owned) AS vehicles_owned,
                   @few:make@ AS makes, @few:model@ AS models, @few:fuel_type@ AS fuel_types,
                   max(year) FILTER (WHERE owned) AS newest_year,
                   max(estimated_mileage) FILTER (WHERE owned) AS max_estimated_mileage,
                   max(vehicle_miles_since_service) FILTER (WHERE owned)
                       AS miles_since_last_service,
                   COALESCE(min(warranty_end) FILTER (WHERE owned AND warranty_end >= _p.as_of),
                            max(warranty_end) FILTER (WHERE owned)) AS warranty_end_date
            FROM @src:_vehicles@, _p
            WHERE customer_id IS NOT NULL
            GROUP BY customer_id),
        many AS (
            SELECT customer_id,
                   list_sort(list_distinct(list(lower(trim(make))))) AS makes,
                   list_sort(list_distinct(list(lower(trim(model))))) AS models,
                   list_sort(list_distinct(list(lower(trim(fuel_type))))) AS fuel_types
            FROM @src:_vehicles@
            WHERE owned AND customer_id IN (SELECT customer_id FROM b WHERE vehicles_owned > 2)
            GROUP BY customer_id)
        SELECT b.customer_id, b.vehicles_owned,
               CASE WHEN b.vehicles_owned > 2 THEN many.makes ELSE b.makes END AS makes,
               CASE WHEN b.vehicles_owned > 2 THEN many.models ELSE b.models END AS models,
               CASE WHEN b.vehicles_owned > 2 THEN many.fuel_types ELSE b.fuel_types END
                   AS fuel_types,
               b.newest_year, b.max_estimated_mileage, b.miles_since_last_service,
               b.warranty_end_date
        FROM b LEFT JOIN many ON many.customer_id = b.customer_id""",
    "ev": """
        SELECT customer_id,
               count(*) FILTER (WHERE type = 'open' AND date >= _p.as_of - 90) AS email_opens_90d,
               count(*) FILTER (WHERE type = 'click' AND date >= _p.as_of - 90) AS email_clicks_90d,
               max(date) FILTER (WHERE type = 'open') AS last_email_open_date,
               max(date) FILTER (WHERE type = 'click') AS last_email_click_date
        FROM @src:rel_events@, _p
        WHERE channel = 'email'
        GROUP BY customer_id""",
    "ld": """
        SELECT customer_id, count(*) AS leads, max(date) AS last_lead_date,
               first(source ORDER BY created_at DESC, lead_id DESC) AS lead_source,
               first(stage ORDER BY created_at DESC, lead_id DESC) AS lead_stage
        FROM @src:rel_leads@
        GROUP BY customer_id""",
    "hh": """
        SELECT _facts_hh.customer_id, _facts_hh.household_id, n.household_size
        FROM @src:_facts_hh@
        LEFT JOIN (SELECT household_id, count(*) AS household_size FROM _facts_hh
                   WHERE household_id IS NOT NULL GROUP BY household_id) AS n
          ON n.household_id = _facts_hh.household_id""",
}

#: Aggregate aliases a customer fact's SQL may use (see the package docstring).
AGGREGATES: tuple[str, ...] = tuple(_AGGREGATE_CTES)

def _latest_rows_sql(cols: str, table: str, key: str, order: str, where: str = "") -> str:
    """``SELECT cols FROM table`` keeping one row per ``key`` (not NULL): the first by ``order``.

    ``QUALIFY row_number() OVER (PARTITION BY key ORDER BY order) = 1``, with the window over
    the duplicated keys only (a key seen once is its row): ranking every row costs twice as much
    and nearly all keys are unique.
    """
    rows = f"FROM {table} WHERE {key} IS NOT NULL {where}"
    dup = f"SELECT {key} {rows} GROUP BY {key} HAVING count(*) > 1"
    return (
        f"SELECT {cols} {rows} AND {key} NOT IN ({dup})\n"
        f"        UNION ALL\n"
        f"        SELECT {cols} {rows} AND {key} IN ({dup})\n"
        f"        QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {order}) = 1"
    )


_CUSTOMER_ORDER = "updated_at DESC NULLS LAST, _source, _line"

#: The customer's row ``c``: per customer_id, the latest updated (ties: source, line).
_CUSTOMERS_CTE = _latest_rows_sql("*", "customers", "customer_id", _CUSTOMER_ORDER, "@cscope@")

#: Per customer of ``customers`` (deduplicated like ``c``), its household key: ``_facts_hh``.
_HOUSEHOLDS_SQL = f"""
SELECT customer_id,
       CASE WHEN addr <> '' AND zip <> '' THEN md5(addr || '|' || zip) END AS household_id
FROM (SELECT customer_id, {_address_key_sql("address_line1")} AS addr,
             left(regexp_replace(lower(postal_code), '[^a-z0-9]', '', 'g'), 5) AS zip
      FROM ({_latest_rows_sql(
          "customer_id, address_line1, postal_code, updated_at, _source, _line",
          "customers", "customer_id", _CUSTOMER_ORDER, "@cscope@")}))"""


def _few_sql(col: str) -> str:
    """``list_sort(list_distinct(list(lower(trim(col))) FILTER (WHERE owned)))`` for a customer
    with at most 2 owned vehicles, from min and max (no list to build and sort): NULL without an
    owned vehicle, [] when no value, else the distinct values in order."""
    val = f"lower(trim({col}))"
    lo, hi = f"min({val}) FILTER (WHERE owned)", f"max({val}) FILTER (WHERE owned)"
    return (
        f"CASE WHEN count(*) FILTER (WHERE owned) = 0 THEN NULL"
        f" WHEN {lo} IS NULL THEN []::VARCHAR[]"
        f" WHEN {lo} = {hi} THEN [{lo}] ELSE [{lo}, {hi}] END"
    )


_FEW_RE = re.compile(r"@few:(\w+)@")
_AGGREGATE_CTES["vh"] = _FEW_RE.sub(lambda m: _few_sql(m.group(1)), _AGGREGATE_CTES["vh"])


def _svc_sql(categories: Sequence[str]) -> str:
    """Per-customer service-category columns, pivoted from ``_service_categories``.

    One ``max(...) FILTER`` pair per category on an integer index (no per-customer lists or maps
    to aggregate: those cost 3x more in DuckDB). ``categories`` are validated names in sorted
    order, matching ``$categories``; list values come from the bound ``_p.categories``.
    """
    cols, bought = [], []
    for i, cat in enumerate(categories, start=1):
        cols.append(f"max(performed) FILTER (WHERE idx = {i}) AS performed_{cat}")
        cols.append(f"max(declined) FILTER (WHERE idx = {i}) AS declined_{cat}")
        bought.append(f"CASE WHEN performed_{cat} IS NOT NULL THEN [_p.categories[{i}]] END")
    return f"""
        SELECT w.*, list_concat([]::VARCHAR[], {", ".join(bought)}) AS categories_purchased
        FROM (SELECT customer_id, {", ".join(cols)}
              FROM (SELECT _service_categories.*,
                           list_position(_p.categories, _service_categories.category) AS idx
                    FROM @src:_service_categories@, _p)
              GROUP BY customer_id) AS w, _p"""


def fact_expression(fact: Fact) -> str:
    """The fact's SQL with ``{as_of}`` bound to the parameter relation, cast to its type."""
    body = fact.sql.replace(_AS_OF, "_p.as_of")
    return f"CAST(({body}) AS {FACT_TYPES[fact.type]})"


def _used_aggregates(facts: Iterable[Fact]) -> list[str]:
    text = "\n".join(f.sql for f in facts)
    return [a for a in AGGREGATES if re.search(rf"(?<![\w.]){a}\s*\.", text)]


def _categories(categories: Iterable[str] | None) -> list[str]:
    found = sorted(set(categories if categories is not None else default_rules().categories()))
    for cat in found:
        if not _CATEGORY_RE.match(cat):
            raise ConfigError(f"service category {cat!r}: expected lower-case letters, digits, '_'")
    return found


def facts_select_sql(
    facts: Iterable[Fact], categories: Sequence[str] | None = None, *, scope: str | None = None
) -> str:
    """The SELECT producing ``customer_facts`` from the customer-grain ``facts``.

    Named parameters: ``$as_of`` (a date) and ``$categories``, the sorted list of service
    categories (default: those the built-in rules give). Reads the related-record views,
    ``_vehicles`` and ``_facts_hh``, so it runs after :func:`build_facts` has made them. With
    ``scope`` (a table with a ``customer_id`` column), only those customers' rows, each source
    read for them only.
    """
    cats = _categories(categories)
    facts = [f for f in facts if f.grain == "customer"]
    if not any(f.name == "customer_id" for f in facts):
        facts.insert(0, Fact("customer_id", "text", "c.customer_id", "The customer's id."))
    used = _used_aggregates(facts)
    ctes = {"_p": _PARAMS_CTE, "_c": _CUSTOMERS_CTE}
    ctes.update({a: _svc_sql(cats) if a == "svc" else _AGGREGATE_CTES[a] for a in used})
    with_sql = ",\n".join(f"{name} AS ({scoped(body, scope).strip()})" for name, body in ctes.items())
    cols = ",\n       ".join(f'{fact_expression(f)} AS "{f.name}"' for f in facts)
    joins = "".join(f"\nLEFT JOIN {a} ON {a}.customer_id = c.customer_id" for a in used)
    return f"WITH {with_sql}\nSELECT {cols}\nFROM _c AS c CROSS JOIN _p{joins}"


def vehicle_facts_select_sql(facts: Iterable[Fact]) -> str:
    """The SELECT of the view ``vehicle_facts``: vehicle_id, customer_id, then each vehicle fact.

    A view (no parameters): ``{as_of}`` reads the as_of of ``_facts_meta``.
    """
    cols = "".join(
        f',\n       {fact_expression(f)} AS "{f.name}"' for f in facts if f.grain == "vehicle"
    )
    return (
        f"SELECT v.vehicle_id, v.customer_id{cols}\n"
        f"FROM _vehicles AS v CROSS JOIN (SELECT as_of FROM _facts_meta) AS _p"
    )


def merged_opcodes(opcodes: Mapping[str, str | list[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """The exact op codes of the categorization: the built-in ones with ``opcodes`` (from
    ``[opcodes]`` in config) on top; op code -> categories (empty: none)."""
    rules = category_rules(opcodes=opcodes)
    return {**rules.builtin_codes, **rules.dealer_codes}


def _rules(opcodes: Mapping[str, str | list[str]] | None, rules: CategoryRules | None) -> CategoryRules:
    """The rules a build uses: ``rules``, or the built-in ones with ``opcodes`` on top."""
    if rules is not None and opcodes:
        raise ValueError("pass the [opcodes] overrides inside rules (category_rules(opcodes=...))")
    if rules is not None:
        return rules
    return category_rules(opcodes=opcodes) if opcodes else default_rules()


def _run(con: Any, sql: str, params: Mapping[str, Any]) -> None:
    """Execute with the named parameters ``sql`` mentions (DuckDB rejects unused ones)."""
    con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


_BUILD_SIDE_OPTIMIZER = "build_side_probe_side"


@contextmanager
def _aggregates_build_side(con: Any) -> Iterator[None]:
    """While open, a ``LEFT JOIN`` hashes its right side: the per-customer aggregate.

    The ``customer_facts`` SELECT is a chain of LEFT JOINs of ``c`` (wide: every column so far)
    to narrow aggregates. DuckDB's ``build_side_probe_side`` optimizer turns some into RIGHT
    joins (aggregates with list columns look wide to it), hashing the whole chain instead: a
    third of the statement's time. The setting is per connection and not transactional, so the
    caller's value is put back.
    """
    import duckdb

    try:
        row = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    except duckdb.Error:
        row = None
    before = str(row[0]) if row and row[0] is not None else None
    names = [n.strip() for n in (before or "").split(",") if n.strip()]
    if before is None or _BUILD_SIDE_OPTIMIZER in names:
        yield
        return
    try:
        con.execute(f"SET disabled_optimizers = '{','.join([*names, _BUILD_SIDE_OPTIMIZER])}'")
    except duckdb.Error:  # an older DuckDB without this optimizer: its plan, slower
        yield
        return
    try:
        yield
    finally:
        con.execute(f"SET disabled_optimizers = '{before}'")


#: Bump when a change to this module changes what the facts tables hold: forces a full rebuild.
FACTS_VERSION = "facts-2"
#: The name of the facts in the change log (``_derived``, :mod:`dealersync.changes`).
DERIVED_NAME = "facts"

#: Per customer, what links it to other customers' facts: the vehicles of its service visits
#: (their odometer readings feed the owner's vehicle facts) and the deals it shares with a
#: co-buyer. A refresh reads the links of changed customers as they were (``_facts_links``), to
#: find whose facts a removed record affected.
_LINKS_SQL = """
SELECT DISTINCT customer_id, 'vehicle' AS kind, vehicle_id AS key
FROM @src:rel_service_visits@ WHERE vehicle_id IS NOT NULL
UNION ALL
SELECT DISTINCT customer_id, 'deal', deal_id
FROM @src:rel_deals@ WHERE deal_id IN (SELECT deal_id FROM rel_deals WHERE role = 'co_buyer')"""

# A fact whose SQL has a subquery or a window can read other customers' rows: with one, a
# refresh of a few customers could leave the others stale, so every build is a full one.
_CROSS_CUSTOMER_RE = re.compile(r"\bselect\b|\bover\s*\(", re.IGNORECASE)


@dataclass(frozen=True)
class FactsBuild:
    """What :func:`build_facts` did.

    ``kind``: ``"full"`` (every table rebuilt), ``"customers"`` (the rows of ``customers``
    customers recomputed: the ``changed`` ones the change log recorded and those whose facts
    depend on their records) or ``"none"`` (nothing changed since the last build).
    """

    kind: Literal["full", "customers", "none"]
    customers: int = 0
    changed: int = 0
    reason: str = ""


def facts_fingerprint(
    registry: FactRegistry | Iterable[Fact],
    *,
    as_of: dt.date,
    opcodes: Mapping[str, str | list[str]] | None = None,
    rules: CategoryRules | None = None,
) -> str:
    """A digest of everything the facts are computed with: ``as_of``, each fact's name, type,
    grain and SQL, the service-category rules and the SQL that applies them, the relations' and
    aggregates' SQL, a version."""
    rules = _rules(opcodes, rules)
    facts = list(registry)
    parts = {
        "version": FACTS_VERSION,
        "as_of": as_of.isoformat(),
        "facts": [[f.name, f.type, f.grain, f.sql] for f in facts],
        "categories": [rules.describe(), categorize_sql(rules, "pairs")[0]],
        "relations": [list(r) for r in RELATION_SQL],
        "sql": [
            _VEHICLES_TEMPLATE,
            _LINKS_SQL,
            _HOUSEHOLDS_SQL,
            _CUSTOMERS_CTE,
            _PARAMS_CTE,
            _svc_sql(_categories(rules.categories())),
            sorted(_AGGREGATE_CTES.items()),
        ],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def build_facts(
    con: Any,
    registry: FactRegistry,
    *,
    as_of: dt.date,
    opcodes: Mapping[str, str | list[str]] | None = None,
    rules: CategoryRules | None = None,
    incremental: bool = True,
) -> FactsBuild:
    """Bring ``customer_facts``, ``vehicle_facts`` and the related-record views up to date.

    ``con`` is a DuckDB connection to the warehouse. ``rules``: the service-category rules
    (:func:`dealersync.service_categories.config_rules`); default the built-in ones with the
    ``[opcodes]`` overrides ``opcodes`` on top. Also (re)creates ``_opcodes`` and
    ``_line_categories`` (the lines' distinct op code and description pairs, categorized; see
    :mod:`dealersync.service_categories.sql`) and ``_facts_meta`` (the ``as_of`` the facts were built
    for; see :func:`facts_as_of`). Canonical tables that were never loaded are created empty.

    Incremental (:mod:`dealersync.changes`): when the facts were built before with the same
    fingerprint (:func:`facts_fingerprint`), only the customers the change log recorded since, and
    those whose facts depend on their records, are recomputed; nothing if none changed. The result
    equals a full rebuild. ``incremental=False`` always rebuilds whole.
    """
    from dealersync.changes import Refresh, mark_refreshed, plan_refresh

    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise ConfigError(f"as_of: expected a date, found {as_of!r}")
    rules = _rules(opcodes, rules)
    for table in TABLES.values():
        con.execute(create_table_sql(table))
    categories = _categories(rules.categories())
    params = {"as_of": as_of, "categories": categories}
    facts = list(registry)
    fingerprint = facts_fingerprint(facts, as_of=as_of, rules=rules)
    hh = "hh" in _used_aggregates(f for f in facts if f.grain == "customer")
    needed = {FACTS_TABLE, "_facts_meta", OPCODES_TABLE, LINE_CATEGORIES_TABLE, "_vehicles", "_facts_links"}
    needed |= {name for name, _, materialized in RELATION_SQL if materialized}
    if hh:
        needed.add("_facts_hh")
    plan = plan_refresh(con, DERIVED_NAME, fingerprint, exists=needed <= persisted_tables(con))
    reason = ""
    if plan.kind != "full":
        if not incremental:
            plan, reason = Refresh("full", plan.upto), "incremental=False"
        elif any(_CROSS_CUSTOMER_RE.search(f.sql) for f in facts if f.grain == "customer"):
            plan, reason = Refresh("full", plan.upto), "a fact's SQL may read other customers"
    if plan.kind == "full":
        _build_full(con, facts, registry, params, rules, hh)
        result = FactsBuild("full", scalar_int(con, f"SELECT count(*) FROM {FACTS_TABLE}"), 0, reason)
        mark_refreshed(con, DERIVED_NAME, fingerprint, plan)
        return result
    _create_views(con, facts)
    if plan.kind == "none":
        mark_refreshed(con, DERIVED_NAME, fingerprint, plan)
        return FactsBuild("none")
    import duckdb

    own = _begin(con)
    try:
        add_new_line_pairs(con, rules)
        result = _refresh_customers(con, facts, params, hh, plan.changed_sql)
        mark_refreshed(con, DERIVED_NAME, fingerprint, plan)
    except duckdb.Error as exc:
        if own:
            con.execute("ROLLBACK")
        _raise_broken_fact(con, registry, params, exc)  # after the rollback: probes must run
        raise
    except BaseException:
        if own:
            con.execute("ROLLBACK")
        raise
    if own:
        con.execute("COMMIT")
    return result


def _begin(con: Any) -> bool:
    """Begin a transaction unless the caller has one open; True if this one did."""
    import duckdb

    try:
        con.execute("BEGIN TRANSACTION")
    except duckdb.TransactionException:
        return False
    return True


def _create_views(con: Any, facts: Sequence[Fact]) -> None:
    """The related-record views and ``vehicle_facts`` (cheap: no data)."""
    for name, sql, materialized in RELATION_SQL:
        if not materialized:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
    con.execute(
        f"CREATE OR REPLACE VIEW {VEHICLE_FACTS_TABLE} AS\n{vehicle_facts_select_sql(facts)}"
    )


def _build_full(
    con: Any,
    facts: Sequence[Fact],
    registry: FactRegistry,
    params: Mapping[str, Any],
    rules: CategoryRules,
    hh: bool,
) -> None:
    import duckdb

    build_line_categories(con, rules)
    con.execute(
        "CREATE OR REPLACE TABLE _facts_meta AS"
        " SELECT CAST(? AS DATE) AS as_of, current_timestamp AS built_at, ? AS facts",
        [params["as_of"], len(facts)],
    )
    for name, sql, materialized in RELATION_SQL:
        kind = "TABLE" if materialized else "VIEW"
        con.execute(f"CREATE OR REPLACE {kind} {name} AS {scoped(sql, None)}")
    _run(con, f"CREATE OR REPLACE TABLE _vehicles AS {VEHICLES_SQL}", params)
    con.execute(f"CREATE OR REPLACE TABLE _facts_links AS {scoped(_LINKS_SQL, None)}")
    if hh:
        con.execute(f"CREATE OR REPLACE TABLE _facts_hh AS {scoped(_HOUSEHOLDS_SQL, None)}")
    targets = (
        (f"VIEW {VEHICLE_FACTS_TABLE}", vehicle_facts_select_sql(facts)),
        (f"TABLE {FACTS_TABLE}", facts_select_sql(facts, params["categories"])),
    )
    for target, select in targets:
        try:
            with _aggregates_build_side(con):
                _run(con, f"CREATE OR REPLACE {target} AS\n{select}", params)
        except duckdb.Error as exc:
            _raise_broken_fact(con, registry, params, exc)


def _refresh_customers(
    con: Any,
    facts: Sequence[Fact],
    params: Mapping[str, Any],
    hh: bool,
    changed_sql: str,
) -> FactsBuild:
    """Recompute the facts of the changed customers and of every customer whose facts read a
    changed customer's records (see docs/segments.md, "Facts")."""
    ids = "SELECT customer_id FROM _facts_changed"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _facts_changed AS SELECT customer_id FROM ({changed_sql})"
    )
    changed = scalar_int(con, "SELECT count(*) FROM _facts_changed")
    # Vehicles whose _vehicles row may change: those a changed customer owns (before or now),
    # has a vehicle record of, or had or has a service visit of (odometer readings).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _facts_vscope AS
        SELECT vehicle_id FROM _vehicles WHERE customer_id IN ({ids})
        UNION SELECT vehicle_id FROM vehicles
              WHERE customer_id IN ({ids}) AND vehicle_id IS NOT NULL
        UNION SELECT vehicle_id FROM repair_orders
              WHERE customer_id IN ({ids}) AND vehicle_id IS NOT NULL
        UNION SELECT key FROM _facts_links WHERE kind = 'vehicle' AND customer_id IN ({ids})"""
    )
    # Deals a changed customer is or was party to, as buyer or co-buyer.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _facts_dscope AS
        SELECT deal_id FROM deals
        WHERE (customer_id IN ({ids}) OR co_buyer_customer_id IN ({ids})) AND deal_id IS NOT NULL
        UNION SELECT key FROM _facts_links WHERE kind = 'deal' AND customer_id IN ({ids})"""
    )
    scope = [
        ids,
        "SELECT customer_id FROM _vehicles WHERE vehicle_id IN (SELECT * FROM _facts_vscope)",
        "SELECT customer_id FROM vehicles WHERE vehicle_id IN (SELECT * FROM _facts_vscope)",
        "SELECT customer_id FROM deals WHERE deal_id IN (SELECT * FROM _facts_dscope)",
        "SELECT co_buyer_customer_id FROM deals WHERE deal_id IN (SELECT * FROM _facts_dscope)",
        (
            "SELECT customer_id FROM _facts_links"
            " WHERE kind = 'deal' AND key IN (SELECT * FROM _facts_dscope)"
        ),
    ]
    if hh:
        # household_size counts the members of a household: a changed customer's old and new
        # households are refreshed whole.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _facts_hh_new AS "
            + scoped(_HOUSEHOLDS_SQL, "_facts_changed")
        )
        scope.append(
            "SELECT customer_id FROM _facts_hh WHERE household_id IN ("
            f" SELECT household_id FROM _facts_hh WHERE customer_id IN ({ids})"
            " UNION SELECT household_id FROM _facts_hh_new)"
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _facts_scope AS SELECT DISTINCT customer_id FROM ("
        + "\nUNION ALL ".join(scope)
        + ") AS t(customer_id) WHERE customer_id IS NOT NULL"
    )
    customers = scalar_int(con, "SELECT count(*) FROM _facts_scope")
    within = "customer_id IN (SELECT customer_id FROM _facts_scope)"
    # Per-customer tables: a customer's rows read its own records only.
    for name, sql, materialized in RELATION_SQL:
        if materialized:
            con.execute(f"DELETE FROM {name} WHERE {within}")
            con.execute(f"INSERT INTO {name} {scoped(sql, '_facts_scope')}")
    con.execute(f"DELETE FROM _facts_links WHERE {within}")
    con.execute(f"INSERT INTO _facts_links {scoped(_LINKS_SQL, '_facts_scope')}")
    con.execute("DELETE FROM _vehicles WHERE vehicle_id IN (SELECT vehicle_id FROM _facts_vscope)")
    _run(con, f"INSERT INTO _vehicles {_vehicles_sql('_facts_vscope')}", params)
    if hh:
        con.execute(f"DELETE FROM _facts_hh WHERE customer_id IN ({ids})")
        con.execute("INSERT INTO _facts_hh SELECT * FROM _facts_hh_new")
    con.execute(f"DELETE FROM {FACTS_TABLE} WHERE {within}")
    with _aggregates_build_side(con):
        _run(
            con,
            f"INSERT INTO {FACTS_TABLE}\n"
            + facts_select_sql(facts, params["categories"], scope="_facts_scope"),
            params,
        )
    con.execute("UPDATE _facts_meta SET built_at = current_timestamp")
    for temp in ("_facts_changed", "_facts_vscope", "_facts_dscope", "_facts_hh_new", "_facts_scope"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return FactsBuild("customers", customers, changed)


def _raise_broken_fact(
    con: Any, registry: FactRegistry, params: Mapping[str, Any], exc: Exception
) -> None:
    """After a failed build, find the fact whose SQL does not run and name it."""
    import duckdb

    for fact in registry:
        if fact.grain == "vehicle":
            sql = vehicle_facts_select_sql([fact])
        else:
            sql = facts_select_sql([fact], params["categories"])
        try:
            _run(con, f"{sql} LIMIT 0", params)
        except duckdb.Error as one:
            raise ConfigError(
                f"fact {fact.name!r} ({registry.origin(fact.name)}): its SQL does not run:"
                f" {str(one).splitlines()[0]}"
            ) from None
    raise ConfigError(f"building the facts failed: {str(exc).splitlines()[0]}") from None


def facts_as_of(con: Any) -> dt.date | None:
    """The ``as_of`` the current ``customer_facts`` were built for, or None if never built."""
    import duckdb

    try:
        row = con.execute("SELECT as_of FROM _facts_meta").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None
