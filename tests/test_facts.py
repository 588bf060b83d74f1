"""customer_facts on a small hand-built dealership: every default fact, exact values."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import duckdb
import pytest
from dealersync.errors import ConfigError
from dealersync.facts import (
    FACT_TYPES,
    Fact,
    FactRegistry,
    build_facts,
    category_date_fact,
    default_facts,
    facts_as_of,
    merged_opcodes,
)

from tests.support.samples import dealer_tables, insert
from tests.support.samples import ro_line as line

D = dt.date
TS = dt.datetime
AS_OF = D(2026, 11, 23)


def customer(cid: str, **kw: Any) -> dict[str, Any]:
    return {"customer_id": cid, "_source": "dms", "_source_id": cid, **kw}


def ro(
    ro_id: str, cid: str, opened: D | None, pay: str = "customer", total: float = 0.0, **kw: Any
):
    return {
        "ro_id": ro_id,
        "customer_id": cid,
        "opened_on": opened,
        "pay_type": pay,
        "total": total,
        **kw,
    }


@pytest.fixture
def con() -> Any:
    """Six customers; as_of is 2026-11-23."""
    con = dealer_tables()
    insert(
        con,
        "customers",
        customer(
            "C1",
            first_name="Ann",
            last_name="Loyal",
            address_line1="12 Main Street, Apartment 4",
            email="ann@example.com",
            city="Austin",
            state="TX",
            postal_code="78701-1234",
            country="US",
            birth_year=1980,
            preferred_channel="email",
            email_opt_in=True,
            sms_opt_in=False,
            do_not_email=False,
            do_not_call=False,
            do_not_mail=False,
            do_not_market=False,
            created_at=TS(2020, 1, 5, 10, 0),
        ),
        customer(
            "C2",
            first_name="Bob",
            state="TX",
            preferred_channel="SMS ",
            do_not_call=True,
            address_line1="12 main st. #4",  # the same household as C1
            postal_code="78701",
        ),
        customer("C3", first_name="Cara", preferred_channel="phone"),
        customer("C4", first_name="Dan", do_not_market=True),
        customer("C5", first_name="Eve"),
        customer("C6", first_name="Fay"),
    )
    insert(
        con,
        "repair_orders",
        # C1: today (as_of), 2026-05-01 (warranty), 2025-06-01
        ro("R1", "C1", D(2026, 11, 23), total=100.0, vehicle_id="V1", odometer=22_000),
        ro("R2", "C1", D(2026, 5, 1), pay="warranty", total=0.0),
        ro("R3", "C1", D(2025, 6, 1), total=250.0),
        # C2: exactly 12 calendar months ago
        ro("R4", "C2", D(2025, 11, 23), total=80.5),
        # C3: 11 months ago; a later RO after as_of is ignored
        ro("R5", "C3", D(2025, 11, 24), pay="Customer", total=40.0),
        ro("R6", "C3", D(2026, 12, 1), total=999.0),
        # C4: exactly 24 months ago; an internal RO does not count as a visit
        ro("R7", "C4", D(2024, 11, 23), total=60.0),
        ro("R8", "C4", D(2026, 1, 1), pay="internal", total=500.0),
        # C6: no open date, closed 23 months ago
        ro("R9", "C6", None, pay="warranty", closed_on=D(2024, 11, 24)),
    )
    insert(
        con,
        "ro_lines",
        line("R1", 1, "LOF"),
        line("R1", 2, "TIRE4"),
        line("R1", 3, "ZZZ"),  # unknown op code: no category
        line("R2", 1, "BRKF", "declined"),
        line("R3", 1, "BRKR"),
        line("R3", 2, "ALIGN", "declined"),
        line("R3", 3, "ALIGN", "performed"),  # same RO: performed, so not declined
        line("R4", 1, "ALIGN"),
        line("R4", 2, "BATT", "recommended"),
        line("R5", 1, "XTIRE", None),  # only a tire with the override; no status = performed
        line("R6", 1, "BATT"),  # after as_of: ignored
        line("R7", 1, " lof ", "Performed"),
        line("R8", 1, "BRKF"),  # internal RO: ignored
        line("R9", 1, "BATT", "declined"),
    )
    insert(
        con,
        "deals",
        {
            "deal_id": "D1",
            "customer_id": "C1",
            "deal_date": D(2024, 3, 1),
            "deal_type": "lease",
            "lease_maturity_date": D(2027, 3, 1),
        },
        {
            "deal_id": "D2",
            "customer_id": "C1",
            "deal_date": D(2021, 1, 1),
            "deal_type": "finance",
            "term_months": 60,
            "apr": 5.9,
            "payoff_amount": 5_000.0,
            "sale_price": 30_000.0,
        },
        {
            "deal_id": "D3",
            "customer_id": "C2",
            "co_buyer_customer_id": "C3",
            "deal_date": D(2025, 12, 1),
            "deal_type": "Cash",
        },
        {
            "deal_id": "D4",
            "customer_id": "C4",
            "deal_date": D(2020, 1, 1),
            "deal_type": "lease",
            "lease_maturity_date": D(2023, 1, 1),
        },
        {
            "deal_id": "D5",
            "customer_id": "C4",
            "deal_date": D(2019, 1, 1),
            "deal_type": "lease",
            "lease_maturity_date": D(2022, 6, 1),
        },
        {
            "deal_id": "D6",
            "customer_id": "C6",
            "deal_date": D(2024, 6, 1),
            "deal_type": "lease",
            "lease_maturity_date": D(2027, 6, 30),
        },
        {
            "deal_id": "D7",
            "customer_id": "C6",
            "deal_date": D(2023, 11, 23),
            "deal_type": "lease",
            "lease_maturity_date": D(2026, 11, 23),
        },
        {"deal_id": "D8", "customer_id": "C5", "deal_date": D(2027, 1, 1), "deal_type": "cash"},
    )
    insert(
        con,
        "vehicles",
        {
            "vehicle_id": "V1",
            "customer_id": "C1",
            "purchased_on": D(2024, 3, 1),
            "vin": "1FTFW1E50PFA00001",
            "year": 2024,
            "make": "Ford",
            "model": "F-150",
            "fuel_type": "Gas",
            "odometer": 10_000,
            "odometer_date": D(2025, 3, 1),
            "warranty_end": D(2027, 3, 1),
        },
        {"vehicle_id": "V2", "customer_id": "C1", "disposed_on": D(2024, 3, 1)},
        {"vehicle_id": "V3", "customer_id": "C2", "disposed_on": D(2026, 12, 1)},  # still owned
        {"vehicle_id": "V4", "customer_id": "C2", "purchased_on": D(2026, 12, 1)},  # not yet
    )
    ev = [
        ("E1", "C1", TS(2026, 11, 23, 9, 0), "email", "open"),
        ("E2", "C1", TS(2026, 8, 25, 0, 0), "email", "open"),  # as_of - 90: inside
        ("E3", "C1", TS(2026, 8, 24, 23, 59), "email", "open"),  # as_of - 91: outside
        ("E4", "C1", TS(2026, 10, 1, 12, 0), "email", "click"),
        ("E5", "C1", TS(2026, 10, 1, 12, 0), "sms", "click"),
        ("E6", "C1", TS(2026, 11, 24, 8, 0), "email", "open"),  # after as_of
        ("E7", "C2", TS(2026, 1, 1, 8, 0), "Email", "Open"),
    ]
    insert(
        con,
        "events",
        *[dict(zip(("event_id", "customer_id", "occurred_at", "channel", "type"), e)) for e in ev],
    )
    insert(
        con,
        "leads",
        {"lead_id": "L1", "customer_id": "C1", "created_at": TS(2026, 1, 1, 9), "source": " Website",
         "stage": "Sold"},
        {"lead_id": "L0", "customer_id": "C1", "created_at": TS(2025, 1, 1, 9), "source": "chat"},
        {"lead_id": "L5", "customer_id": "C5", "created_at": TS(2026, 2, 1, 9), "source": "chat"},
    )  # fmt: skip
    yield con
    con.close()


def facts(con: Any) -> dict[str, dict[str, Any]]:
    cur = con.execute("SELECT * FROM customer_facts ORDER BY customer_id")
    names = [d[0] for d in cur.description]
    return {row[0]: dict(zip(names, row)) for row in cur.fetchall()}


#: md5 of the normalized address and the 5-character postal code.
_household = hashlib.md5(b"12 main st apt 4|78701").hexdigest()

EXPECTED: dict[str, dict[str, Any]] = {
    "C1": {
        "first_name": "Ann",
        "last_name": "Loyal",
        "email": "ann@example.com",
        "city": "Austin",
        "state": "TX",
        "postal_code": "78701-1234",
        "country": "US",
        "birth_year": 1980,
        "preferred_channel": "email",
        "email_opt_in": True,
        "sms_opt_in": False,
        "do_not_email": False,
        "do_not_call": False,
        "do_not_mail": False,
        "do_not_market": False,
        "created_at": TS(2020, 1, 5, 10, 0),
        "first_service_date": D(2025, 6, 1),
        "last_service_date": D(2026, 11, 23),
        "service_visits": 3,
        "service_visits_12m": 2,
        "customer_pay_total": 350.0,
        "months_since_last_service": 0,
        "categories_purchased": ["alignment", "brakes", "oil", "tires"],
        "last_tires_date": D(2026, 11, 23),
        "last_brakes_date": D(2025, 6, 1),
        "last_oil_date": D(2026, 11, 23),
        "last_battery_date": None,
        "last_alignment_date": D(2025, 6, 1),
        "declined_categories": ["brakes"],
        "vehicles_owned": 1,
        "last_sale_date": D(2024, 3, 1),
        "last_deal_type": "lease",
        "lease_maturity_date": D(2027, 3, 1),
        "email_opens_90d": 2,
        "email_clicks_90d": 1,
        "last_email_open_date": D(2026, 11, 23),
        "ads_consent": True,
        "email_consent": True,
        "sms_consent": False,
        "phone_consent": True,
        "mail_consent": True,
        "household_id": _household,
        "household_size": 2,
        "service_visits_24m": 3,
        "customer_pay_12m": 100.0,
        "last_declined_date": D(2026, 5, 1),
        "miles_since_last_service": 0,  # V1's latest reading is today's RO
        "vehicle_makes": ["ford"],
        "vehicle_models": ["f-150"],
        "vehicle_fuel_types": ["gas"],
        "newest_vehicle_year": 2024,
        "max_estimated_mileage": 22_000,
        "warranty_end_date": D(2027, 3, 1),
        "deals_count": 2,
        "finance_term_months": 60,
        "finance_apr": 5.9,
        "finance_payoff_amount": 5_000.0,
        "finance_end_date": D(2026, 1, 1),
        "finance_months_remaining": 0,
        "estimated_equity": round(30_000 * 0.85 ** ((AS_OF - D(2021, 1, 1)).days / 365.25) - 5_000, 2),
        "last_email_click_date": D(2026, 10, 1),
        "last_lead_date": D(2026, 1, 1),
        "lead_source": "website",
        "lead_stage": "sold",
        "lifecycle_stage": "owner",
    },
    "C2": {
        "first_service_date": D(2025, 11, 23),
        "last_service_date": D(2025, 11, 23),
        "service_visits": 1,
        "service_visits_12m": 0,
        "customer_pay_total": 80.5,
        "months_since_last_service": 12,
        "categories_purchased": ["alignment"],
        "last_alignment_date": D(2025, 11, 23),
        "declined_categories": ["battery"],
        "vehicles_owned": 1,
        "last_sale_date": D(2025, 12, 1),
        "last_deal_type": "cash",
        "lease_maturity_date": None,
        "email_opens_90d": 0,
        "last_email_open_date": D(2026, 1, 1),
        "do_not_call": True,
        "preferred_channel": "sms",
        "household_id": _household,
        "household_size": 2,
        "phone_consent": False,
        "vehicle_makes": [],
        "miles_since_last_service": None,
        "finance_months_remaining": None,
    },
    "C3": {
        "last_service_date": D(2025, 11, 24),
        "service_visits": 1,
        "service_visits_12m": 1,
        "customer_pay_total": 40.0,
        "months_since_last_service": 11,
        "categories_purchased": [],
        "last_tires_date": None,
        "declined_categories": [],
        "last_sale_date": D(2025, 12, 1),
        "last_deal_type": "cash",
    },
    "C4": {
        "last_service_date": D(2024, 11, 23),
        "service_visits": 1,
        "service_visits_12m": 0,
        "customer_pay_total": 60.0,
        "months_since_last_service": 24,
        "categories_purchased": ["oil"],
        "last_oil_date": D(2024, 11, 23),
        "last_brakes_date": None,
        "last_deal_type": "lease",
        "lease_maturity_date": D(2023, 1, 1),
        "do_not_market": True,
    },
    "C5": {
        "first_service_date": None,
        "last_service_date": None,
        "service_visits": 0,
        "service_visits_12m": 0,
        "customer_pay_total": 0.0,
        "months_since_last_service": None,
        "categories_purchased": [],
        "declined_categories": [],
        "vehicles_owned": 0,
        "last_sale_date": None,
        "last_deal_type": None,
        "lease_maturity_date": None,
        "email_opens_90d": 0,
        "email_clicks_90d": 0,
        "last_email_open_date": None,
        "household_id": None,
        "household_size": 1,
        "lifecycle_stage": "lead",
        "lead_source": "chat",
        "lead_stage": None,
    },
    "C6": {
        "last_service_date": D(2024, 11, 24),
        "service_visits": 1,
        "customer_pay_total": 0.0,
        "months_since_last_service": 23,
        "categories_purchased": [],
        "declined_categories": ["battery"],
        "last_sale_date": D(2024, 6, 1),
        "lease_maturity_date": D(2026, 11, 23),
    },
}


def test_every_default_fact_for_every_customer(con: Any) -> None:
    build_facts(con, FactRegistry.default(), as_of=AS_OF)
    got = facts(con)
    assert list(got) == ["C1", "C2", "C3", "C4", "C5", "C6"]
    # C1 is specified in full: every default fact is checked at least once.
    assert set(EXPECTED["C1"]) | {"customer_id"} == {
        f.name for f in default_facts() if f.grain == "customer"
    }
    for cid, expected in EXPECTED.items():
        for name, value in expected.items():
            assert got[cid][name] == value, (cid, name)


def test_columns_follow_registry_order_and_types(con: Any) -> None:
    reg = FactRegistry.default()
    build_facts(con, reg, as_of=AS_OF)
    described = con.execute("DESCRIBE customer_facts").fetchall()
    assert [(r[0], r[1]) for r in described] == [
        (f.name, FACT_TYPES[f.type]) for f in reg.of_grain("customer")
    ]
    described = con.execute("DESCRIBE vehicle_facts").fetchall()
    assert [(r[0], r[1]) for r in described] == [
        ("vehicle_id", "VARCHAR"),
        ("customer_id", "VARCHAR"),
        *[(f.name, FACT_TYPES[f.type]) for f in reg.of_grain("vehicle")],
    ]
    assert facts_as_of(con) == AS_OF


def test_vehicle_facts(con: Any) -> None:
    insert(
        con,
        "vehicles",
        {"vehicle_id": "V5", "customer_id": "C5", "odometer": 20_000, "odometer_date": D(2025, 11, 23)},
        {"vehicle_id": "V6", "customer_id": "C6", "purchased_on": D(2020, 1, 1)},
    )  # fmt: skip
    insert(
        con,
        "repair_orders",
        ro("R50", "C5", D(2026, 5, 22), vehicle_id="V5", odometer=23_000),  # 180 days later
    )
    build_facts(con, FactRegistry.default(), as_of=AS_OF)
    cur = con.execute("SELECT * FROM vehicle_facts ORDER BY vehicle_id")
    names = [d[0] for d in cur.description]
    got = {row[0]: dict(zip(names, row)) for row in cur.fetchall()}
    assert sorted(got) == ["V1", "V2", "V3", "V5", "V6"]  # V4 is bought after as_of
    v1 = got["V1"]
    assert (v1["make"], v1["model"], v1["fuel_type"], v1["year"], v1["owned"]) == (
        "ford", "f-150", "gas", 2024, True
    )  # fmt: skip
    assert (v1["odometer"], v1["odometer_date"], v1["estimated_mileage"]) == (
        22_000, AS_OF, 22_000
    )  # fmt: skip
    assert (v1["vehicle_last_service_date"], v1["vehicle_months_since_service"]) == (AS_OF, 0)
    assert got["V2"]["owned"] is False
    # V5: 3,000 miles in 180 days, 185 days more since: 23,000 + 185 * 3,000 / 180
    assert got["V5"]["estimated_mileage"] == round(23_000 + 185 * 3_000 / 180)
    assert got["V5"]["vehicle_miles_since_service"] == round(185 * 3_000 / 180)
    assert got["V5"]["vehicle_months_since_service"] == 6
    # V6: no reading at all
    assert got["V6"]["estimated_mileage"] is None and got["V6"]["vehicle_miles_since_service"] is None
    assert facts(con)["C5"]["miles_since_last_service"] == 3_083


def test_months_since_last_service_calendar_boundaries(con: Any) -> None:
    # the day before the 12- and 24-month anniversaries is still 11 and 23 months
    build_facts(con, FactRegistry.default(), as_of=D(2026, 11, 22))
    got = facts(con)
    assert got["C2"]["months_since_last_service"] == 11
    assert got["C4"]["months_since_last_service"] == 23
    assert got["C2"]["service_visits_12m"] == 1
    assert got["C5"]["months_since_last_service"] is None


def test_as_of_cuts_later_records(con: Any) -> None:
    build_facts(con, FactRegistry.default(), as_of=D(2027, 1, 15))
    got = facts(con)
    assert got["C3"]["last_service_date"] == D(2026, 12, 1)  # R6 now counts
    assert got["C3"]["categories_purchased"] == ["battery"]
    assert got["C5"]["last_sale_date"] == D(2027, 1, 1)
    assert got["C2"]["vehicles_owned"] == 1  # V3 disposed, V4 purchased
    assert got["C1"]["email_opens_90d"] == 2  # E1 and E6; E2 fell out of the window
    assert got["C6"]["lease_maturity_date"] == D(2027, 6, 30)


def test_opcode_overrides(con: Any) -> None:
    build_facts(con, FactRegistry.default(), as_of=AS_OF, opcodes={"xtire": "Tires"})
    got = facts(con)
    assert got["C3"]["last_tires_date"] == D(2025, 11, 24)
    assert got["C3"]["categories_purchased"] == ["tires"]
    assert con.execute("SELECT category FROM _opcodes WHERE op_code = 'XTIRE'").fetchall() == [
        ("tires",)
    ]
    with pytest.raises(ConfigError, match=r"^opcodes\.X: category 'two words'"):
        merged_opcodes({"X": "two words"})


def test_custom_fact_with_as_of_and_category_helper(con: Any) -> None:
    reg = FactRegistry.default()
    reg.register(
        Fact(
            "days_since_created",
            "integer",
            "date_diff('day', CAST(c.created_at AS DATE), {as_of})",
            "Days since the record was created.",
        ),
        origin="dealersync-extra",
    )
    reg.register(
        Fact("declined_battery_on", "date", "svc.declined_battery", "Last declined battery."),
        origin="dealersync-extra",
    )
    reg.register(category_date_fact("wipers"))
    build_facts(con, reg, as_of=AS_OF)
    got = facts(con)
    assert got["C1"]["days_since_created"] == (AS_OF - D(2020, 1, 5)).days
    assert got["C5"]["days_since_created"] is None
    assert got["C2"]["declined_battery_on"] == D(2025, 11, 23)
    assert got["C1"]["last_wipers_date"] is None


def test_only_needed_aggregates_are_joined(con: Any) -> None:
    reg = FactRegistry([f for f in default_facts() if f.name in ("customer_id", "email")])
    build_facts(con, reg, as_of=AS_OF)
    assert [d[0] for d in con.execute("SELECT * FROM customer_facts").description] == [
        "customer_id",
        "email",
    ]
    # customer_id is always there even if a registry leaves it out
    build_facts(con, FactRegistry([f for f in default_facts() if f.name == "email"]), as_of=AS_OF)
    assert con.execute("SELECT count(*) FROM customer_facts").fetchone() == (6,)


def test_duplicate_customer_rows_give_one_fact_row(con: Any) -> None:
    insert(con, "customers", customer("C1", first_name="Annie", _source="crm"))
    build_facts(con, FactRegistry.default(), as_of=AS_OF)
    assert con.execute(
        "SELECT count(*) FROM customer_facts WHERE customer_id = 'C1'"
    ).fetchone() == (1,)


def test_empty_warehouse_builds() -> None:
    con = duckdb.connect()
    build_facts(con, FactRegistry.default(), as_of=AS_OF)
    assert con.execute("SELECT count(*) FROM customer_facts").fetchone() == (0,)


def test_registry_errors() -> None:
    reg = FactRegistry.default()
    with pytest.raises(ConfigError) as err:
        reg.register(Fact("email", "text", "c.email", "Another email"), origin="dealersync-crm")
    assert err.value.message == (
        "fact 'email' is defined twice: by dealersync (Email address as the source holds it"
        " (not normalized).) and by dealersync-crm (Another email)"
    )
    with pytest.raises(ConfigError) as err:
        reg.get("last_servce_date")
    assert err.value.message == (
        "unknown fact 'last_servce_date' (closest: last_service_date, first_service_date)"
    )
    with pytest.raises(ConfigError, match="no close match among"):
        reg.get("zzzzzz")
    with pytest.raises(ConfigError, match="invalid name"):
        reg.register(Fact("Bad Name", "text", "1", ""))
    with pytest.raises(ConfigError, match="unknown type 'money'"):
        reg.register(Fact("x", "money", "1", ""))  # type: ignore[arg-type]
    assert reg.names()[0] == "customer_id" and "email" in reg and len(reg) == len(default_facts())


def test_broken_fact_sql_is_named(con: Any) -> None:
    reg = FactRegistry.default()
    reg.register(Fact("oops", "integer", "ro.no_such_column", "Broken."), origin="dealersync-bad")
    with pytest.raises(ConfigError, match=r"^fact 'oops' \(dealersync-bad\): its SQL does not run"):
        build_facts(con, reg, as_of=AS_OF)
    # a category the op-code catalog does not know
    reg = FactRegistry.default()
    reg.register(category_date_fact("detailing"), origin="dealersync-detail")
    with pytest.raises(ConfigError, match=r"^fact 'last_detailing_date' \(dealersync-detail\)"):
        build_facts(con, reg, as_of=AS_OF)
    build_facts(con, reg, as_of=AS_OF, opcodes={"DETAIL": "detailing"})
    assert facts(con)["C1"]["last_detailing_date"] is None


def test_as_of_must_be_a_date(con: Any) -> None:
    with pytest.raises(ConfigError, match="as_of"):
        build_facts(con, FactRegistry.default(), as_of="2026-11-23")  # type: ignore[arg-type]
