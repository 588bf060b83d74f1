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
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dealersync.errors import ConfigError
from dealersync.facts.defaults import DEFAULT_MILES_PER_YEAR
from dealersync.facts.registry import (
    FACT_TYPES,
    FACTS_TABLE,
    VEHICLE_FACTS_TABLE,
    Fact,
    FactRegistry,
)
from dealersync.facts.relations import RELATION_SQL
from dealersync.model import TABLES, create_table_sql
from dealersync.opcodes import DEFAULT_OPCODES

_CATEGORY_RE = re.compile(r"^[a-z0-9_]+$")
_AS_OF = "{as_of}"
_PARAMS_CTE = "SELECT CAST($as_of AS DATE) AS as_of, CAST($categories AS VARCHAR[]) AS categories"

#: One row per vehicle known on as_of (purchased_on NULL or <= as_of); the vehicle facts read it.
VEHICLES_SQL = f"""
WITH _p AS (SELECT CAST($as_of AS DATE) AS as_of),
v AS (
    SELECT vh.* FROM vehicles AS vh, _p
    WHERE vh.vehicle_id IS NOT NULL AND (vh.purchased_on IS NULL OR vh.purchased_on <= _p.as_of)
    QUALIFY row_number() OVER (PARTITION BY vh.vehicle_id ORDER BY vh._source, vh._line) = 1),
readings AS (
    SELECT v.vehicle_id, v.odometer_date AS d, v.odometer AS miles
    FROM v, _p WHERE v.odometer > 0 AND v.odometer_date <= _p.as_of
    UNION ALL
    SELECT vehicle_id, date, odometer FROM rel_service_visits
    WHERE vehicle_id IS NOT NULL AND odometer > 0),
od AS (
    SELECT vehicle_id, max(d) AS last_d, arg_max(miles, d) AS last_m,
           min(d) AS first_d, arg_min(miles, d) AS first_m
    FROM readings GROUP BY vehicle_id),
sv AS (
    SELECT vehicle_id, max(date) AS last_service,
           arg_max(odometer, date) FILTER (WHERE odometer > 0) AS service_odometer
    FROM rel_service_visits WHERE vehicle_id IS NOT NULL GROUP BY vehicle_id),
est AS (
    SELECT v.*, od.last_m AS odometer_now, od.last_d AS odometer_date_now,
           sv.last_service, sv.service_odometer,
           CAST(round(od.last_m + (_p.as_of - od.last_d) * CASE
               WHEN od.last_d - od.first_d >= 60 AND od.last_m > od.first_m
               THEN (od.last_m - od.first_m) / (od.last_d - od.first_d)
               ELSE {DEFAULT_MILES_PER_YEAR} / 365.25 END) AS BIGINT) AS estimated_mileage,
           (v.disposed_on IS NULL OR v.disposed_on > _p.as_of) AS owned
    FROM v CROSS JOIN _p
    LEFT JOIN od ON od.vehicle_id = v.vehicle_id
    LEFT JOIN sv ON sv.vehicle_id = v.vehicle_id)
SELECT vehicle_id, customer_id, vin, year, make, model, fuel_type, purchased_on, disposed_on,
       warranty_end, owned, odometer_now AS odometer, odometer_date_now AS odometer_date,
       estimated_mileage, last_service AS vehicle_last_service_date,
       CASE WHEN estimated_mileage < service_odometer THEN 0
            ELSE estimated_mileage - service_odometer END AS vehicle_miles_since_service
FROM est"""

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
    """Normalized address line: lower case, '#' as apt, punctuation out, street words short."""
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
        FROM rel_service_visits, _p
        GROUP BY customer_id""",
    "svc": "",  # generated from the op-code catalog by _svc_sql
    "dw": """
        SELECT customer_id, max(date) AS last_declined_date,
               list_sort(list(category)) AS declined_categories
        FROM rel_declined_work
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
        FROM rel_deals, _p
        GROUP BY customer_id""",
    "vh": """
        SELECT customer_id,
               count(*) FILTER (WHERE owned) AS vehicles_owned,
               list_sort(list_distinct(list(lower(trim(make))) FILTER (WHERE owned))) AS makes,
               list_sort(list_distinct(list(lower(trim(model))) FILTER (WHERE owned))) AS models,
               list_sort(list_distinct(list(lower(trim(fuel_type))) FILTER (WHERE owned)))
                   AS fuel_types,
               max(year) FILTER (WHERE owned) AS newest_year,
               max(estimated_mileage) FILTER (WHERE owned) AS max_estimated_mileage,
               max(vehicle_miles_since_service) FILTER (WHERE owned)
                   AS miles_since_last_service,
               COALESCE(min(warranty_end) FILTER (WHERE owned AND warranty_end >= _p.as_of),
                        max(warranty_end) FILTER (WHERE owned)) AS warranty_end_date
        FROM _vehicles, _p
        WHERE customer_id IS NOT NULL
        GROUP BY customer_id""",
    "ev": """
        SELECT customer_id,
               count(*) FILTER (WHERE type = 'open' AND date >= _p.as_of - 90) AS email_opens_90d,
               count(*) FILTER (WHERE type = 'click' AND date >= _p.as_of - 90) AS email_clicks_90d,
               max(date) FILTER (WHERE type = 'open') AS last_email_open_date,
               max(date) FILTER (WHERE type = 'click') AS last_email_click_date
        FROM rel_events, _p
        WHERE channel = 'email'
        GROUP BY customer_id""",
    "ld": """
        SELECT customer_id, count(*) AS leads, max(date) AS last_lead_date,
               first(source ORDER BY created_at DESC, lead_id DESC) AS lead_source,
               first(stage ORDER BY created_at DESC, lead_id DESC) AS lead_stage
        FROM rel_leads
        GROUP BY customer_id""",
    "hh": f"""
        SELECT customer_id, household_id,
               CASE WHEN household_id IS NOT NULL
                    THEN count(*) OVER (PARTITION BY household_id) END AS household_size
        FROM (SELECT customer_id,
                     CASE WHEN addr <> '' AND zip <> '' THEN md5(addr || '|' || zip) END
                         AS household_id
              FROM (SELECT customer_id, {_address_key_sql("address_line1")} AS addr,
                           left(regexp_replace(lower(postal_code), '[^a-z0-9]', '', 'g'), 5)
                               AS zip
                    FROM _c))""",
}

#: Aggregate aliases a customer fact's SQL may use (see the package docstring).
AGGREGATES: tuple[str, ...] = tuple(_AGGREGATE_CTES)

_CUSTOMERS_CTE = """
        SELECT * FROM customers
        WHERE customer_id IS NOT NULL
        QUALIFY row_number() OVER (
            PARTITION BY customer_id ORDER BY updated_at DESC NULLS LAST, _source, _line) = 1"""


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
              FROM (SELECT s.*, list_position(_p.categories, s.category) AS idx
                    FROM _service_categories AS s, _p)
              GROUP BY customer_id) AS w, _p"""


