"""The fast forms of the facts SQL against their definitions, on random data full of edge cases.

build_facts ranks duplicates only, reads odometer readings as packed keys and builds the vehicle
lists from min/max for customers with at most 2 owned vehicles; each must equal the plain SQL it
replaces (kept here as the definition): duplicates and ties, NULLs, case and blanks, 0-3+
vehicles.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import duckdb
import pytest
from dealersync.errors import ConfigError
from dealersync.facts import Fact, FactRegistry, build_facts, default_facts
from dealersync.facts.build import (
    _AGGREGATE_CTES,
    _CUSTOMER_ORDER,
    VEHICLES_SQL,
    _latest_rows_sql,
)
from dealersync.facts.defaults import DEFAULT_MILES_PER_YEAR
from dealersync.facts.relations import scoped
from dealersync.model import TABLES, create_table_sql

AS_OF = dt.date(2026, 11, 23)

#: The definition of ``_vehicles`` (every row ranked; readings compared as (day, miles) pairs).
VEHICLES_DEFINITION = f"""
WITH _p AS (SELECT CAST($as_of AS DATE) AS as_of),
v AS (
    SELECT vh.* FROM vehicles AS vh, _p
    WHERE vh.vehicle_id IS NOT NULL AND (vh.purchased_on IS NULL OR vh.purchased_on <= _p.as_of)
    QUALIFY row_number() OVER (PARTITION BY vh.vehicle_id ORDER BY vh._source, vh._line) = 1),
rv AS (SELECT vehicle_id, date, odometer FROM rel_service_visits WHERE vehicle_id IS NOT NULL),
readings AS (
    SELECT v.vehicle_id, v.odometer_date AS d, v.odometer AS miles
    FROM v, _p WHERE v.odometer > 0 AND v.odometer_date <= _p.as_of
    UNION ALL
    SELECT vehicle_id, date, odometer FROM rv WHERE odometer > 0),
od AS (
    SELECT vehicle_id, max({{'d': d, 'm': miles}}) AS last, min({{'d': d, 'm': -miles}}) AS first
    FROM readings GROUP BY vehicle_id),
sv AS (
    SELECT vehicle_id, max(date) AS last_service,
           max({{'d': date, 'm': odometer}}) FILTER (WHERE odometer > 0) AS service
    FROM rv GROUP BY vehicle_id),
