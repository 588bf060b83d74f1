"""The facts every dealersync warehouse has, each with its definition (the segment reference).

Customer grain (``customer_facts``): the customer's row ``c`` and the per-customer aggregates
``ro`` ``svc`` ``dw`` ``dl`` ``vh`` ``ev`` ``ld`` ``hh`` of :mod:`dealersync.facts.build`.
Vehicle grain (``vehicle_facts``): ``v``, one row of the internal per-vehicle table.
"""

from __future__ import annotations

import re

from dealersync.consent import CONSENT_SQL
from dealersync.errors import ConfigError
from dealersync.facts.registry import Fact, FactType
from dealersync.model import TABLES

#: Service categories that get a ``last_<category>_date`` fact by default.
DEFAULT_CATEGORY_DATE_FACTS: tuple[str, ...] = ("tires", "brakes", "oil", "battery", "alignment")

#: Assumed yearly mileage when a vehicle has fewer than two odometer readings 60+ days apart.
DEFAULT_MILES_PER_YEAR = 12_000
#: Assumed yearly depreciation of a financed vehicle for ``estimated_equity``.
DEPRECIATION_PER_YEAR = 0.15

_CATEGORY_RE = re.compile(r"^[a-z0-9_]+$")


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
        f" line of the '{category}' service category; NULL if none.",
    )


def _customer() -> list[Fact]:
    return [
        _customer_column("customer_id", "The customer's id in the source system."),
        _customer_column("first_name", "First name as the source holds it (not normalized)."),
        _customer_column("last_name", "Last name as the source holds it (not normalized)."),
        _customer_column("email", "Email address as the source holds it (not normalized)."),
        _customer_column("city", "City of the customer's address."),
        _customer_column("state", "State or province of the customer's address."),
        _customer_column("postal_code", "Postal code of the customer's address."),
        _customer_column("country", "Country of the customer's address."),
        _customer_column("birth_year", "Year of birth."),
        Fact(
            "preferred_channel",
            "text",
            "lower(trim(c.preferred_channel))",
            "Preferred contact channel, lower case: email, sms, phone or mail.",
        ),
        _customer_column("email_opt_in", "The customer opted in to marketing email."),
        _customer_column("sms_opt_in", "The customer opted in to marketing SMS."),
        _customer_column("do_not_email", "Do-not-email flag from the DMS/CRM."),
        _customer_column("do_not_call", "Do-not-call flag from the DMS/CRM."),
        _customer_column("do_not_mail", "Do-not-mail flag from the DMS/CRM."),
        _customer_column("do_not_market", "Do-not-market flag: no marketing on any channel."),
        _customer_column("created_at", "When the customer record was created in the source."),
    ]


def _consent() -> list[Fact]:
    return [
        Fact(
            "ads_consent",
            "boolean",
            CONSENT_SQL["ads"],
            "May be in ad audiences: not do_not_market (the rule audiences apply).",
        ),
        Fact(
            "email_consent",
            "boolean",
            CONSENT_SQL["email"],
            "May be emailed: email_opt_in, and neither do_not_email nor do_not_market.",
        ),
        Fact(
            "sms_consent",
            "boolean",
            CONSENT_SQL["sms"],
            "May be texted: sms_opt_in and not do_not_market.",
        ),
        Fact(
            "phone_consent",
            "boolean",
            "NOT COALESCE(c.do_not_call, false) AND NOT COALESCE(c.do_not_market, false)",
            "May be called: neither do_not_call nor do_not_market.",
        ),
        Fact(
            "mail_consent",
            "boolean",
            "NOT COALESCE(c.do_not_mail, false) AND NOT COALESCE(c.do_not_market, false)",
            "May get postal mail: neither do_not_mail nor do_not_market.",
        ),
        Fact(
            "household_id",
            "text",
            "hh.household_id",
            "Household key: an MD5 of the normalized address (lower case, punctuation dropped,"
            " street words abbreviated: street st, avenue ave, road rd, drive dr, lane ln,"
            " boulevard blvd, apartment/unit/# apt) and the first 5 characters of the postal code;"
            " NULL without an address line or postal code.",
        ),
        Fact(
            "household_size",
            "integer",
            "COALESCE(hh.household_size, 1)",
            "Customers sharing household_id, this one included (1 without an address).",
        ),
    ]


