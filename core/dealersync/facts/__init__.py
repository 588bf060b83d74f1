"""Facts: one row per customer (``customer_facts``) and per vehicle (``vehicle_facts``).

Segments are rules over facts, so a fact is the unit dealers (and plugins) extend: a name, a type,
a documented definition and one SQL expression. :func:`build_facts` turns the registry into the
warehouse tables in a few set-oriented statements; records dated after ``as_of`` are ignored, so a
warehouse evaluated at an earlier ``as_of`` gives the facts as they stood that day.

Writing a fact's SQL
--------------------
A customer fact's ``sql`` is a DuckDB expression evaluated once per customer. It may refer to

``c``
    the customer's row of ``customers`` (``c.email``, ``c.created_at``...).
``ro``
    service visits: ``first_service_date``, ``last_service_date``, ``visits``, ``visits_12m``,
    ``visits_24m``, ``customer_pay_total``, ``customer_pay_12m``.
``svc``
    service lines by service category (:mod:`dealersync.service_categories`): ``categories_purchased`` and for each category
    ``performed_<category>`` / ``declined_<category>``, the latest RO date with a performed / a
    declined-or-recommended line of that category.
``dw``
    open declined work: ``declined_categories``, ``last_declined_date``.
``dl``
    deals: ``last_sale_date``, ``deals``, ``last_deal_type``, ``lease_maturity_date``, ``fin``
    (the latest finance deal: ``fin.date``, ``fin.term_months``, ``fin.apr``,
    ``fin.payoff_amount``, ``fin.sale_price``).
``vh``
    vehicles: ``vehicles_owned``, ``makes``, ``models``, ``fuel_types``, ``newest_year``,
    ``max_estimated_mileage``, ``miles_since_last_service``, ``warranty_end_date``.
``ev``
    email engagement: ``email_opens_90d``, ``email_clicks_90d``, ``last_email_open_date``,
    ``last_email_click_date``.
``ld``
    leads: ``leads``, ``last_lead_date``, ``lead_source``, ``lead_stage``.
``hh``
    household: ``household_id``, ``household_size``.
``{as_of}``
    the evaluation date (a ``DATE``), bound, never pasted.

or a scalar subquery over the canonical tables correlated on ``c.customer_id``. A vehicle fact
(``grain="vehicle"``) is an expression over ``v``, the vehicle's row of the internal ``_vehicles``
table (see :data:`dealersync.facts.build.VEHICLES_SQL`). The result is cast to the fact's type
(``text_list`` is ``VARCHAR[]``).
"""

from dealersync.facts.build import (
    AGGREGATES,
    FactsBuild,
    build_facts,
    fact_expression,
    facts_as_of,
    facts_fingerprint,
    facts_select_sql,
    merged_opcodes,
)
from dealersync.facts.defaults import (
    DEFAULT_CATEGORY_DATE_FACTS,
    category_date_fact,
    default_facts,
)
from dealersync.facts.registry import (
    FACT_TYPES,
    FACTS_TABLE,
    VEHICLE_FACTS_TABLE,
    Fact,
    FactRegistry,
    FactType,
    Grain,
    Relation,
    fact_registry,
)

__all__ = [
    "AGGREGATES",
    "DEFAULT_CATEGORY_DATE_FACTS",
    "FACTS_TABLE",
    "FACT_TYPES",
    "VEHICLE_FACTS_TABLE",
    "Fact",
    "FactRegistry",
    "FactType",
    "FactsBuild",
    "Grain",
    "Relation",
    "build_facts",
    "category_date_fact",
    "default_facts",
    "fact_expression",
    "fact_registry",
    "facts_as_of",
    "facts_fingerprint",
    "facts_select_sql",
    "merged_opcodes",
]