def fact_expression(fact: Fact) -> str:
    """The fact's SQL with ``{as_of}`` bound to the parameter relation, cast to its type."""
    body = fact.sql.replace(_AS_OF, "_p.as_of")
    return f"CAST(({body}) AS {FACT_TYPES[fact.type]})"


def _used_aggregates(facts: Iterable[Fact]) -> list[str]:
    text = "\n".join(f.sql for f in facts)
    return [a for a in AGGREGATES if re.search(rf"(?<![\w.]){a}\s*\.", text)]


def _categories(categories: Iterable[str] | None) -> list[str]:
    found = sorted(set(categories if categories is not None else DEFAULT_OPCODES.values()))
    for cat in found:
        if not _CATEGORY_RE.match(cat):
            raise ConfigError(f"service category {cat!r}: expected lower-case letters, digits, '_'")
    return found


def facts_select_sql(facts: Iterable[Fact], categories: Sequence[str] | None = None) -> str:
    """The SELECT producing ``customer_facts`` from the customer-grain ``facts``.

    Named parameters: ``$as_of`` (a date) and ``$categories``, the sorted list of service
    categories (default: those of the default op-code catalog). Reads the related-record views
    and ``_vehicles``, so it runs after :func:`build_facts` has made them.
    """
    cats = _categories(categories)
    facts = [f for f in facts if f.grain == "customer"]
    if not any(f.name == "customer_id" for f in facts):
        facts.insert(0, Fact("customer_id", "text", "c.customer_id", "The customer's id."))
    used = _used_aggregates(facts)
    ctes = {"_p": _PARAMS_CTE, "_c": _CUSTOMERS_CTE}
    ctes.update({a: _svc_sql(cats) if a == "svc" else _AGGREGATE_CTES[a] for a in used})
    with_sql = ",\n".join(f"{name} AS ({body.strip()})" for name, body in ctes.items())
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


