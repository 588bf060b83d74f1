"""The identity index: members built from it are byte-for-byte the tables the oracle (members
as defined, in plain SQL: tests/identity_oracle.py) builds; a refresh through the change log
equals a full rebuild."""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dealersync import changes
from dealersync.errors import FatalError
from dealersync.identity import (
    IdentityIndexes,
    Profile,
    build_members,
    register_profile,
)
from dealersync.identity import index as index_mod
from dealersync.model import TABLES, create_table_sql

from tests.identifiers import GOOGLE, META
from tests.identity_oracle import members_by_definition

AS_OF = dt.date(2026, 11, 23)

# ------------------------------------------------- every test of test_identity.py, three ways

_spec = importlib.util.spec_from_file_location("_identity_cases", Path(__file__).with_name("test_identity.py"))
assert _spec and _spec.loader
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

add = base.add


def table(con: duckdb.DuckDBPyConnection, name: str) -> tuple[list, list]:
    quoted = ".".join(f'"{p}"' for p in name.split("."))
    return con.execute(f"DESCRIBE {quoted}").fetchall(), con.execute(f"SELECT * FROM {quoted}").fetchall()


def three_ways(con: duckdb.DuckDBPyConnection, customer_ids_sql: str, identifiers: Mapping[str, str], *,
               target: str, **kw: Any):
    """build_members (keywords ``default_country``, ``params``, ``as_of``) as the oracle defines
    it, as the standalone call and through a sync's persistent index: the same table and stats
    each way (and the same error class)."""
    index_kw = {k: kw[k] for k in ("default_country", "as_of") if k in kw}
    results, errors = [], []
    ways = [
        lambda t: members_by_definition(con, customer_ids_sql, identifiers, target=t, **kw),
        lambda t: build_members(con, customer_ids_sql, identifiers, target=t, **kw),
        lambda t: IdentityIndexes(con, **index_kw).build_members(
            customer_ids_sql, identifiers, target=t, params=kw.get("params")
        ),
    ]
    for i, way in enumerate(ways):
        t = target if i == len(ways) - 1 else f"{target}_way{i}"
        try:
            stats = way(t)
        except Exception as e:
            errors.append(e)
            if i == len(ways) - 1:
                assert [type(x) for x in errors] == [type(e)] * len(ways), errors
                raise
            continue
        results.append((stats, *table(con, t)))
    assert not errors, errors
    assert results[0] == results[1] == results[2]
    for i in range(len(ways) - 1):
        con.execute(f'DROP TABLE "{target}_way{i}"')
    return results[-1][0]


@pytest.fixture(autouse=False)
def compare_ways(monkeypatch):
    monkeypatch.setattr(base, "build_members", three_ways)


_SKIP = {
    "test_only_foreign_numbers_leave_sql",  # counts phonenumbers calls: three ways call it thrice
    "test_sql_errors_become_fatal_errors",  # an in-memory warehouse without customers each way
    "test_bad_arguments_are_config_errors",  # targets checked before anything else
}
CASES = [n for n in dir(base) if n.startswith("test_") and n not in _SKIP]
con = base.con  # the fixture


def _case(name):
    fn = getattr(base, name)

    @pytest.mark.usefixtures("compare_ways")
    def test(request):
        args = {p: request.getfixturevalue(p) for p in fn.__code__.co_varnames[: fn.__code__.co_argcount]}
        fn(**args)

    return test


for _name in CASES:
    fn = getattr(base, _name)
    if hasattr(fn, "pytestmark"):  # parametrized: run each parameter set by hand
        marks = [m for m in fn.pytestmark if m.name == "parametrize"]
        (mark,) = marks
        argnames = [a.strip() for a in mark.args[0].split(",")]

        def _param_case(fn=fn, argnames=argnames, values=mark.args[1]):
            @pytest.mark.usefixtures("compare_ways")
            def test(request):
                for vals in values:
                    c = duckdb.connect()
                    c.execute(create_table_sql(TABLES["customers"]))
                    fn(c, **dict(zip(argnames, vals, strict=True)))

            return test

        globals()[f"{_name}_three_ways"] = _param_case()
    else:
        globals()[f"{_name}_three_ways"] = _case(_name)


# ------------------------------------------------------------- a generated warehouse sample


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory) -> Path:
    from dealersync.sample import generate

    out = tmp_path_factory.mktemp("sample")
    generate(out, 5000, as_of=AS_OF)
    return out / "customers.csv"


