"""Customer facts: one row per customer, one column per registered :class:`Fact`.

Segments are rules over facts, so a fact is the unit dealers (and plugins) extend: a name, a type,
a documented definition and one SQL expression. :func:`build_facts` turns the registry into the
warehouse table ``customer_facts`` in one set-oriented statement: a few per-customer aggregate
CTEs LEFT JOINed to ``customers``, materialized with ``CREATE OR REPLACE TABLE``.

Writing a fact's SQL
--------------------
A fact's ``sql`` is a DuckDB expression evaluated once per customer. It may refer to

``c``
    the customer's row of ``customers`` (``c.email``, ``c.created_at``...).
``ro``
    repair-order aggregates: ``first_service_date``, ``last_service_date``, ``visits``,
    ``visits_12m``, ``customer_pay_total``.
``svc``
    ro-line aggregates by service category (categories of the op-code catalog):
    ``categories_purchased`` and ``declined_categories`` (sorted ``VARCHAR[]``, ``[]`` if none),
    and for each category ``performed_<category>`` / ``declined_<category>``: the latest RO date
    with a performed / a declined-or-recommended line of that category.
``dl``
    deal aggregates: ``last_sale_date``, ``last_deal_type``, ``lease_maturity_date``.
``vh``
    vehicle aggregates: ``vehicles_owned``.
``ev``
    engagement aggregates: ``email_opens_90d``, ``email_clicks_90d``, ``last_email_open_date``.
``{as_of}``
    the evaluation date (a ``DATE``). It is *not* pasted: ``{as_of}`` is rewritten to the column
    ``_p.as_of`` of a one-row relation whose value is a bound parameter.

or it may be a scalar subquery over the canonical tables correlated on ``c.customer_id``. The
result is cast to the fact's type (``text_list`` is ``VARCHAR[]``).

Time is explicit: records dated after ``as_of`` are ignored (ROs, lines, deals, vehicles, events),
so a warehouse evaluated at an earlier ``as_of`` gives the facts as they stood that day.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dealersync.errors import ConfigError
from dealersync.model import DUCKDB_TYPES, TABLES, create_table_sql
from dealersync.opcodes import DEFAULT_OPCODES

FactType = Literal["text", "integer", "decimal", "date", "timestamp", "boolean", "text_list"]

#: Every fact type and its DuckDB column type.
FACT_TYPES: dict[str, str] = {**DUCKDB_TYPES, "text_list": "VARCHAR[]"}

#: Name of the table :func:`build_facts` creates.
FACTS_TABLE = "customer_facts"

#: Service categories that get a ``last_<category>_date`` fact by default.
DEFAULT_CATEGORY_DATE_FACTS: tuple[str, ...] = ("tires", "brakes", "oil", "battery", "alignment")

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_CATEGORY_RE = re.compile(r"^[a-z0-9_]+$")
_AS_OF = "{as_of}"


@dataclass(frozen=True)
class Fact:
    """One column of ``customer_facts``.

    ``sql`` is an expression over the aliases documented in :mod:`dealersync.facts`
    (``c``, ``ro``, ``svc``, ``dl``, ``vh``, ``ev``, ``{as_of}``), or a correlated scalar subquery.
    """

    name: str
    type: FactType
    sql: str
    description: str
    grain: Literal["customer"] = "customer"


class FactRegistry:
    """The facts known to this run: core defaults plus whatever plugins register.

    ``FactRegistry(default_facts())`` is the usual starting point; :meth:`register` adds one.
    """

    def __init__(self, facts: Iterable[Fact] = (), *, origin: str = "dealersync") -> None:
        self._facts: dict[str, Fact] = {}
        self._origins: dict[str, str] = {}
        for f in facts:
            self.register(f, origin=origin)

    @classmethod
    def default(cls) -> FactRegistry:
        """A registry holding :func:`default_facts`."""
        return cls(default_facts())

    def register(self, fact: Fact, *, origin: str = "dealersync") -> None:
        """Add ``fact``; ``origin`` (a distribution name) is used in error messages."""
        if not isinstance(fact, Fact):
            raise ConfigError(f"{origin}: expected a dealersync.Fact, found {type(fact).__name__}")
        where = f"fact {fact.name!r} ({origin})"
        if not isinstance(fact.name, str) or not _NAME_RE.match(fact.name):
            raise ConfigError(
                f"{where}: invalid name; expected lower-case letters, digits and '_',"
                " starting with a letter or '_'"
            )
        if fact.type not in FACT_TYPES:
            raise ConfigError(
                f"{where}: unknown type {fact.type!r}; expected one of {', '.join(FACT_TYPES)}"
            )
        if fact.grain != "customer":
            raise ConfigError(f"{where}: unknown grain {fact.grain!r}; expected 'customer'")
        if not isinstance(fact.sql, str) or not fact.sql.strip():
            raise ConfigError(f"{where}: empty sql")
        if fact.name in self._facts:
            other = self._facts[fact.name]
            raise ConfigError(
                f"fact {fact.name!r} is defined twice: by {self._origins[fact.name]}"
                f" ({other.description or other.sql}) and by {origin}"
                f" ({fact.description or fact.sql})"
            )
        self._facts[fact.name] = fact
        self._origins[fact.name] = origin

    def get(self, name: str) -> Fact:
        """The fact called ``name``; unknown names raise :class:`ConfigError` with suggestions."""
        try:
            return self._facts[name]
        except KeyError:
            raise ConfigError(f"unknown fact {name!r} ({self._suggest(name)})") from None

    def origin(self, name: str) -> str:
        """Who registered ``name`` (``"dealersync"`` for the defaults)."""
        self.get(name)
        return self._origins[name]

    def closest(self, name: str, n: int = 2) -> list[str]:
        """Up to ``n`` registered names closest to ``name`` (difflib), best first."""
        return difflib.get_close_matches(str(name), list(self._facts), n=n, cutoff=0.6)

    def _suggest(self, name: str) -> str:
        close = self.closest(name)
        if close:
            return "closest: " + ", ".join(close)
        return f"no close match among {len(self._facts)} facts"

    def names(self) -> list[str]:
        """Registered fact names, in registration order."""
        return list(self._facts)

    def __iter__(self) -> Iterator[Fact]:
        return iter(list(self._facts.values()))

    def __len__(self) -> int:
        return len(self._facts)

    def __contains__(self, name: object) -> bool:
        return name in self._facts


# --------------------------------------------------------------------------- default facts


def _customer_column(name: str, description: str) -> Fact:
    col = TABLES["customers"].column(name)
    return Fact(name, col.type, f"c.{name}", description)  # type: ignore[arg-type]


def category_date_fact(category: str) -> Fact:
    """``last_<category>_date``: the date of the latest RO with a performed line of ``category``."""
    if not isinstance(category, str) or not _CATEGORY_RE.match(category):
        raise ConfigError(
            f"service category {category!r}: expected lower-case letters, digits and '_'"
        )
    return Fact(
        f"last_{category}_date",
        "date",
        f"svc.performed_{category}",
        f"Date of the latest repair order (up to as_of, internal ROs excluded) with a performed"
        f" line whose op code maps to the '{category}' category; NULL if none.",
    )


def default_facts() -> list[Fact]:
    """The facts every dealersync warehouse has. Add one here (or from a plugin) to extend."""
    customer = [
        _customer_column("customer_id", "The customer's id in the source system."),
        _customer_column("first_name", "First name as the source holds it (not normalized)."),
        _customer_column("last_name", "Last name as the source holds it (not normalized)."),
        _customer_column("email", "Email address as the source holds it (not normalized)."),
        _customer_column("city", "City of the customer's address."),
        _customer_column("state", "State or province of the customer's address."),
        _customer_column("postal_code", "Postal code of the customer's address."),
        _customer_column("country", "Country of the customer's address."),
        _customer_column("birth_year", "Year of birth."),
        _customer_column(
            "preferred_channel", "Preferred contact channel: email, sms, phone or mail."
        ),
        _customer_column("email_opt_in", "The customer opted in to marketing email."),
        _customer_column("sms_opt_in", "The customer opted in to marketing SMS."),
        _customer_column("do_not_email", "Do-not-email flag from the DMS/CRM."),
        _customer_column("do_not_call", "Do-not-call flag from the DMS/CRM."),
        _customer_column("do_not_mail", "Do-not-mail flag from the DMS/CRM."),
        _customer_column("do_not_market", "Do-not-market flag: no marketing on any channel."),
        _customer_column("created_at", "When the customer record was created in the source."),
    ]
    service = [
        Fact(
            "first_service_date",
            "date",
            "ro.first_service_date",
            "Date of the customer's first repair order up to as_of (RO open date, else close"
            " date; internal ROs excluded); NULL if never serviced.",
        ),
        Fact(
            "last_service_date",
            "date",
            "ro.last_service_date",
            "Date of the customer's latest repair order up to as_of (RO open date, else close"
            " date; internal ROs excluded); NULL if never serviced.",
        ),
        Fact(
            "service_visits",
            "integer",
            "COALESCE(ro.visits, 0)",
            "Number of repair orders up to as_of (internal ROs excluded).",
        ),
        Fact(
            "service_visits_12m",
            "integer",
            "COALESCE(ro.visits_12m, 0)",
            "Number of repair orders less than 12 calendar months before as_of (internal ROs"
            " excluded); > 0 exactly when months_since_last_service < 12.",
        ),
        Fact(
            "customer_pay_total",
            "decimal",
            "COALESCE(ro.customer_pay_total, 0)",
            "Sum of the totals of customer-pay repair orders up to as_of (warranty and internal"
            " excluded).",
        ),
        Fact(
            "months_since_last_service",
            "integer",
            "date_sub('month', ro.last_service_date, {as_of})",
            "Whole calendar months from last_service_date to as_of (2025-11-23 to 2026-11-23 is"
            " 12; to 2026-11-22 is 11; month ends clamp: 01-31 to 02-28 is 1); NULL if never"
            " serviced. Status bands: loyal < 12, 12 <= at_risk < 24, lost >= 24.",
        ),
        Fact(
            "categories_purchased",
            "text_list",
            "COALESCE(svc.categories_purchased, [])",
            "Sorted service categories (op-code catalog) with at least one performed line up to"
            " as_of (a line without a status counts as performed); empty if none.",
        ),
        *[category_date_fact(cat) for cat in DEFAULT_CATEGORY_DATE_FACTS],
        Fact(
            "declined_categories",
            "text_list",
            "COALESCE(svc.declined_categories, [])",
            "Sorted service categories with a declined or recommended line that was not"
            " performed later: the latest declined/recommended RO date of the category is after"
            " its latest performed RO date (same day counts as performed); empty if none.",
        ),
    ]
    sales = [
        Fact(
            "vehicles_owned",
            "integer",
            "COALESCE(vh.vehicles_owned, 0)",
            "Number of the customer's vehicles not disposed of as of as_of (disposed_on NULL or"
            " after as_of; purchased_on NULL or on/before as_of).",
        ),
        Fact(
            "last_sale_date",
            "date",
            "dl.last_sale_date",
            "Date of the latest deal up to as_of where the customer is buyer or co-buyer.",
        ),
        Fact(
            "last_deal_type",
            "text",
            "dl.last_deal_type",
            "deal_type (cash/finance/lease) of that latest deal (ties: highest deal_id).",
        ),
        Fact(
            "lease_maturity_date",
            "date",
            "dl.lease_maturity_date",
            "For lease deals up to as_of (buyer or co-buyer): the soonest lease maturity on or"
            " after as_of, else the latest past one; NULL if the customer never leased.",
        ),
    ]
    engagement = [
        Fact(
            "email_opens_90d",
            "integer",
            "COALESCE(ev.email_opens_90d, 0)",
            "Email open events dated as_of - 90 days through as_of, inclusive.",
        ),
        Fact(
            "email_clicks_90d",
            "integer",
            "COALESCE(ev.email_clicks_90d, 0)",
            "Email click events dated as_of - 90 days through as_of, inclusive.",
        ),
        Fact(
            "last_email_open_date",
            "date",
            "ev.last_email_open_date",
            "Date of the latest email open event up to as_of; NULL if none.",
        ),
    ]
    return [*customer, *service, *sales, *engagement]


# --------------------------------------------------------------------------- building the table

#: The per-customer aggregate CTEs facts may use, by alias. Each has one row per customer_id.
#: ``_ro`` / ``_deal`` / ``_ev`` are shared row-level inputs, already cut at as_of.
_BASE_CTES: dict[str, str] = {
    "_c": """
        SELECT * FROM customers
        WHERE customer_id IS NOT NULL
        QUALIFY row_number() OVER (
            PARTITION BY customer_id ORDER BY updated_at DESC NULLS LAST, _source, _line) = 1""",
    "_ro": """
        SELECT r.customer_id, r.ro_id, COALESCE(r.opened_on, r.closed_on) AS ro_date,
               lower(r.pay_type) AS pay_type, r.total
        FROM repair_orders AS r, _p
        WHERE r.customer_id IS NOT NULL
          AND COALESCE(r.opened_on, r.closed_on) <= _p.as_of
          AND lower(COALESCE(r.pay_type, '')) <> 'internal'""",
    "_lines": """
        SELECT r.customer_id, r.ro_date, o.idx,
               COALESCE(lower(trim(l.status)), 'performed') AS st
        FROM ro_lines AS l
        JOIN _ro AS r ON r.ro_id = l.ro_id
        JOIN (SELECT op_code, dense_rank() OVER (ORDER BY category) AS idx FROM _opcodes) AS o
          ON o.op_code = upper(trim(l.op_code))""",
    "_deal": """
        SELECT d.customer_id, d.deal_id, d.deal_date, lower(d.deal_type) AS deal_type,
               d.lease_maturity_date
        FROM deals AS d, _p
        WHERE d.customer_id IS NOT NULL AND d.deal_date <= _p.as_of
        UNION ALL
        SELECT d.co_buyer_customer_id, d.deal_id, d.deal_date, lower(d.deal_type),
               d.lease_maturity_date
        FROM deals AS d, _p
        WHERE d.co_buyer_customer_id IS NOT NULL AND d.deal_date <= _p.as_of
          AND d.co_buyer_customer_id IS DISTINCT FROM d.customer_id""",
    "_ev": """
        SELECT e.customer_id, CAST(e.occurred_at AS DATE) AS d,
               lower(e.channel) AS channel, lower(e.type) AS type
        FROM events AS e, _p
        WHERE e.customer_id IS NOT NULL AND CAST(e.occurred_at AS DATE) <= _p.as_of""",
}

_AGGREGATE_CTES: dict[str, str] = {
    "ro": """
        SELECT customer_id,
               min(ro_date) AS first_service_date,
               max(ro_date) AS last_service_date,
               count(*) AS visits,
               count(*) FILTER (WHERE date_sub('month', ro_date, _p.as_of) < 12) AS visits_12m,
               sum(total) FILTER (WHERE pay_type = 'customer') AS customer_pay_total
        FROM _ro, _p
        GROUP BY customer_id""",
    "svc": "",  # generated from the op-code catalog by _svc_sql
    "dl": """
        SELECT customer_id,
               max(deal_date) AS last_sale_date,
               first(deal_type ORDER BY deal_date DESC, deal_id DESC) AS last_deal_type,
               COALESCE(
                   min(lease_maturity_date)
                       FILTER (WHERE deal_type = 'lease' AND lease_maturity_date >= _p.as_of),
                   max(lease_maturity_date) FILTER (WHERE deal_type = 'lease')
               ) AS lease_maturity_date
        FROM _deal, _p
        GROUP BY customer_id""",
    "vh": """
        SELECT v.customer_id, count(*) AS vehicles_owned
        FROM vehicles AS v, _p
        WHERE v.customer_id IS NOT NULL
          AND (v.disposed_on IS NULL OR v.disposed_on > _p.as_of)
          AND (v.purchased_on IS NULL OR v.purchased_on <= _p.as_of)
        GROUP BY v.customer_id""",
    "ev": """
        SELECT customer_id,
               count(*) FILTER (WHERE type = 'open' AND d >= _p.as_of - 90) AS email_opens_90d,
               count(*) FILTER (WHERE type = 'click' AND d >= _p.as_of - 90) AS email_clicks_90d,
               max(d) FILTER (WHERE type = 'open') AS last_email_open_date
        FROM _ev, _p
        WHERE channel = 'email'
        GROUP BY customer_id""",
}

#: Aggregate aliases a fact's SQL may use (see the module docstring).
AGGREGATES: tuple[str, ...] = tuple(_AGGREGATE_CTES)


def _svc_sql(categories: Sequence[str]) -> str:
    """Per-customer service-category aggregates, one pass over the RO lines.

    One ``max(...) FILTER`` pair per category (no per-customer lists or maps to aggregate: those
    cost 3x more in DuckDB). ``categories`` are validated names in sorted order, matching the
    ``dense_rank`` index of ``_lines``; list values come from the bound ``_p.categories``.
    """
    cols, bought, declined = [], [], []
    for i, cat in enumerate(categories, start=1):
        cols.append(
            f"max(ro_date) FILTER (WHERE idx = {i} AND st = 'performed') AS performed_{cat}"
        )
        cols.append(
            f"max(ro_date) FILTER (WHERE idx = {i} AND st IN ('declined', 'recommended'))"
            f" AS declined_{cat}"
        )
        bought.append(f"CASE WHEN performed_{cat} IS NOT NULL THEN [_p.categories[{i}]] END")
        declined.append(
            f"CASE WHEN declined_{cat} > COALESCE(performed_{cat}, DATE '0001-01-01')"
            f" THEN [_p.categories[{i}]] END"
        )
    return f"""
        SELECT w.*,
               list_concat([]::VARCHAR[], {", ".join(bought)}) AS categories_purchased,
               list_concat([]::VARCHAR[], {", ".join(declined)}) AS declined_categories
        FROM (SELECT customer_id, {", ".join(cols)} FROM _lines GROUP BY customer_id) AS w, _p"""


def fact_expression(fact: Fact) -> str:
    """The fact's SQL with ``{as_of}`` bound to the parameter relation, cast to its type."""
    body = fact.sql.replace(_AS_OF, "_p.as_of")
    return f"CAST(({body}) AS {FACT_TYPES[fact.type]})"