def _service() -> list[Fact]:
    return [
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
            "service_visits_24m",
            "integer",
            "COALESCE(ro.visits_24m, 0)",
            "Number of repair orders less than 24 calendar months before as_of (internal ROs"
            " excluded).",
        ),
        Fact(
            "customer_pay_total",
            "decimal",
            "COALESCE(ro.customer_pay_total, 0)",
            "Sum of the totals of customer-pay repair orders up to as_of (warranty and internal"
            " excluded).",
        ),
        Fact(
            "customer_pay_12m",
            "decimal",
            "COALESCE(ro.customer_pay_12m, 0)",
            "Customer-pay repair-order totals of the last 12 calendar months.",
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
            "Sorted service categories (docs/data-model.md) with at least one performed line up"
            " to as_of (a line without a status counts as performed); empty if none.",
        ),
        *[category_date_fact(cat) for cat in DEFAULT_CATEGORY_DATE_FACTS],
        Fact(
            "declined_categories",
            "text_list",
            "COALESCE(dw.declined_categories, [])",
            "Sorted service categories with a declined or recommended line that was not"
            " performed later: the latest declined/recommended RO date of the category is after"
            " its latest performed RO date (same day counts as performed); empty if none.",
        ),
        Fact(
            "last_declined_date",
            "date",
            "dw.last_declined_date",
            "Latest date of open declined work (any category of declined_categories); NULL if"
            " none. By category and age: count declined_work.",
        ),
        Fact(
            "miles_since_last_service",
            "integer",
            "vh.miles_since_last_service",
            "Largest vehicle_miles_since_service among the customer's owned vehicles: estimated"
            " miles driven since the odometer reading of the vehicle's latest repair order; NULL"
            " if no owned vehicle has one.",
        ),
    ]


def _vehicles() -> list[Fact]:
    return [
        Fact(
            "vehicles_owned",
            "integer",
            "COALESCE(vh.vehicles_owned, 0)",
            "Number of the customer's vehicles not disposed of as of as_of (disposed_on NULL or"
            " after as_of; purchased_on NULL or on/before as_of).",
        ),
        Fact(
            "vehicle_makes",
            "text_list",
            "COALESCE(vh.makes, [])",
            "Sorted distinct makes of owned vehicles, lower case.",
        ),
        Fact(
            "vehicle_models",
            "text_list",
            "COALESCE(vh.models, [])",
            "Sorted distinct models of owned vehicles, lower case.",
        ),
        Fact(
            "vehicle_fuel_types",
            "text_list",
            "COALESCE(vh.fuel_types, [])",
            "Sorted distinct fuel types of owned vehicles, lower case (gas, hybrid, electric...).",
        ),
        Fact(
            "newest_vehicle_year",
            "integer",
            "vh.newest_year",
            "Latest model year among owned vehicles.",
        ),
        Fact(
            "max_estimated_mileage",
            "integer",
            "vh.max_estimated_mileage",
            "Largest estimated_mileage among owned vehicles.",
        ),
        Fact(
            "warranty_end_date",
            "date",
            "vh.warranty_end_date",
            "Among owned vehicles: the soonest warranty end on or after as_of, else the latest"
            " past one; NULL if none is known.",
        ),
    ]


def _sales() -> list[Fact]:
    rate = 1 - DEPRECIATION_PER_YEAR
    return [
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
            "deals_count",
            "integer",
            "COALESCE(dl.deals, 0)",
            "Number of deals up to as_of where the customer is buyer or co-buyer.",
        ),
        Fact(
            "lease_maturity_date",
            "date",
            "dl.lease_maturity_date",
            "For lease deals up to as_of (buyer or co-buyer): the soonest lease maturity on or"
            " after as_of, else the latest past one; NULL if the customer never leased.",
        ),
        Fact(
            "finance_term_months",
            "integer",
            "dl.fin.term_months",
            "Term of the latest finance deal (buyer or co-buyer); NULL if none.",
        ),
        Fact("finance_apr", "decimal", "dl.fin.apr", "APR of the latest finance deal."),
        Fact(
            "finance_payoff_amount",
            "decimal",
            "dl.fin.payoff_amount",
            "Payoff amount the DMS holds for the latest finance deal.",
        ),
        Fact(
            "finance_end_date",
            "date",
            "CAST(dl.fin.date + to_months(dl.fin.term_months) AS DATE)",
            "When the latest finance deal's term ends: deal date + term months.",
        ),
        Fact(
            "finance_months_remaining",
            "integer",
            "CASE WHEN dl.fin.date + to_months(dl.fin.term_months) < {as_of} THEN 0"
            " ELSE date_sub('month', {as_of}, dl.fin.date + to_months(dl.fin.term_months)) END",
            "Whole calendar months from as_of to finance_end_date, 0 once it has passed; NULL"
            " without a finance deal with a term.",
        ),
        Fact(
            "estimated_equity",
            "decimal",
            f"round(dl.fin.sale_price * pow({rate}, date_diff('day', dl.fin.date, {{as_of}})"
            " / 365.25) - dl.fin.payoff_amount, 2)",
            f"Latest finance deal: sale_price depreciated {DEPRECIATION_PER_YEAR:.0%} a year to"
            " as_of, minus finance_payoff_amount (positive: likely equity). A rough estimate;"
            " a plugin with a valuation feed can register a better fact.",
        ),
    ]