def merged_opcodes(opcodes: Mapping[str, str] | None = None) -> dict[str, str]:
    """The default op-code catalog with ``opcodes`` (from ``[opcodes]`` in config) on top."""
    merged = {k.strip().upper(): v for k, v in DEFAULT_OPCODES.items()}
    for code, category in (opcodes or {}).items():
        if not isinstance(code, str) or not code.strip():
            raise ConfigError(f"opcodes: op code {code!r}: expected a non-empty string")
        if not isinstance(category, str) or not _CATEGORY_RE.match(category.strip().lower()):
            raise ConfigError(
                f"opcodes.{code}: category {category!r}: expected a name of lower-case letters,"
                " digits and '_' (e.g. \"tires\")"
            )
        merged[code.strip().upper()] = category.strip().lower()
    return merged


def _run(con: Any, sql: str, params: Mapping[str, Any]) -> None:
    """Execute with the named parameters ``sql`` mentions (DuckDB rejects unused ones)."""
    con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def build_facts(
    con: Any,
    registry: FactRegistry,
    *,
    as_of: dt.date,
    opcodes: Mapping[str, str] | None = None,
) -> None:
    """Create or replace ``customer_facts``, ``vehicle_facts`` and the related-record views.

    ``con`` is a DuckDB connection to the warehouse. Also (re)creates ``_opcodes`` (the op-code
    catalog with ``opcodes`` overrides) and ``_facts_meta`` (the ``as_of`` the facts were built
    for; see :func:`facts_as_of`). Canonical tables that were never loaded are created empty.
    """
    import duckdb

    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise ConfigError(f"as_of: expected a date, found {as_of!r}")
    catalog = merged_opcodes(opcodes)
    for table in TABLES.values():
        con.execute(create_table_sql(table))
    con.execute("CREATE OR REPLACE TABLE _opcodes (op_code VARCHAR PRIMARY KEY, category VARCHAR)")
    con.execute(
        "INSERT INTO _opcodes SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
        [list(catalog), list(catalog.values())],
    )
    categories = _categories(catalog.values())
    params = {"as_of": as_of, "categories": categories}
    facts = list(registry)
    con.execute(
        "CREATE OR REPLACE TABLE _facts_meta AS"
        " SELECT CAST(? AS DATE) AS as_of, current_timestamp AS built_at, ? AS facts",
        [as_of, len(facts)],
    )
    for name, sql, materialized in RELATION_SQL:
        kind = "TABLE" if materialized else "VIEW"
        con.execute(f"CREATE OR REPLACE {kind} {name} AS {sql}")
    _run(con, f"CREATE OR REPLACE TABLE _vehicles AS {VEHICLES_SQL}", params)
    targets = (
        (f"VIEW {VEHICLE_FACTS_TABLE}", vehicle_facts_select_sql(facts)),
        (f"TABLE {FACTS_TABLE}", facts_select_sql(facts, categories)),
    )
    for target, select in targets:
        try:
            _run(con, f"CREATE OR REPLACE {target} AS\n{select}", params)
        except duckdb.Error as exc:
            _raise_broken_fact(con, registry, params, exc)


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