def _used_aggregates(facts: Iterable[Fact]) -> list[str]:
    text = "\n".join(f.sql for f in facts)
    return [a for a in AGGREGATES if re.search(rf"(?<![\w.]){a}\s*\.", text)]


def facts_select_sql(facts: Iterable[Fact], categories: Sequence[str] | None = None) -> str:
    """The SELECT producing ``customer_facts``.

    Two positional parameters: ``as_of`` (a date) and the sorted list of service categories
    (``categories``, default: those of the default op-code catalog).
    """
    categories = sorted(set(categories if categories is not None else DEFAULT_OPCODES.values()))
    for cat in categories:
        if not _CATEGORY_RE.match(cat):
            raise ConfigError(f"service category {cat!r}: expected lower-case letters, digits, '_'")
    facts = list(facts)
    if not any(f.name == "customer_id" for f in facts):
        facts.insert(0, Fact("customer_id", "text", "c.customer_id", "The customer's id."))
    used = _used_aggregates(facts)
    ctes = {"_p": "SELECT CAST(? AS DATE) AS as_of, CAST(? AS VARCHAR[]) AS categories"}
    ctes.update(_BASE_CTES)
    ctes.update({a: _svc_sql(categories) if a == "svc" else _AGGREGATE_CTES[a] for a in used})
    with_sql = ",\n".join(f"{name} AS ({body.strip()})" for name, body in ctes.items())
    cols = ",\n       ".join(f'{fact_expression(f)} AS "{f.name}"' for f in facts)
    joins = "".join(f"\nLEFT JOIN {a} ON {a}.customer_id = c.customer_id" for a in used)
    return f"WITH {with_sql}\nSELECT {cols}\nFROM _c AS c CROSS JOIN _p{joins}"


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


