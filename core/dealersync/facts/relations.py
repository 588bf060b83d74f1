"""Related records: per-customer record sets a segment can count (``count = "service_lines"``).

:func:`~dealersync.facts.build_facts` creates each as a warehouse view (``declined_work``, an
aggregate read by every count on it, as a table) with ``customer_id``, a ``date`` and typed fields,
cut at the ``as_of`` of the last build (``_facts_meta``): records dated later are left out. The
customer aggregates of ``customer_facts`` read the same views, so a fact and a count never disagree
about what a visit, a line or an event is. Views, not copies: copying the biggest tables (lines,
events) cost more than every count that reads them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dealersync.facts.registry import VEHICLE_FACTS_TABLE, Fact, Relation
from dealersync.service_categories.sql import LINE_STATUS_SQL, PAIR_OF_LINE_SQL

#: A repair order counts as a service visit unless its pay type is internal.
SERVICE_VISITS_SQL = """
SELECT r.customer_id, r.vehicle_id, r.ro_id, COALESCE(r.opened_on, r.closed_on) AS date,
       lower(trim(r.pay_type)) AS pay_type, r.total, r.odometer
FROM repair_orders AS r, _facts_meta AS m
WHERE r.customer_id IS NOT NULL
  AND COALESCE(r.opened_on, r.closed_on) <= m.as_of
  AND lower(trim(COALESCE(r.pay_type, ''))) <> 'internal'"""

#: Lines of those visits, one row per line: ``category`` is the list of the line's service
#: categories (empty: uncategorized). A line joins its categorized pair by op code and description
#: as loaded (the normalized op code comes from the pair: no per-line string work).
SERVICE_LINES_SQL = f"""
SELECT r.customer_id, r.vehicle_id, r.ro_id, r.date,
       COALESCE(c.categories, []::VARCHAR[]) AS category,
       c.code AS op_code,
       {LINE_STATUS_SQL} AS status,
       COALESCE(l.labor_amount, 0) + COALESCE(l.parts_amount, 0) AS amount
FROM ro_lines AS l
JOIN rel_service_visits AS r ON r.ro_id = l.ro_id
LEFT JOIN _line_categories AS c ON {PAIR_OF_LINE_SQL}"""

#: Per customer and category: the latest performed and declined/recommended dates (internal,
#: shared by the category facts and declined_work: one pass over the lines). A line counts once
#: per category it carries: the lines join the pairs' categories one row each (a join, not a
#: list unnested per line: 20% faster).
SERVICE_CATEGORIES_SQL = f"""
WITH c AS (SELECT op_code, description, unnest(categories) AS category FROM _line_categories)
SELECT customer_id, category,
       max(date) FILTER (WHERE status = 'performed') AS performed,
       max(date) FILTER (WHERE status IN ('declined', 'recommended')) AS declined
FROM (SELECT rel_service_visits.customer_id, rel_service_visits.date, c.category,
             {LINE_STATUS_SQL} AS status
      FROM ro_lines AS l
      JOIN @src:rel_service_visits@ ON rel_service_visits.ro_id = l.ro_id
      JOIN c ON {PAIR_OF_LINE_SQL})
GROUP BY customer_id, category"""

#: Categories bought: per customer and category, the latest performed date.
PURCHASED_CATEGORIES_SQL = """
SELECT customer_id, category, performed AS date
FROM _service_categories
WHERE performed IS NOT NULL"""

#: Open declined work: per customer and category, the latest declined/recommended date when it
#: is after the latest performed date of that category (same day counts as performed).
DECLINED_WORK_SQL = """
SELECT customer_id, category, declined AS date, performed AS last_performed_date
FROM @src:_service_categories@
WHERE declined > COALESCE(performed, DATE '0001-01-01')"""

#: A deal relates to its buyer and to its co-buyer (once if they are the same customer).
DEALS_SQL = """
SELECT d.customer_id, d.deal_id, d.vehicle_id, d.deal_date AS date, 'buyer' AS role,
       lower(trim(d.deal_type)) AS deal_type, lower(trim(d.new_used)) AS new_used,
       d.term_months, d.apr, d.lease_maturity_date, d.payoff_amount, d.sale_price
FROM deals AS d, _facts_meta AS m
WHERE d.customer_id IS NOT NULL AND d.deal_date <= m.as_of
UNION ALL
SELECT d.co_buyer_customer_id, d.deal_id, d.vehicle_id, d.deal_date, 'co_buyer',
       lower(trim(d.deal_type)), lower(trim(d.new_used)),
       d.term_months, d.apr, d.lease_maturity_date, d.payoff_amount, d.sale_price
FROM deals AS d, _facts_meta AS m
WHERE d.co_buyer_customer_id IS NOT NULL AND d.deal_date <= m.as_of
  AND d.co_buyer_customer_id IS DISTINCT FROM d.customer_id"""

EVENTS_SQL = """
SELECT e.customer_id, e.event_id, CAST(e.occurred_at AS DATE) AS date,
       lower(trim(e.channel)) AS channel, lower(trim(e.type)) AS type, e.campaign
