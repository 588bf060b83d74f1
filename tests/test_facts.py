"""customer_facts on a small hand-built dealership: every default fact, exact values."""

from __future__ import annotations

import datetime as dt
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
from dealersync.model import TABLES, create_table_sql

D = dt.date
TS = dt.datetime
AS_OF = D(2026, 11, 23)


def insert(con: Any, table: str, *rows: dict[str, Any]) -> None:
    for row in rows:
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(row.values()))


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


def line(ro_id: str, no: int, op: str, status: str | None = "performed") -> dict[str, Any]:
    return {"ro_id": ro_id, "line_no": no, "op_code": op, "status": status}


@pytest.fixture
def con() -> Any:
    """Six customers; as_of is 2026-11-23."""
    con = duckdb.connect()
    for table in TABLES.values():
        con.execute(create_table_sql(table))
    insert(
        con,
        "customers",
        customer(
            "C1",
            first_name="Ann",
            last_name="Loyal",
            email="ann@example.com",
            city="Austin",
            state="TX",
            postal_code="78701",
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
        customer("C2", first_name="Bob", state="TX", preferred_channel="sms", do_not_call=True),
        customer("C3", first_name="Cara", preferred_channel="phone"),
        customer("C4", first_name="Dan", do_not_market=True),
        customer("C5", first_name="Eve"),
        customer("C6", first_name="Fay"),
    )
    insert(
        con,
        "repair_orders",
        # C1: today (as_of), 2026-05-01 (warranty), 2025-06-01
        ro("R1", "C1", D(2026, 11, 23), total=100.0),
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
        {"deal_id": "D2", "customer_id": "C1", "deal_date": D(2021, 1, 1), "deal_type": "finance"},
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
        {"vehicle_id": "V1", "customer_id": "C1", "purchased_on": D(2024, 3, 1)},
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
    yield con
    con.close()


def facts(con: Any) -> dict[str, dict[str, Any]]:
    cur = con.execute("SELECT * FROM customer_facts ORDER BY customer_id")
    names = [d[0] for d in cur.description]
    return {row[0]: dict(zip(names, row)) for row in cur.fetchall()}


EXPECTED: dict[str, dict[str, Any]] = {
    "C1": {
        "first_name": "Ann",
        "last_name": "Loyal",
        "email": "ann@example.com",
        "city": "Austin",
        "state": "TX",
        "postal_code": "78701",
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
    assert set(EXPECTED["C1"]) | {"customer_id"} == {f.name for f in default_facts()}
    for cid, expected in EXPECTED.items():
        for name, value in expected.items():
            assert got[cid][name] == value, (cid, name)


def test_columns_follow_registry_order_and_types(con: Any) -> None:
    reg = FactRegistry.default()
    build_facts(con, reg, as_of=AS_OF)
    described = con.execute("DESCRIBE customer_facts").fetchall()
    assert [(r[0], r[1]) for r in described] == [(f.name, FACT_TYPES[f.type]) for f in reg]
    assert facts_as_of(con) == AS_OF


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