def load_customers(csv: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute(create_table_sql(TABLES["customers"]))
    cols = ", ".join(col.name for col in TABLES["customers"].columns)
    c.execute(f"INSERT INTO customers ({cols}) SELECT {cols} FROM read_csv('{csv}', header = true)")
    return c


def splitting_audience(c: duckdb.DuckDBPyConnection) -> str:
    """A customer linking two others (one's email, the other's phone): globally one member of
    three; an audience without the link has the other two as two members."""
    (a, email_a), (b, phone_b) = c.execute(
        "SELECT customer_id, CASE WHEN n = 1 THEN email ELSE phone_mobile END FROM ("
        " SELECT *, row_number() OVER (ORDER BY customer_id) AS n FROM customers"
        " WHERE email LIKE '%@%.%' AND phone_mobile IS NOT NULL AND customer_id LIKE '%3')"
        " WHERE n <= 2 ORDER BY n"
    ).fetchall()
    add(c, "X-link", email=email_a, phone_mobile=phone_b)
    members_by_definition(c, "SELECT customer_id FROM customers", META, target="_all", as_of=AS_OF)
    row = c.execute("SELECT customer_ids FROM _all WHERE list_contains(customer_ids, 'X-link')").fetchone()
    assert row is not None and a in row[0] and b in row[0]
    c.execute("CREATE TABLE _split (a VARCHAR, b VARCHAR)")
    c.execute("INSERT INTO _split VALUES (?, ?)", [a, b])
    return "SELECT customer_id FROM customers WHERE customer_id LIKE '%3'"


AUDIENCES = [
    "SELECT customer_id FROM customers",
    "SELECT customer_id FROM customers WHERE hash(customer_id) % 3 = 0",
    "SELECT customer_id FROM customers WHERE state IN ('TX', 'Texas') OR city LIKE 'A%'",
    "SELECT customer_id FROM customers WHERE customer_id < 'C0000100'",
]


def assert_same_as_oracle(c, index: IdentityIndexes, audiences: list[str], tag: str) -> None:
    for i, sql in enumerate(audiences):
        for name, ids in (("meta", META), ("google", GOOGLE)):
            want = members_by_definition(c, sql, ids, target=f"_old_{tag}_{i}_{name}", as_of=AS_OF)
            got = index.build_members(sql, ids, target=f"_new_{tag}_{i}_{name}")
            assert got == want, (i, name)
            assert table(c, f"_new_{tag}_{i}_{name}") == table(c, f"_old_{tag}_{i}_{name}"), (i, name)


def test_generated_sample_same_members_as_the_oracle(sample_csv):
    c = load_customers(sample_csv)
    audiences = [*AUDIENCES, splitting_audience(c)]
    multi = c.execute("SELECT count(*) FROM _all WHERE len(customer_ids) > 1").fetchone()[0]
    assert multi > 0
    index = IdentityIndexes(c, as_of=AS_OF)
    assert_same_as_oracle(c, index, audiences, "a")
    assert {ix.last_refresh for ix in index._indexes.values()} == {"full"}
    # the splitting audience really splits a global member
    assert c.execute(
        "SELECT count(*) FROM _new_a_4_meta, _split WHERE list_contains(customer_ids, a) OR list_contains(customer_ids, b)"
    ).fetchone() == (2,)
    assert c.execute("SELECT count(*) FROM _new_a_0_meta WHERE list_contains(customer_ids, 'X-link') AND len(customer_ids) >= 3").fetchone() == (1,)


# --------------------------------------------------------------------- incremental refresh


def index_state(c: duckdb.DuckDBPyConnection, ix: index_mod.IdentityIndex) -> tuple[list, list]:
    rows = c.execute(f'SELECT * FROM "{ix.table}" ORDER BY ALL').fetchall()
    shared = c.execute(f'SELECT * FROM "{ix.shared}" ORDER BY ALL').fetchall()
    return rows, shared


def rebuilt_state(c: duckdb.DuckDBPyConnection, spec: index_mod.IndexSpec) -> tuple[list, list]:
    fresh = index_mod.IdentityIndex(c, spec, table="_fresh_index")
    fresh._apply("full", None)
    state = index_state(c, fresh)
    fresh.drop()
    return state


def change_customers(c: duckdb.DuckDBPyConnection) -> list[str]:
    """An email change, a phone change, a new customer sharing an email with an audience
    member, a deleted customer, and a duplicate row; returns the ids changed."""
    rows = c.execute(
        "SELECT customer_id, email, phone_mobile FROM customers WHERE email IS NOT NULL AND phone_mobile IS NOT NULL"
        " ORDER BY customer_id LIMIT 4"
    ).fetchall()
    (a, _, _), (b, _, _), (_, email_d, _), (e, _, _) = rows
    c.execute("UPDATE customers SET email = 'Brand.New@Example.org ' WHERE customer_id = ?", [a])
    c.execute("UPDATE customers SET phone_mobile = '(214) 555-0199', phone_home = NULL WHERE customer_id = ?", [b])
    c.execute("INSERT INTO customers (customer_id, email) VALUES ('Z-new', ?)", [email_d.upper()])
    c.execute("DELETE FROM customers WHERE customer_id = ?", [e])
    c.execute("INSERT INTO customers (customer_id, email) VALUES ('Z-dup', 'dup@example.com'), ('Z-dup', 'dup@example.com')")
    return [a, b, "Z-new", e, "Z-dup"]


def test_refresh_after_changes_equals_full_rebuild(sample_csv, caplog):
    c = load_customers(sample_csv)
    index = IdentityIndexes(c, as_of=AS_OF)
    meta = index.index(META)
    assert meta.last_refresh == "full"
    # nothing recorded, nothing changed: nothing to do
    assert IdentityIndexes(c, as_of=AS_OF).index(META).last_refresh == "none"

    changed = change_customers(c)
    changes.record_changes(c, "SELECT unnest(?::VARCHAR[])", [changed])
    with caplog.at_level(logging.WARNING, logger="dealersync.identity"):
        run2 = IdentityIndexes(c, as_of=AS_OF)
        ix = run2.index(META)
    assert ix.last_refresh == "customers"
    assert "without a change record" not in caplog.text
    assert index_state(c, ix) == rebuilt_state(c, ix.spec)
    audiences = [
        *AUDIENCES,
        (
            f"SELECT customer_id FROM customers WHERE customer_id IN ('Z-new', 'Z-dup', '{changed[0]}',"
            f" '{changed[3]}') OR hash(customer_id) % 5 = 1"
        ),
    ]
    assert_same_as_oracle(c, run2, audiences, "b")
    # google's index had not been built: full
    assert run2.index(GOOGLE).last_refresh == "full"

    # the changes every derived table took in are dropped
    assert c.execute("SELECT count(*) FROM _changes").fetchone() == (0,)


def test_unrecorded_change_is_noticed(sample_csv, caplog):
    c = load_customers(sample_csv)
    IdentityIndexes(c, as_of=AS_OF).index(GOOGLE)
    change_customers(c)  # and no record_changes: a loader that forgot
    with caplog.at_level(logging.WARNING, logger="dealersync.identity"):
        ix = IdentityIndexes(c, as_of=AS_OF).index(GOOGLE)
    assert ix.last_refresh == "customers"
    assert "5 customers changed without a change record" in caplog.text
    assert index_state(c, ix) == rebuilt_state(c, ix.spec)


def test_everyone_changed_and_definition_changes_rebuild_whole(con, monkeypatch):
    add(con, "a", email="a@example.com", birth_year=1980)
    add(con, "b", email="A@example.com", birth_year=2026)
    assert IdentityIndexes(con, as_of=AS_OF).index(META).last_refresh == "full"
    assert IdentityIndexes(con, as_of=AS_OF).index(META).last_refresh == "none"
    # another day of the same year: meta.doby's rule reads the year only
    assert IdentityIndexes(con, as_of=AS_OF + dt.timedelta(days=3)).index(META).last_refresh == "none"
    # a new year changes meta.doby's SQL: rebuilt; google's profiles do not read the date
    IdentityIndexes(con, as_of=AS_OF).index(GOOGLE)
    next_year = dt.date(2027, 1, 2)
    assert IdentityIndexes(con, as_of=next_year).index(META).last_refresh == "full"
    assert IdentityIndexes(con, as_of=next_year).index(GOOGLE).last_refresh == "none"
    # a change covering everyone
    changes.record_everything_changed(con)
    assert IdentityIndexes(con, as_of=next_year).index(META).last_refresh == "full"
    # a profile's SQL changes (a vendor re-registers it)
    monkeypatch.setattr("dealersync.identity.profiles.PROFILES", dict(base.PROFILES))
    import dealersync.identity.profiles as profiles_mod

    old = profiles_mod.PROFILES["meta.ct"]
    register_profile(Profile("meta.ct", old.columns, lambda ctx: f"upper({ctx.col('city')})"), replace=True)
    assert IdentityIndexes(con, as_of=next_year).index(META).last_refresh == "full"
    # the index layout changes
    monkeypatch.setattr(index_mod, "INDEX_VERSION", index_mod.INDEX_VERSION + 1)
    assert IdentityIndexes(con, as_of=next_year).index(META).last_refresh == "full"
    # another default country is another profile set: its own tables
    ca = IdentityIndexes(con, default_country="CA", as_of=next_year).index(META)
    us = IdentityIndexes(con, as_of=next_year).index(META)
    assert ca.last_refresh == "full" and ca.table != us.table
    # a dropped index table
    con.execute(f'DROP TABLE "{us.shared}"')
    assert IdentityIndexes(con, as_of=next_year).index(META).last_refresh == "full"


def test_index_refreshed_once_per_run_and_shared_by_audiences(con):
    add(con, "a", email="a@example.com")
    add(con, "b", email="b@example.com")
    run = IdentityIndexes(con, as_of=AS_OF)
    first = run.index(META)
    run.build_members("SELECT 'a' AS customer_id", META, target="m1")
    add(con, "c", email="c@example.com")  # after the run's refresh: not seen by this run
    run.build_members("SELECT customer_id FROM customers", {"email": "meta.email", "fn": "meta.fn", "ln": "meta.ln", "ct": "meta.ct", "st": "meta.st", "zip": "meta.zip", "country": "meta.country", "doby": "meta.doby", "phone": "meta.phone"}, target="m2")
    assert run.index(META) is first
    assert con.execute("SELECT count(*) FROM m2").fetchone() == (2,)
    assert IdentityIndexes(con, as_of=AS_OF).build_members(
        "SELECT customer_id FROM customers", META, target="m3"
    ).members == 3


def test_foreign_numbers_parsed_once_then_only_changed_ones(con, monkeypatch):
    seen: list[str] = []
    real = base.phones_mod.e164_digits

    def spy(key: str, region: str):
        seen.append(key)
        return real(key, region)

    monkeypatch.setattr(base.phones_mod, "e164_digits", spy)
    add(con, "a", phone_mobile="(800)555-0100", phone_home="+44 20 7946 0958")
    add(con, "b", phone_mobile="+52 55 1234 5678", phone_home="0044 20 7946 0958")
    IdentityIndexes(con, as_of=AS_OF).index({"phone": "meta.phone"})
    assert sorted(seen) == ["+442079460958", "+525512345678"]
    seen.clear()
    con.execute("UPDATE customers SET phone_mobile = '+33 1 23 45 67 89' WHERE customer_id = 'a'")
    changes.record_changes(con, "SELECT 'a'")
    assert IdentityIndexes(con, as_of=AS_OF).index({"phone": "meta.phone"}).last_refresh == "customers"
    assert sorted(seen) == ["+33123456789", "+442079460958"]


def test_refresh_errors_carry_no_value(con, monkeypatch):
    monkeypatch.setattr("dealersync.identity.profiles.PROFILES", dict(base.PROFILES))
    register_profile(
        Profile("acme.num", ("email",), lambda ctx: f"CAST({ctx.col('email')} AS INTEGER)::VARCHAR", match_key=True)
    )
    add(con, "a", email="secret.person@example.com")
    with pytest.raises(FatalError) as e:
        IdentityIndexes(con, as_of=AS_OF).index({"n": "acme.num"})
    assert "secret" not in e.value.message and e.value.__cause__ is None
    assert "ConversionException" in e.value.message


def test_index_keeps_no_plaintext(con):
    add(con, "a", email=" Planted.Person@Dealer-Example.com", phone_mobile="(512) 555-0142", first_name="Plantedgiven")
    add(con, "b", email="planted.person@dealer-example.com", last_name="Plantedfamily")
    run = IdentityIndexes(con, as_of=AS_OF)
    for ids in (META, GOOGLE):
        assert run.build_members("SELECT customer_id FROM customers", ids, target="m").members == 1
    dump = ""
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name <> 'customers'").fetchall():
        dump += repr(con.execute(f'SELECT * FROM "{name}"').fetchall())
    for raw in ("planted.person", "dealer-example", "5125550142", "plantedgiven", "plantedfamily"):
        assert raw not in dump.lower()