FROM events AS e, _facts_meta AS m
WHERE e.customer_id IS NOT NULL AND CAST(e.occurred_at AS DATE) <= m.as_of"""

LEADS_SQL = """
SELECT l.customer_id, l.lead_id, CAST(l.created_at AS DATE) AS date, l.created_at,
       lower(trim(l.source)) AS source, lower(trim(l.stage)) AS stage, l.vehicle_of_interest
FROM leads AS l, _facts_meta AS m
WHERE l.customer_id IS NOT NULL AND CAST(l.created_at AS DATE) <= m.as_of"""

#: (name, SQL, materialized) in build order: later ones read earlier ones. A materialized one is
#: per customer: its SQL marks its source ``@src:name@`` so a refresh can read a few customers'
#: rows only (see :func:`scoped`).
RELATION_SQL: tuple[tuple[str, str, bool], ...] = (
    ("rel_service_visits", SERVICE_VISITS_SQL, False),
    ("rel_service_lines", SERVICE_LINES_SQL, False),
    ("_service_categories", SERVICE_CATEGORIES_SQL, True),
    ("rel_purchased_categories", PURCHASED_CATEGORIES_SQL, False),
    ("rel_declined_work", DECLINED_WORK_SQL, True),
    ("rel_deals", DEALS_SQL, False),
    ("rel_events", EVENTS_SQL, False),
    ("rel_leads", LEADS_SQL, False),
)

_SRC_RE = re.compile(r"@src:(\w+)@")


def scoped(sql: str, scope: str | None) -> str:
    """``sql`` with its sources (``@src:name@``, ``@cscope@``) limited to the customers of the
    table ``scope`` (a column ``customer_id``), or whole when ``scope`` is None."""
    if scope is None:
        return _SRC_RE.sub(r"\1", sql).replace("@cscope@", "")
    within = f"customer_id IN (SELECT customer_id FROM {scope})"
    sql = _SRC_RE.sub(rf"(SELECT * FROM \1 WHERE {within}) AS \1", sql)
    return sql.replace("@cscope@", f"AND {within}")


RELATIONS: dict[str, Relation] = {
    r.name: r
    for r in (
        Relation(
            "service_visits",
            "rel_service_visits",
            "Repair orders up to as_of, internal ROs excluded; date = open date, else close date.",
            {"pay_type": "text", "total": "decimal", "odometer": "integer", "vehicle_id": "text"},
        ),
        Relation(
            "service_lines",
            "rel_service_lines",
            "Lines of those repair orders; date = the RO's date.",
            {
                "category": "text_list",
                "op_code": "text",
                "status": "text",
                "amount": "decimal",
                "vehicle_id": "text",
            },
            field_docs={
                "category": "the line's service categories (docs/data-model.md, 'Service"
                " categories'), a list, empty if none: category = \"tires\" matches a line"
                " whose categories include tires, a list of values matches any",
                "status": "performed, declined or recommended; no status counts as performed",
                "op_code": "upper case, trimmed",
                "amount": "labor + parts",
            },
        ),
        Relation(
            "purchased_categories",
            "rel_purchased_categories",
            "Service categories bought: one record per customer and category with a performed"
            " line; date = the latest one. Cheaper than counting service_lines. A line of several"
            " categories counts for each.",
            {"category": "text"},
        ),
        Relation(
            "declined_work",
            "rel_declined_work",
            "Open declined work: one record per customer and category whose latest declined or"
            " recommended line is later than its latest performed line; date = that decline.",
            {"category": "text", "last_performed_date": "date"},
        ),
        Relation(
            "deals",
            "rel_deals",
            "Deals up to as_of, once for the buyer and once for a co-buyer; date = deal date.",
            {
                "role": "text",
                "deal_type": "text",
                "new_used": "text",
                "term_months": "integer",
                "apr": "decimal",
                "lease_maturity_date": "date",
                "sale_price": "decimal",
            },
            field_docs={"role": "buyer or co_buyer", "deal_type": "cash, finance or lease"},
        ),
        Relation(
            "events",
            "rel_events",
            "Engagement events up to as_of; date = the event's day.",
            {"channel": "text", "type": "text", "campaign": "text"},
            field_docs={
                "channel": "email, sms, web, event (lower case)",
                "type": "sent, open, click, unsubscribe, bounce, complaint, visit, clinic",
            },
        ),
        Relation(
            "leads",
            "rel_leads",
            "Sales leads up to as_of; date = the lead's creation day.",
            {"source": "text", "stage": "text"},
            field_docs={"source": "lower case", "stage": "lower case"},
        ),
    )
}


def vehicle_relation(vehicle_facts: Sequence[Fact]) -> Relation:
    """The ``vehicles`` record set: rows of ``vehicle_facts``, its fields the vehicle facts."""
    return Relation(
        "vehicles",
        VEHICLE_FACTS_TABLE,
        "The customer's vehicles (owned or not: test owned = true); date = purchase date.",
        {f.name: f.type for f in vehicle_facts if f.name != "customer_id"},
        date_field="purchased_on",
    )