def _engagement() -> list[Fact]:
    return [
        Fact(
            "email_opens_90d",
            "integer",
            "COALESCE(ev.email_opens_90d, 0)",
            "Email open events dated as_of - 90 days through as_of, inclusive. Other windows:"
            " count events.",
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
        Fact(
            "last_email_click_date",
            "date",
            "ev.last_email_click_date",
            "Date of the latest email click event up to as_of; NULL if none.",
        ),
        Fact(
            "last_lead_date",
            "date",
            "ld.last_lead_date",
            "Creation day of the customer's latest lead up to as_of; NULL if none.",
        ),
        Fact(
            "lead_source",
            "text",
            "ld.lead_source",
            "Source of that latest lead, lower case (website, third_party, walk_in...).",
        ),
        Fact(
            "lead_stage",
            "text",
            "ld.lead_stage",
            "CRM stage of that latest lead, lower case (new, contacted, appointment, sold, lost).",
        ),
        Fact(
            "lifecycle_stage",
            "text",
            "CASE WHEN dl.last_sale_date IS NOT NULL THEN 'owner'"
            " WHEN ro.visits > 0 THEN 'service_customer'"
            " WHEN ld.leads > 0 THEN 'lead' ELSE 'prospect' END",
            "owner (bought here: a deal as buyer or co-buyer), else service_customer (serviced"
            " here), else lead (a CRM lead), else prospect.",
        ),
    ]


def _vehicle_grain() -> list[Fact]:
    def col(name: str, type_: FactType, description: str, sql: str | None = None) -> Fact:
        return Fact(name, type_, sql or f"v.{name}", description, grain="vehicle")

    return [
        col("vin", "text", "Vehicle identification number as the source holds it."),
        col("year", "integer", "Model year."),
        col("make", "text", "Make, lower case.", "lower(trim(v.make))"),
        col("model", "text", "Model, lower case.", "lower(trim(v.model))"),
        col("fuel_type", "text", "Fuel type, lower case.", "lower(trim(v.fuel_type))"),
        col("purchased_on", "date", "When the customer got the vehicle."),
        col("owned", "boolean", "Not disposed of as of as_of, and purchased on or before it."),
        col("warranty_end", "date", "End of the vehicle's warranty."),
        col(
            "odometer",
            "integer",
            "Latest odometer reading up to as_of: the vehicle record's or a repair order's.",
        ),
        col("odometer_date", "date", "Date of that reading."),
        col(
            "estimated_mileage",
            "integer",
            f"odometer + daily rate x days from odometer_date to as_of. Rate: between the first"
            f" and latest readings if 60+ days apart and rising, else"
            f" {DEFAULT_MILES_PER_YEAR:,} miles a year.",
        ),
        col(
            "vehicle_last_service_date",
            "date",
            "Latest repair order of this vehicle up to as_of (internal excluded).",
        ),
        col(
            "vehicle_months_since_service",
            "integer",
            "Whole calendar months from vehicle_last_service_date to as_of.",
            "date_sub('month', v.vehicle_last_service_date, {as_of})",
        ),
        col(
            "vehicle_miles_since_service",
            "integer",
            "estimated_mileage minus the odometer of the vehicle's latest repair order that"
            " recorded one (never below 0).",
        ),
    ]


def default_facts() -> list[Fact]:
    """The facts every dealersync warehouse has. Add one here (or from a plugin) to extend."""
    return [
        *_customer(),
        *_consent(),
        *_service(),
        *_vehicles(),
        *_sales(),
        *_engagement(),
        *_vehicle_grain(),
    ]
