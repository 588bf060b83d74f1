"""Incremental build_facts equals a full rebuild: the sample dealership, mutated through its tables.

Each scenario starts from the same loaded sample (2,000 customers) twice: ``inc`` gets a full
build, the mutations, the changed customer ids in the change log (what the loader records: the
``customer_id`` of every added, changed or removed row, old and new) and an incremental build;
``ref`` gets the same mutations and one full build. ``customer_facts`` and ``vehicle_facts`` of
both must be the same multiset (EXCEPT ALL both ways, same count).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dealersync.changes import record_changes, record_everything_changed
from dealersync.errors import ConfigError
from dealersync.facts import Fact, FactRegistry, build_facts, default_facts
from dealersync.model import DUCKDB_TYPES, TABLES, create_table_sql
from dealersync.sample import generate

AS_OF = dt.date(2026, 11, 23)
N = 2000
REG = FactRegistry.default()

Mutation = Callable[[Any], list[str]]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample extract loaded (every value TRY_CAST to its canonical type) into a file."""
    root = tmp_path_factory.mktemp("facts_incremental")
    generate(root / "extract", N, as_of=AS_OF)
    path = root / "base.duckdb"
    con = duckdb.connect(str(path))
    for table in TABLES.values():
        con.execute(create_table_sql(table))
        csv = root / "extract" / f"{table.name}.csv"
        if not csv.exists():
            continue
        cols = ", ".join(f'"{c.name}"' for c in table.columns)
        casts = ", ".join(
            f'TRY_CAST("{c.name}" AS {DUCKDB_TYPES[c.type]})' for c in table.columns
        )
        key = " || '|' || ".join(f'COALESCE("{k}", \'\')' for k in table.key) or "NULL"
        con.execute(
            f'INSERT INTO "{table.name}" ({cols}, _source, _source_id, _line)'
            f" SELECT {casts}, 'dms', {key}, row_number() OVER () + 1"
            f" FROM read_csv('{csv}', all_varchar = true, header = true)"
        )
    con.close()
    return path