est AS (
    SELECT v.*, od.last.m AS odometer_now, od.last.d AS odometer_date_now,
           sv.last_service, sv.service.m AS service_odometer,
           CAST(round(od.last.m + (_p.as_of - od.last.d) * CASE
               WHEN od.last.d - od.first.d >= 60 AND od.last.m > -od.first.m
               THEN (od.last.m + od.first.m) / (od.last.d - od.first.d)
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

#: The definition of the vehicle lists of ``vh``.
VEHICLE_LISTS_DEFINITION = """
SELECT customer_id,
       count(*) FILTER (WHERE owned) AS vehicles_owned,
       list_sort(list_distinct(list(lower(trim(make))) FILTER (WHERE owned))) AS makes,
       list_sort(list_distinct(list(lower(trim(model))) FILTER (WHERE owned))) AS models,
       list_sort(list_distinct(list(lower(trim(fuel_type))) FILTER (WHERE owned))) AS fuel_types
FROM _vehicles WHERE customer_id IS NOT NULL GROUP BY customer_id"""


def _pick(rng: random.Random, *values: Any) -> Any:
    return values[rng.randrange(len(values))]


def _warehouse(seed: int) -> Any:
    """Random customers, vehicles and repair orders, small value domains (so ties happen).

    Duplicate rows differ in (_source, _line), as loaded rows do (a NULL line: an API record,
    its own source here), so the row a key keeps is determined.
    """
    rng = random.Random(seed)

    def lineage(i: int) -> tuple[str, int | None]:
        return (f"api{i}", None) if rng.random() < 0.2 else (_pick(rng, "dms", "crm"), i)

    con = duckdb.connect()
    for table in TABLES.values():
        con.execute(create_table_sql(table))
    day = lambda: AS_OF - dt.timedelta(days=rng.randrange(-30, 900))  # noqa: E731
    customers, vehicles, ros = [], [], []
    for i in range(400):
        cid = _pick(rng, f"C{i}", f"C{i % 50}", None) if rng.random() < 0.2 else f"C{i}"
        updated = _pick(rng, None, dt.datetime(2026, 1, 1), dt.datetime(2026, 1 + i % 3, 1))
        customers.append(
            (cid, f"name{i}", _pick(rng, "1 Main Street", "1 main st", None, "#2 Oak Ave"),
             _pick(rng, "12345", "12345-678", None), updated, *lineage(i))
        )
    for i in range(700):
        vid = f"V{rng.randrange(500)}"
        vehicles.append(
            (vid, _pick(rng, f"C{rng.randrange(40)}", None),
             _pick(rng, "Ford", " ford ", "TOYOTA", "Honda", "Kia", "BMW ", None, ""),
             _pick(rng, "F-150", "camry", " Civic", None),
             _pick(rng, "gas", "Hybrid", "electric", None),
             _pick(rng, None, 0, -5, 10_000, 10_000 + rng.randrange(50_000)), day(),
             _pick(rng, None, day()), _pick(rng, None, None, day(), AS_OF), _pick(rng, None, day()),
             _pick(rng, 2015, 2020, None), *lineage(i))
        )
    for i in range(1500):
        opened = _pick(rng, None, day(), AS_OF - dt.timedelta(days=100))
        ros.append(
            (f"R{i}", _pick(rng, f"C{rng.randrange(60)}", None), f"V{rng.randrange(520)}",
             opened, _pick(rng, None, day()), _pick(rng, "customer", "warranty", "Internal"),
             _pick(rng, None, 0, 20_000, 20_000 + rng.randrange(40_000)))
        )
    con.executemany(
        "INSERT INTO customers (customer_id, first_name, address_line1, postal_code, updated_at,"
        " _source, _line) VALUES (?, ?, ?, ?, ?, ?, ?)",
        customers,
    )
    con.executemany(
        "INSERT INTO vehicles (vehicle_id, customer_id, make, model, fuel_type, odometer,"
        " odometer_date, purchased_on, disposed_on, warranty_end, year, _source, _line)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vehicles,
    )
    con.executemany(
        "INSERT INTO repair_orders (ro_id, customer_id, vehicle_id, opened_on, closed_on,"
        " pay_type, odometer) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ros,
    )
    return con


def _same(con: Any, a: str, b: str, params: dict[str, Any] | None = None) -> None:
    def run(sql: str) -> Any:
        return con.execute(sql, {k: v for k, v in (params or {}).items() if f"${k}" in sql})

    types_a = run(f"DESCRIBE {a}").fetchall()
    types_b = run(f"DESCRIBE {b}").fetchall()
    assert [r[:2] for r in types_a] == [r[:2] for r in types_b]
    for x, y in ((a, b), (b, a)):
        extra = run(f"SELECT count(*) FROM (({x}) EXCEPT ALL ({y}))").fetchone()
        assert extra == (0,), (x[:60], y[:60])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_forms_equal_their_definitions(seed: int) -> None:
    con = _warehouse(seed)
    build_facts(con, FactRegistry(default_facts()), as_of=AS_OF)
    assert con.execute("SELECT count(*) FROM _vehicles").fetchone()[0] > 100  # type: ignore[index]
    # duplicates ranked like QUALIFY row_number() over every row
    order = _CUSTOMER_ORDER
    _same(
        con,
        scoped(_latest_rows_sql("*", "customers", "customer_id", order, "@cscope@"), None),
        "SELECT * FROM customers WHERE customer_id IS NOT NULL"
        f" QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY {order}) = 1",
    )
    _same(con, VEHICLES_SQL, VEHICLES_DEFINITION, {"as_of": AS_OF})
    _same(con, "SELECT * FROM _vehicles", VEHICLES_DEFINITION, {"as_of": AS_OF})
    vh = f"WITH _p AS (SELECT DATE '{AS_OF}' AS as_of), vh AS ({scoped(_AGGREGATE_CTES['vh'], None)})"
    _same(
        con,
        f"{vh} SELECT customer_id, vehicles_owned, makes, models, fuel_types FROM vh",
        VEHICLE_LISTS_DEFINITION,
    )
    lists = con.execute(
        f"{vh} SELECT count(*) FILTER (WHERE makes = []), count(*) FILTER (WHERE makes IS NULL),"
        " max(len(makes)) FROM vh"
    ).fetchone()
    assert lists is not None and lists[0] > 0 and lists[1] > 0 and lists[2] >= 3


def test_build_leaves_the_connection_settings_as_they_were() -> None:
    con = _warehouse(4)
    con.execute("SET disabled_optimizers = 'join_order'")
    build_facts(con, FactRegistry(default_facts()), as_of=AS_OF)
    setting = "SELECT current_setting('disabled_optimizers')"
    assert con.execute(setting).fetchone() == ("join_order",)
    con.execute("RESET disabled_optimizers")
    broken = FactRegistry(default_facts())
    broken.register(Fact("broken", "integer", "ro.no_such_column", "Broken."))
    with pytest.raises(ConfigError):
        build_facts(con, broken, as_of=AS_OF - dt.timedelta(days=1))
    assert con.execute(setting).fetchone() == ("",)