def build_facts(
    con: Any,
    registry: FactRegistry,
    *,
    as_of: dt.date,
    opcodes: Mapping[str, str] | None = None,
) -> None:
    """Create or replace the table ``customer_facts``: one row per customer, one column per fact.

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
    facts = list(registry)
    categories = sorted(set(catalog.values()))
    params = [as_of, categories]
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {FACTS_TABLE} AS\n{facts_select_sql(facts, categories)}",
            params,
        )
    except duckdb.Error as exc:
        _raise_broken_fact(con, registry, params, exc)
        raise
    con.execute(
        "CREATE OR REPLACE TABLE _facts_meta AS"
        " SELECT CAST(? AS DATE) AS as_of, current_timestamp AS built_at, ? AS facts",
        [as_of, len(facts)],
    )


def _raise_broken_fact(con: Any, registry: FactRegistry, params: list[Any], exc: Exception) -> None:
    """After a failed build, find the fact whose SQL does not run and name it."""
    import duckdb

    for fact in registry:
        try:
            con.execute(f"{facts_select_sql([fact], params[1])} LIMIT 0", params)
        except duckdb.Error as one:
            raise ConfigError(
                f"fact {fact.name!r} ({registry.origin(fact.name)}): its SQL does not run:"
                f" {str(one).splitlines()[0]}"
            ) from None
    raise ConfigError(f"building {FACTS_TABLE} failed: {str(exc).splitlines()[0]}") from None


def facts_as_of(con: Any) -> dt.date | None:
    """The ``as_of`` the current ``customer_facts`` were built for, or None if never built."""
    import duckdb

    try:
        row = con.execute("SELECT as_of FROM _facts_meta").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None