def one(con: Any, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    assert row is not None, sql
    return row[0]


def record(con: Any, ids: list[str]) -> None:
    record_changes(con, "SELECT unnest(?::VARCHAR[])", [ids])


def assert_same_facts(inc: Any, ref_path: Path) -> None:
    inc.execute(f"ATTACH '{ref_path}' AS ref (READ_ONLY)")
    try:
        for table in ("customer_facts", "vehicle_facts"):
            cols = [r[0] for r in inc.execute(f"DESCRIBE {table}").fetchall()]
            ref_cols = [r[0] for r in inc.execute(f"DESCRIBE ref.{table}").fetchall()]
            assert cols == ref_cols, table
            types = inc.execute(f"DESCRIBE {table}").fetchall()
            assert types == inc.execute(f"DESCRIBE ref.{table}").fetchall(), table
            assert one(inc, f"SELECT count(*) FROM {table}") == one(
                inc, f"SELECT count(*) FROM ref.{table}"
            ), table
            extra = inc.execute(
                f"SELECT * FROM {table} EXCEPT ALL SELECT * FROM ref.{table} LIMIT 5"
            ).fetchall()
            missing = inc.execute(
                f"SELECT * FROM ref.{table} EXCEPT ALL SELECT * FROM {table} LIMIT 5"
            ).fetchall()
            assert (extra, missing) == ([], []), table
    finally:
        inc.execute("DETACH ref")


# ------------------------------------------------------------------------------ mutations
# Each takes a connection, changes the tables the way a load would and returns the customer ids
# the loader records. Picks are by SQL over the data, so both copies pick the same rows.


def new_service_visit(con: Any) -> list[str]:
    cid, vid = con.execute(
        "SELECT customer_id, vehicle_id FROM vehicles WHERE customer_id IS NOT NULL"
        " AND vehicle_id IS NOT NULL ORDER BY vehicle_id LIMIT 1"
    ).fetchone()
    con.execute(
        "INSERT INTO repair_orders (ro_id, customer_id, vehicle_id, opened_on, odometer, pay_type,"
        " total, _source) VALUES ('RX1', ?, ?, ?, 99000, 'customer', 123.45, 'dms')",
        [cid, vid, AS_OF - dt.timedelta(days=2)],
    )
    con.execute(
        "INSERT INTO ro_lines (ro_id, line_no, op_code, status, labor_amount, _source) VALUES"
        " ('RX1', 1, 'BRKF', 'performed', 100, 'dms'), ('RX1', 2, 'TIRE4', 'declined', 0, 'dms'),"
        " ('RX1', 3, 'LOF', NULL, 40, 'dms')"
    )
    return [cid]


def new_deal_with_co_buyer(con: Any) -> list[str]:
    buyer, co = con.execute(
        "SELECT min(customer_id), max(customer_id) FROM"
        " (SELECT customer_id FROM customers ORDER BY customer_id LIMIT 2 OFFSET 10)"
    ).fetchone()
    con.execute(
        "INSERT INTO deals (deal_id, customer_id, co_buyer_customer_id, deal_date, deal_type,"
        " new_used, term_months, apr, payoff_amount, sale_price, _source)"
        " VALUES ('DX1', ?, ?, ?, 'Finance', 'new', 72, 6.9, 41000, 45000, 'dms')",
        [buyer, co, AS_OF - dt.timedelta(days=1)],
    )
    return [buyer]  # the co-buyer is left out on purpose: facts must find it


def lease(con: Any) -> list[str]:
    cid = one(con, "SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1 OFFSET 20")
    con.execute(
        "INSERT INTO deals (deal_id, customer_id, deal_date, deal_type, new_used, term_months,"
        " lease_maturity_date, sale_price, _source) VALUES ('DX2', ?, ?, 'lease', 'new', 36, ?,"
        " 38500, 'dms')",
        [cid, AS_OF - dt.timedelta(days=1), AS_OF + dt.timedelta(days=120)],
    )
    return [cid]


def email_change(con: Any) -> list[str]:
    cid = one(con, "SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1 OFFSET 30")
    con.execute("UPDATE customers SET email = 'changed@example.net' WHERE customer_id = ?", [cid])
    return [cid]


def opt_out(con: Any) -> list[str]:
    cid = one(con, "SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1 OFFSET 40")
    con.execute("UPDATE customers SET do_not_market = true WHERE customer_id = ?", [cid])
    return [cid]


_HOUSEHOLDS = """
    SELECT customer_id, lower(address_line1) || '|' || left(postal_code, 5) AS h,
           count(*) OVER (PARTITION BY lower(address_line1) || '|' || left(postal_code, 5)) AS n
    FROM customers WHERE address_line1 IS NOT NULL AND postal_code IS NOT NULL"""


def move_household(con: Any) -> list[str]:
    """A member of a shared address moves in with another shared address."""
    mover, target = con.execute(
        f"""WITH h AS ({_HOUSEHOLDS})
        SELECT (SELECT min(customer_id) FROM h WHERE n >= 2),
               (SELECT max(customer_id) FROM h WHERE n >= 2 AND h <> (
                    SELECT h FROM h WHERE customer_id = (SELECT min(customer_id) FROM h
                                                         WHERE n >= 2)))"""
    ).fetchone()
    assert mover and target, "the sample has no shared addresses"
    con.execute(
        "UPDATE customers SET address_line1 = t.address_line1, postal_code = t.postal_code"
        " FROM (SELECT address_line1, postal_code FROM customers WHERE customer_id = ?) AS t"
        " WHERE customer_id = ?",
        [target, mover],
    )
    return [mover]


def move_vehicle(con: Any) -> list[str]:
    vid, old = con.execute(
        "SELECT vehicle_id, customer_id FROM vehicles WHERE vehicle_id IN"
        " (SELECT vehicle_id FROM repair_orders WHERE odometer > 0)"
        " ORDER BY vehicle_id LIMIT 1 OFFSET 5"
    ).fetchone()
    new = one(con, "SELECT customer_id FROM customers ORDER BY customer_id DESC LIMIT 1")
    con.execute("UPDATE vehicles SET customer_id = ? WHERE vehicle_id = ?", [new, vid])
    return [old, new]


def delete_customer(con: Any) -> list[str]:
    """A customer with visits and a household goes; its other records stay (orphans)."""
    cid = one(
        con,
        f"SELECT max(customer_id) FROM ({_HOUSEHOLDS}) WHERE n >= 2 AND customer_id IN"
        " (SELECT customer_id FROM repair_orders) AND customer_id LIKE 'C%'",
    )
    con.execute("DELETE FROM customers WHERE customer_id = ?", [cid])
    return [cid]


def new_customer(con: Any) -> list[str]:
    """A new customer at an existing customer's address, with a visit on a vehicle of its own."""
    con.execute(
        "INSERT INTO customers (customer_id, first_name, email, address_line1, postal_code,"
        " created_at, _source, _line)"
        " SELECT 'NEW1', 'Newt', 'newt@example.com', address_line1, postal_code, ?, 'dms', 999999"
        " FROM customers WHERE address_line1 IS NOT NULL AND postal_code IS NOT NULL"
        " ORDER BY customer_id LIMIT 1",
        [dt.datetime(2026, 11, 20, 9, 0)],
    )
    con.execute(
        "INSERT INTO vehicles (vehicle_id, customer_id, make, model, year, odometer,"
        " odometer_date, _source, _line) VALUES ('VNEW1', 'NEW1', 'Honda', 'Civic', 2024, 5000,"
        " DATE '2026-01-01', 'dms', 1)"
    )
    con.execute(
        "INSERT INTO repair_orders (ro_id, customer_id, vehicle_id, opened_on, odometer, pay_type,"
        " total, _source) VALUES ('RX2', 'NEW1', 'VNEW1', DATE '2026-10-01', 15000, 'customer',"
        " 60, 'dms')"
    )
    return ["NEW1"]


def visit_on_someone_elses_vehicle(con: Any) -> list[str]:
    """A visit by one customer on another's vehicle: the owner's mileage facts change."""
    vid, owner = con.execute(
        "SELECT vehicle_id, customer_id FROM vehicles WHERE customer_id IS NOT NULL"
        " ORDER BY vehicle_id LIMIT 1 OFFSET 50"
    ).fetchone()
    other = one(
        con,
        "SELECT min(customer_id) FROM customers WHERE customer_id <> ? AND customer_id > 'C0000100'"
        " AND customer_id LIKE 'C%'",
        [owner],
    )
    con.execute(
        "INSERT INTO repair_orders (ro_id, customer_id, vehicle_id, opened_on, odometer, pay_type,"
        " total, _source) VALUES ('RX3', ?, ?, ?, 250000, 'customer', 10, 'dms')",
        [other, vid, AS_OF - dt.timedelta(days=3)],
    )
    return [other]


def remove_cross_records(con: Any) -> list[str]:
    """Second round: the visit on another's vehicle and the co-buyer deal are removed again."""
    ids = [r[0] for r in con.execute(
        "SELECT customer_id FROM repair_orders WHERE ro_id = 'RX3'"
        " UNION SELECT customer_id FROM deals WHERE deal_id = 'DX1'"
    ).fetchall()]  # fmt: skip
    con.execute("DELETE FROM repair_orders WHERE ro_id = 'RX3'")
    con.execute("DELETE FROM deals WHERE deal_id = 'DX1'")
    return ids


def change_co_buyer(con: Any) -> list[str]:
    """An existing deal's co-buyer is replaced; the loader records the buyer only."""
    deal, buyer = con.execute(
        "SELECT deal_id, customer_id FROM deals WHERE co_buyer_customer_id IS NOT NULL"
        " AND co_buyer_customer_id <> customer_id AND deal_date <= ? ORDER BY deal_id LIMIT 1",
        [AS_OF],
    ).fetchone()
    new = one(con, "SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1 OFFSET 77")
    con.execute("UPDATE deals SET co_buyer_customer_id = ? WHERE deal_id = ?", [new, deal])
    return [buyer]


FIRST_ROUND: list[Mutation] = [
    new_service_visit,
    new_deal_with_co_buyer,
    lease,
    email_change,
    opt_out,
    move_household,
    move_vehicle,
    delete_customer,
    new_customer,
    visit_on_someone_elses_vehicle,
]
SECOND_ROUND: list[Mutation] = [remove_cross_records, change_co_buyer, move_household]


def copies(base: Path, tmp_path: Path) -> tuple[Any, Path]:
    inc_path, ref_path = tmp_path / "inc.duckdb", tmp_path / "ref.duckdb"
    shutil.copyfile(base, inc_path)
    shutil.copyfile(base, ref_path)
    return duckdb.connect(str(inc_path)), ref_path


def reference(ref_path: Path, rounds: list[list[Mutation]]) -> None:
    ref = duckdb.connect(str(ref_path))
    for mutations in rounds:
        for mutate in mutations:
            mutate(ref)
    assert build_facts(ref, REG, as_of=AS_OF).kind == "full"
    ref.close()


def test_incremental_equals_full_rebuild(base: Path, tmp_path: Path) -> None:
    inc, ref_path = copies(base, tmp_path)
    first = build_facts(inc, REG, as_of=AS_OF)
    assert (first.kind, first.customers) == ("full", N)
    done: list[list[Mutation]] = []
    for mutations in (FIRST_ROUND, SECOND_ROUND):
        changed: list[str] = []
        for mutate in mutations:
            changed += mutate(inc)
        record(inc, changed)
        result = build_facts(inc, REG, as_of=AS_OF)
        assert result.kind == "customers"
        assert result.changed == len(set(changed))
        assert len(set(changed)) <= result.customers < N // 4  # widened, but not everyone
        done.append(mutations)
        shutil.copyfile(base, ref_path)
        reference(ref_path, done)
        assert_same_facts(inc, ref_path)
    assert one(inc, "SELECT count(*) FROM customer_facts WHERE customer_id = 'NEW1'") == 1
    # the removed customer is gone
    assert one(inc, "SELECT count(*) FROM customer_facts") == N
    inc.close()


def test_each_mutation_alone(base: Path, tmp_path: Path) -> None:
    """One mutation per refresh, on one warehouse: each refresh equals a rebuild."""
    inc, ref_path = copies(base, tmp_path)
    build_facts(inc, REG, as_of=AS_OF)
    done: list[Mutation] = []
    for mutate in FIRST_ROUND + SECOND_ROUND:
        record(inc, mutate(inc))
        assert build_facts(inc, REG, as_of=AS_OF).kind == "customers", mutate.__name__
        done.append(mutate)
        shutil.copyfile(base, ref_path)
        reference(ref_path, [done])
        try:
            assert_same_facts(inc, ref_path)
        except AssertionError as exc:
            raise AssertionError(f"after {mutate.__name__}: {exc}") from None
    inc.close()


def table_rows(con: Any, table: str) -> list[Any]:
    # every column as text: no tz-aware timestamps to convert (built_at)
    return con.execute(f"SELECT COLUMNS(*)::VARCHAR FROM {table} ORDER BY ALL").fetchall()


def test_plan_full_none_and_fingerprint(base: Path, tmp_path: Path) -> None:
    con, _ = copies(base, tmp_path)
    assert build_facts(con, REG, as_of=AS_OF).kind == "full"
    before = table_rows(con, "customer_facts"), table_rows(con, "_facts_meta")
    # nothing changed: nothing done, tables as they were
    assert build_facts(con, REG, as_of=AS_OF).kind == "none"
    assert (table_rows(con, "customer_facts"), table_rows(con, "_facts_meta")) == before
    # a change that recorded no customer is nothing too
    record_changes(con, "SELECT NULL")
    assert build_facts(con, REG, as_of=AS_OF).kind == "none"
    # another as_of, other definitions, other op codes: full
    assert build_facts(con, REG, as_of=AS_OF + dt.timedelta(days=1)).kind == "full"
    assert build_facts(con, REG, as_of=AS_OF).kind == "full"
    other = FactRegistry(default_facts())
    other.register(Fact("visits_x2", "integer", "2 * COALESCE(ro.visits, 0)", "Twice."))
    assert build_facts(con, other, as_of=AS_OF).kind == "full"
    assert build_facts(con, other, as_of=AS_OF).kind == "none"
    assert build_facts(con, REG, as_of=AS_OF).kind == "full"
    assert build_facts(con, REG, as_of=AS_OF, opcodes={"XTIRE": "tires"}).kind == "full"
    assert build_facts(con, REG, as_of=AS_OF).kind == "full"
    # everyone changed: full
    record_everything_changed(con)
    assert build_facts(con, REG, as_of=AS_OF).kind == "full"
    # a missing derived table: full
    con.execute("DROP TABLE _vehicles")
    assert build_facts(con, REG, as_of=AS_OF).kind == "full"
    # a dropped view is made again even when nothing changed
    con.execute("DROP VIEW rel_events")
    assert build_facts(con, REG, as_of=AS_OF).kind == "none"
    assert one(con, "SELECT count(*) FROM rel_events") > 0
    # incremental=False, or a fact that may read other customers' rows: always full
    record(con, [one(con, "SELECT min(customer_id) FROM customers")])
    assert build_facts(con, REG, as_of=AS_OF, incremental=False).kind == "full"
    cross = FactRegistry(default_facts())
    cross.register(Fact("rank", "integer", "rank() OVER (ORDER BY ro.visits)", "Rank."))
    assert build_facts(con, cross, as_of=AS_OF).kind == "full"
    record(con, [one(con, "SELECT min(customer_id) FROM customers")])
    result = build_facts(con, cross, as_of=AS_OF)
    assert (result.kind, result.reason) == ("full", "a fact's SQL may read other customers")
    con.close()


def test_refresh_is_atomic(base: Path, tmp_path: Path) -> None:
    """A refresh that fails leaves the facts and the change log as they were."""
    con, _ = copies(base, tmp_path)
    build_facts(con, REG, as_of=AS_OF)
    before = table_rows(con, "customer_facts")
    record(con, opt_out(con))
    con.execute("DROP VIEW IF EXISTS vehicle_facts")
    con.execute("ALTER TABLE customer_facts ADD COLUMN oops INTEGER")  # the INSERT will fail
    with pytest.raises(ConfigError, match="building the facts failed"):
        build_facts(con, REG, as_of=AS_OF)
    con.execute("ALTER TABLE customer_facts DROP COLUMN oops")
    assert table_rows(con, "customer_facts") == before
    assert build_facts(con, REG, as_of=AS_OF).kind == "customers"
    con.close()


def test_household_address_key_word_by_word_equals_the_regex_definition() -> None:
    from dealersync.facts.build import _address_key_regex_sql, _address_key_sql

    con = duckdb.connect()
    for text in [
        "12 Main Street, Apartment 4", "12 main st. #4", "", "  ", "#", None, "a\tb\nc",
        "Suite#5 Boulevard-of  dreams", "STREETS street_x unit", "ÉLan Lane", "ste 9 Ste9",
    ]:  # fmt: skip
        got = con.execute(
            f"SELECT {_address_key_sql('$t::VARCHAR')}, {_address_key_regex_sql('$t::VARCHAR')}",
            {"t": text},
        ).fetchone()
        assert got is not None and got[0] == got[1], text
