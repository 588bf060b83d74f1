"""Identity: normalization, hashing and member building, always through ``build_members``
(the code path that feeds the destination files), on a small in-memory warehouse."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any

import duckdb
import pytest
from dealersync.errors import ConfigError, FatalError
from dealersync.identity import (
    PROFILES,
    MemberStats,
    Profile,
    build_members,
    get_profile,
    register_profile,
)
from dealersync.identity import phones as phones_mod
from dealersync.model import TABLES, create_table_sql

from tests.identifiers import GOOGLE, META

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute(create_table_sql(TABLES["customers"]))
    return c


def add(con: duckdb.DuckDBPyConnection, customer_id: str, **cols: Any) -> None:
    names = ["customer_id", *cols]
    con.execute(
        f"INSERT INTO customers ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        [customer_id, *cols.values()],
    )


def build(
    con: duckdb.DuckDBPyConnection,
    identifiers: Mapping[str, str],
    *,
    sql: str = "SELECT customer_id FROM customers",
    **kw: Any,
) -> tuple[MemberStats, list[dict[str, Any]]]:
    stats = build_members(con, sql, identifiers, target="members_out", **kw)
    cur = con.execute("SELECT * FROM members_out")
    names = [d[0] for d in cur.description]
    return stats, [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def by_customer(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Members of one customer each, keyed by that customer id."""
    out = {}
    for r in rows:
        assert len(r["customer_ids"]) == 1, r["customer_ids"]
        out[r["customer_ids"][0]] = r
    return out


def member_of(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each customer id -> the member row it belongs to."""
    return {cid: r for r in rows for cid in r["customer_ids"]}


def field_of(con, identifiers, field, cases, *, extra=None, **kw):
    """Load one customer per case (plus an email so each is a member), build, return
    {case index: value of ``field``}."""
    for i, value in enumerate(cases):
        cols = {"email": f"u{i}@example.com"} if "email" not in (extra or {}) else {}
        cols.update(extra or {})
        cols.update(value if isinstance(value, dict) else {})
        add(con, f"c{i:03d}", **cols)
    stats, rows = build(con, identifiers, **kw)
    got = by_customer(rows)
    return stats, {int(cid[1:]): r[field] for cid, r in got.items()}


# -------------------------------------------------------------------------------------- emails


def test_meta_email_published_examples_and_padding(con):
    cases = [
        ("ABC@gmail.com", "abc@gmail.com"),  # RudderStack's documented example of Meta's rule
        ("  John.Doe@Example.COM ", "john.doe@example.com"),
        ("\tJane@Example.com\u00a0", "jane@example.com"),  # tab and no-break space trimmed
        ("First.Last+Promo@Gmail.com", "first.last+promo@gmail.com"),  # Meta keeps gmail dots/tags
    ]
    for i, (raw, _) in enumerate(cases):
        add(con, f"c{i}", email=raw)
    stats, rows = build(con, {"email": "meta.email"})
    got = by_customer(rows)
    for i, (_, want) in enumerate(cases):
        assert got[f"c{i}"]["email"] == sha(want)
    assert stats == MemberStats(customers=4, members=4, unmatchable=0, invalid={"email": 0})


def test_email_validity_rule(con):
    bad = [
        "no-at-sign.example.com",
        "two@@example.com",
        "a@b@example.com",
        "john doe@example.com",
        "john@localhost",
        "@example.com",
        "john@",
    ]
    for i, raw in enumerate(bad):
        add(con, f"bad{i}", email=raw)
    add(con, "blank1", email="   ")
    add(con, "blank2", email=None)
    add(con, "ok", email="ok@example.com")
    stats, rows = build(con, {"email": "meta.email"})
    assert [r["customer_ids"] for r in rows] == [["ok"]]
    # blank is not invalid (nothing was given); every bad address is
    assert stats == MemberStats(customers=10, members=1, unmatchable=9, invalid={"email": len(bad)})


def test_google_email_published_examples_gmail_googlemail(con):
    cases = [
        (
            "cloudy.sanfrancisco+shopping@gmail.com",
            "cloudysanfrancisco@gmail.com",
        ),  # Google's example
        ("user.name+NYC@Example.com", "user.name+nyc@example.com"),  # Google's example
        ("  Cloudy.SanFrancisco+X@GMAIL.COM ", "cloudysanfrancisco@gmail.com"),
        ("j.o.h.n+tag+more@googlemail.com", "john@googlemail.com"),
        ("John Smith@example.com", "johnsmith@example.com"),  # Google removes all whitespace
        ("Plain@Example.org", "plain@example.org"),
    ]
    for i, (raw, _) in enumerate(cases):
        add(con, f"c{i}", email=raw)
    add(con, "tagonly", email="+tag@gmail.com")  # nothing left before @: invalid
    stats, rows = build(con, {"email": "google.email"})
    got = {r["customer_ids"][0]: r["email"] for r in rows}
    # c0 and c2 normalize to the same gmail address: one member
    assert [r["customer_ids"] for r in rows if len(r["customer_ids"]) > 1] == [["c0", "c2"]]
    assert got["c0"] == sha("cloudysanfrancisco@gmail.com")
    for i, (_, want) in enumerate(cases[1:], start=1):
        if i != 2:
            assert got[f"c{i}"] == sha(want)
    assert stats.invalid == {"email": 1} and stats.unmatchable == 1


# -------------------------------------------------------------------------------------- phones

PHONE_CASES = [
    # (phone_mobile, canonical digits or None)
    ("(800)555-0100", "18005550100"),  # Google's example; 555 numbers are possible
    ("800.555.0100", "18005550100"),
    ("+1 800 555 0100", "18005550100"),
    ("1-800-555-0100", "18005550100"),
    ("001 800 555 0100", "18005550100"),  # 00 international prefix
    ("011 1 (800) 555-0100", "18005550100"),  # 011 international prefix
    ("(214) 555-0123 x123", "12145550123"),  # extensions dropped
    ("214-555-0123 ext. 45", "12145550123"),
    ("214 555 0123 extension 7", "12145550123"),
    ("+44 20 7946 0958", "442079460958"),  # foreign: phonenumbers
    ("0044 20 7946 0958", "442079460958"),
    ("011 44 20 7946 0958", "442079460958"),
    ("+52 55 1234 5678", "525512345678"),
    ("call me", None),  # junk
    ("123", None),
    ("555-0100", None),  # 7 digits: no area code, cannot match
    ("(123) 456-7890", None),  # not a North American shape
    ("+44 12", None),  # too short for the UK
    ("+1 800 555 01000", None),  # too long
]


@pytest.mark.parametrize("profile,prefix", [("meta.phone", ""), ("google.phone", "+")])
def test_phone_formats(con, profile, prefix):
    for i, (raw, _) in enumerate(PHONE_CASES):
        add(con, f"c{i:02d}", phone_mobile=raw, email=f"u{i}@example.com")
    stats, rows = build(con, {"email": "meta.email", "phone": profile})
    got = member_of(rows)  # the same number written six ways is one member
    for i, (raw, want) in enumerate(PHONE_CASES):
        value = got[f"c{i:02d}"]["phone"]
        assert value == (sha(prefix + want) if want else None), raw
    assert stats.invalid["phone"] == sum(1 for _, w in PHONE_CASES if w is None)


def test_google_phone_published_example(con):
    add(con, "a", phone_mobile="(800)555-0100")
    _, rows = build(con, {"phone": "google.phone"})
    assert rows[0]["phone"] == sha("+18005550100")


def test_phone_falls_back_to_home_when_mobile_invalid(con):
    add(con, "a", phone_mobile="not a number", phone_home="(972) 555-0199")
    add(con, "b", phone_mobile="(214) 555-0100", phone_home="(972) 555-0199")
    add(con, "c", phone_mobile=None, phone_home=None)
    stats, rows = build(con, {"phone": "meta.phone"})
    # a and b would share the home number, but b's mobile is valid so only a uses it
    got = by_customer(rows)
    assert got["a"]["phone"] == sha("19725550199")
    assert got["b"]["phone"] == sha("12145550100")
    assert stats == MemberStats(customers=3, members=2, unmatchable=1, invalid={"phone": 0})


def test_only_foreign_numbers_leave_sql(con, monkeypatch):
    """phonenumbers runs in Python only for the rows SQL cannot decide, once per distinct number."""
    seen: list[str] = []
    real = phones_mod.e164_digits

    def spy(key: str, region: str):
        seen.append(key)
        return real(key, region)

    monkeypatch.setattr(phones_mod, "e164_digits", spy)
    add(con, "a", phone_mobile="(800)555-0100", phone_home="+44 20 7946 0958")
    add(con, "b", phone_mobile="+1 214 555 0100", phone_home="0044 20 7946 0958")
    add(con, "c", phone_mobile="+52 55 1234 5678", phone_home="junk")
    add(con, "d", phone_mobile="214.555.0101 x9", phone_home=None)
    build(con, {"phone": "meta.phone"})
    assert sorted(seen) == ["+442079460958", "+525512345678"]


def test_default_country_outside_north_america(con):
    add(con, "a", phone_mobile="020 7946 0958")
    add(con, "b", phone_mobile="+1 (800) 555-0100")
    add(con, "c", phone_mobile="00 33 1 23 45 67 89")
    add(con, "d", phone_mobile="12")
    stats, rows = build(
        con, {"phone": "meta.phone", "country": "meta.country"}, default_country="GB"
    )
    got = by_customer(rows)
    assert got["a"]["phone"] == sha("442079460958")
    assert got["b"]["phone"] == sha("18005550100")
    assert got["c"]["phone"] == sha("33123456789")
    assert got["a"]["country"] == sha("gb")  # blank country -> the default
    assert stats.unmatchable == 1 and stats.invalid["phone"] == 1


# --------------------------------------------------------------------------- names and address


def test_meta_first_and_last_names_keep_non_ascii_letters(con):
    cases = [
        ({"first_name": "José", "last_name": "García"}, "josé", "garcía"),
        ({"first_name": "Jose\u0301", "last_name": "O'Neil"}, "josé", "oneil"),  # NFC; ' removed
        ({"first_name": " Mary-Ann ", "last_name": "SMITH, Jr."}, "maryann", "smithjr"),
        ({"first_name": "Zoë", "last_name": "van der Berg"}, "zoë", "vanderberg"),
        ({"first_name": "!!!", "last_name": "42"}, None, None),
    ]
    stats, got = field_of(con, META, "fn", [c[0] for c in cases])
    _, got_ln = {}, {}
    rows = con.execute("SELECT customer_ids[1], fn, ln FROM members_out").fetchall()
    got_ln = {int(cid[1:]): ln for cid, _, ln in rows}
    for i, (_, fn, ln) in enumerate(cases):
        # Meta's docs keep letters outside a-z as UTF-8 ("josé"); the facebook-business SDK's
        # helper keeps only [a-z] and would send sha256("jos"), which matches nobody. The docs
        # (and DESIGN.md section 8) win.
        assert got[i] == (sha(fn) if fn else None)
        assert got_ln[i] == (sha(ln) if ln else None)
    assert got[0] != sha("jos")
    assert stats.invalid["fn"] == 1 and stats.invalid["ln"] == 1


def test_meta_city_state_zip_country_doby(con):
    cases = [
        # Meta/RudderStack examples: CT "HN#" -> hn, ST "? AL ?" -> al, COUNTRY "IN" -> in
        (
            {"city": "HN#", "state": "? AL ?", "country": "IN", "postal_code": "110001"},
            {"ct": "hn", "st": "al", "country": "in", "zip": "110001"},
        ),
        (
            {"city": "San José", "state": "Texas", "postal_code": "75001-1234", "country": ""},
            {"ct": "sanjosé", "st": "tx", "zip": "75001", "country": "us"},
        ),
        (
            {
                "city": "St. Louis",
                "state": "New York",
                "postal_code": "75001 1234",
                "country": "USA",
            },
            {"ct": "stlouis", "st": "ny", "zip": "75001", "country": "us"},
        ),
        (
            {
                "state": "District of Columbia",
                "postal_code": "200011234",
                "country": "United States",
            },
            {"st": "dc", "zip": "20001", "country": "us"},
        ),
        ({"state": "puerto rico", "postal_code": "00901"}, {"st": "pr", "zip": "00901"}),
        ({"state": "TX", "birth_year": 1980}, {"st": "tx", "doby": "1980"}),
        (
            {"state": "Ontario", "country": "Canada", "postal_code": "K1A 0B1"},
            {"st": "ontario", "country": "ca", "zip": "k1a0b1"},
        ),
        ({"country": "gb", "postal_code": "SW1A 1AA"}, {"zip": "sw1a1aa", "country": "gb"}),
        (
            {"state": "Texxas", "postal_code": "7500", "country": "Narnia", "birth_year": 1850},
            {"st": "texxas", "zip": "7500", "country": None, "doby": None},
        ),  # non-US: kept as letters
        (
            {"state": "Texxas", "postal_code": "7500", "birth_year": 2999},
            {"st": None, "zip": None, "doby": None, "country": "us"},
        ),  # US: unknown state, bad zip
    ]
    for i, (cols, _) in enumerate(cases):
        add(con, f"c{i}", email=f"u{i}@example.com", **cols)
    stats, rows = build(con, META)
    got = by_customer(rows)
    for i, (_, want) in enumerate(cases):
        for fld, value in want.items():
            assert got[f"c{i}"][fld] == (sha(value) if value is not None else None), (i, fld)
    assert stats.invalid == {
        "email": 0,
        "phone": 0,
        "fn": 0,
        "ln": 0,
        "ct": 0,
        "st": 1,
        "zip": 1,
        "country": 1,
        "doby": 2,
    }


def test_google_names_country_postal_code(con):
    cases = [
        (
            {
                "first_name": "Mr. John",
                "last_name": " SMITH Jr. ",
                "country": "",
                "postal_code": "94016-1234",
            },
            {"first_name": "john", "last_name": "smith", "country": "US", "zip": "94016"},
        ),
        (
            {
                "first_name": "DR  Mary   Ann",
                "last_name": "Lee, PhD",
                "country": "usa",
                "postal_code": "94016",
            },
            {"first_name": "mary ann", "last_name": "lee", "country": "US", "zip": "94016"},
        ),
        (
            {
                "first_name": "Mrs.Jane",
                "last_name": "Doe III",
                "country": "CA",
                "postal_code": "K1A 0B1",
            },
            {"first_name": "jane", "last_name": "doe", "country": "CA", "zip": "K1A 0B1"},
        ),
        (
            {
                "first_name": "Miss Ellie",
                "last_name": "García Sr",
                "country": "mx",
                "postal_code": "01000",
            },
            {"first_name": "ellie", "last_name": "garcía", "country": "MX", "zip": "01000"},
        ),
        ({"first_name": "Ms", "last_name": "Jr"}, {"first_name": "ms", "last_name": "jr"}),
    ]
    for i, (cols, _) in enumerate(cases):
        add(con, f"c{i}", email=f"u{i}@example.com", **cols)
    _, rows = build(con, GOOGLE)
    got = by_customer(rows)
    for i, (_, want) in enumerate(cases):
        for fld, value in want.items():
            expected = value if fld in ("country", "zip") else sha(value)  # region/postal: plain
            assert got[f"c{i}"][fld] == expected, (i, fld)


def test_google_names_have_no_punctuation(con):
    """googleapis google/ads/datamanager/v1/user_data.proto, AddressInfo.given_name / family_name:
    "all lowercase, with no punctuation, no leading or trailing whitespace"."""
    cases = [
        ({"first_name": "Mary-Jane", "last_name": "O'Brien"}, ("maryjane", "obrien")),
        ({"first_name": "Dr. Seán", "last_name": "O’Neil-Smith, Jr."}, ("seán", "oneilsmith")),
        ({"first_name": "J.R.", "last_name": "St. John"}, ("jr", "st john")),
        ({"first_name": "Ann  (Annie)", "last_name": "Lee & Co"}, ("ann annie", "lee co")),
        ({"first_name": "-", "last_name": "'"}, (None, None)),
    ]
    for i, (cols, _) in enumerate(cases):
        add(con, f"p{i}", email=f"p{i}@example.com", **cols)
    _, rows = build(con, GOOGLE)
    got = by_customer(rows)
    for i, (_, (first, last)) in enumerate(cases):
        assert got[f"p{i}"]["first_name"] == (first and sha(first)), (i, "first")
        assert got[f"p{i}"]["last_name"] == (last and sha(last)), (i, "last")


def test_blank_country_takes_default_country(con):
    add(con, "a", email="a@example.com", country="  ")
    add(con, "b", email="b@example.com", country=None, postal_code="K1A 0B1")
    _, rows = build(
        con,
        {"email": "meta.email", "country": "meta.country", "zip": "meta.zip"},
        default_country="ca",
    )
    got = by_customer(rows)
    assert got["a"]["country"] == got["b"]["country"] == sha("ca")
    assert got["b"]["zip"] == sha("k1a0b1")  # not US, so not cut to 5 digits


# ------------------------------------------------------------------------------------ members


def test_two_customer_ids_sharing_an_email_are_one_member(con):
    add(con, "C2", email="  Pat@Example.com", first_name="Patricia", city="Plano")
    add(con, "C1", email="pat@example.com", first_name=None, city="Dallas")
    stats, rows = build(con, {"email": "meta.email", "fn": "meta.fn", "ct": "meta.ct"})
    assert stats == MemberStats(
        customers=2, members=1, unmatchable=0, invalid={"email": 0, "fn": 0, "ct": 0}
    )
    (m,) = rows
    assert m["customer_ids"] == ["C1", "C2"]  # sorted
    assert m["email"] == sha("pat@example.com")
    assert m["ct"] == sha("dallas")  # from the smallest customer id with a value
    assert m["fn"] == sha("patricia")  # C1 has none: C2's
    assert m["member_key"] == sha("meta.email:pat@example.com")


def test_chain_of_shared_email_and_phone_is_one_member(con):
    add(con, "A", email="a@example.com", phone_mobile="(214) 555-0001")
    add(con, "B", email="A@example.com", phone_mobile="(214) 555-0002")
    add(con, "C", email="c@example.com", phone_mobile="+1 214 555 0002")
    add(con, "D", email="d@example.com", phone_mobile="(214) 555-0003")
    stats, rows = build(con, {"email": "meta.email", "phone": "meta.phone"})
    assert sorted(r["customer_ids"] for r in rows) == [["A", "B", "C"], ["D"]]
    abc = next(r for r in rows if r["customer_ids"] == ["A", "B", "C"])
    assert abc["email"] == sha("a@example.com") and abc["phone"] == sha("12145550001")
    assert stats.members == 2 and stats.customers == 4


def test_long_chain_converges(con):
    # z9 - z8 share an email, z8 - z7 a phone, ... : the smallest id is at the far end
    n = 12
    for i in range(n):
        email = f"e{i // 2}@example.com"
        phone = f"(214) 555-{1000 + (i + 1) // 2:04d}"
        add(con, f"z{n - i:02d}", email=email, phone_mobile=phone)
    add(con, "lonely", email="solo@example.com")
    stats, rows = build(con, {"email": "meta.email", "phone": "meta.phone"})
    assert sorted(len(r["customer_ids"]) for r in rows) == [1, n]
    assert stats.members == 2


def test_unmatchable_and_invalid_counts(con):
    add(con, "a", email="good@example.com", phone_mobile="junk", first_name="Ann")
    add(con, "b", email="bad-email", phone_mobile=None, first_name="Bob")  # unmatchable
    add(con, "c", email=None, phone_mobile="(800)555-0100", first_name="...")
    add(con, "d", email=None, phone_mobile=None, phone_home="12")  # unmatchable
    add(con, "e")  # nothing at all: unmatchable, not invalid
    stats, rows = build(con, {"email": "meta.email", "phone": "meta.phone", "fn": "meta.fn"})
    assert stats == MemberStats(
        customers=5, members=2, unmatchable=3, invalid={"email": 1, "phone": 2, "fn": 1}
    )
    assert sorted(r["customer_ids"][0] for r in rows) == ["a", "c"]


def test_audience_sql_with_params_and_columns(con):
    add(con, "a", email="a@example.com", city="Dallas")
    add(con, "b", email="b@example.com", city="Plano")
    add(con, "c", email="c@example.com", city="Dallas")
    stats, rows = build(
        con,
        {"email": "meta.email", "ct": "meta.ct"},
        sql="SELECT customer_id FROM customers WHERE city = ? UNION ALL SELECT 'a'",
        params=["Dallas"],
    )
    assert stats.customers == 2
    assert sorted(r["customer_ids"][0] for r in rows) == ["a", "c"]
    cols = con.execute("DESCRIBE members_out").fetchall()
    assert [(c[0], c[1]) for c in cols] == [
        ("member_key", "VARCHAR"),
        ("customer_ids", "VARCHAR[]"),
        ("email", "VARCHAR"),
        ("ct", "VARCHAR"),
    ]


def test_every_hashed_cell_is_lowercase_hex_and_rows_are_ordered(con):
    for i in range(40):
        add(
            con,
            f"k{i:02d}",
            email=f" Person{i % 30}@Example.com ",
            phone_mobile=[f"(214) 555-01{i:02d}", f"+44 20 7946 09{i:02d}", None][i % 3],
            first_name="José",
            last_name="O'Neil",
            city="Dallas",
            state="Texas",
            postal_code="75001-1234",
            country=["", "US", "usa"][i % 3],
            birth_year=1970 + i,
        )
    for name, ids in (("meta", META), ("google", GOOGLE)):
        _, rows = build(con, ids)
        keys = [r["member_key"] for r in rows]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        assert len(rows) == 30
        for r in rows:
            assert HEX64.match(r["member_key"])
            assert r["customer_ids"] == sorted(r["customer_ids"])
            for fld, prof in ids.items():
                v = r[fld]
                if get_profile(prof).hashed:
                    assert v is None or HEX64.match(v), (name, fld, v)
                else:
                    assert v is None or not HEX64.match(v), (name, fld, v)


def test_order_kept_without_insertion_order_preservation(con):
    for i in range(50):
        add(con, f"p{i:02d}", email=f"p{i}@example.com")
    con.execute("SET preserve_insertion_order = false")
    _, rows = build(con, {"email": "meta.email"})
    keys = [r["member_key"] for r in rows]
    assert keys == sorted(keys)


def test_sql_errors_become_fatal_errors(con):
    with pytest.raises(FatalError, match="no customers table"):
        build_members(duckdb.connect(), "SELECT 1 AS customer_id", {"e": "meta.email"}, target="t")
    with pytest.raises(FatalError, match="building members"):
        build(con, {"email": "meta.email"}, sql="SELECT customer_id FROM nowhere")


def test_member_key_stable_across_runs_and_attribute_changes(con):
    add(con, "a", email="a@example.com", city="Dallas")
    add(con, "b", phone_mobile="(214) 555-0100", city="Plano")
    ids = {"email": "meta.email", "phone": "meta.phone", "ct": "meta.ct"}
    _, first = build(con, ids)
    _, again = build(con, ids)
    assert first == again
    con.execute("UPDATE customers SET city = 'Austin'")
    _, changed = build(con, ids)
    assert [r["member_key"] for r in changed] == [r["member_key"] for r in first]
    assert con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_dsid%'"
    ).fetchone() == (0,)


def test_no_raw_values_in_logs(con, caplog):
    add(
        con,
        "a",
        email="secret.person@example.com",
        phone_mobile="+44 20 7946 0958",
        first_name="Secretname",
    )
    with caplog.at_level(logging.DEBUG, logger="dealersync"):
        build(con, META)
    text = caplog.text.lower()
    assert caplog.records
    for raw in ("secret", "7946", "example.com"):
        assert raw not in text


# ------------------------------------------------------------------------------ the registry


def test_builtin_profiles_and_match_keys():
    for name in [*META.values(), *GOOGLE.values()]:
        assert get_profile(name).name == name
    keys = {n for n, p in PROFILES.items() if p.match_key}
    assert {"meta.email", "meta.phone", "google.email", "google.phone"} <= keys
    assert not get_profile("meta.zip").match_key and not get_profile("google.country").hashed
    assert get_profile("meta.phone").columns == ("phone_mobile", "phone_home")


def test_unknown_profile_names_the_known_ones(con):
    with pytest.raises(ConfigError) as e:
        get_profile("meta.shoe_size")
    assert "meta.shoe_size" in e.value.message and "meta.email" in e.value.message
    add(con, "a", email="a@example.com")
    with pytest.raises(ConfigError, match="meta.shoe_size"):
        build(con, {"email": "meta.email", "shoe": "meta.shoe_size"})


def test_identifiers_need_a_match_key(con):
    with pytest.raises(ConfigError, match="no match key"):
        build(con, {"fn": "meta.fn", "zip": "meta.zip"})


def test_vendor_profile_registration(con, monkeypatch):
    monkeypatch.setattr("dealersync.identity.profiles.PROFILES", dict(PROFILES))
    import dealersync.identity.profiles as profiles_mod

    extern = Profile(
        "acme.extern_id",
        ("customer_id",),
        lambda ctx: f"upper({ctx.col('customer_id')})",
        hashed=False,
        match_key=True,
    )
    register_profile(extern)
    register_profile(extern)  # the same object again: harmless
    with pytest.raises(ConfigError, match="already registered"):
        register_profile(Profile("acme.extern_id", ("email",), lambda ctx: "NULL"))
    assert profiles_mod.PROFILES["acme.extern_id"] is extern
    add(con, "x1", email="same@example.com")
    add(con, "x2", email="same@example.com")
    _, rows = build(con, {"id": "acme.extern_id", "email": "meta.email"})
    assert [(r["customer_ids"], r["id"]) for r in rows] == [(["x1", "x2"], "X1")]
    with pytest.raises(ConfigError, match="lacks"):
        register_profile(Profile("acme.shoe", ("shoe_size",), lambda ctx: ctx.col("shoe_size")))
        build(con, {"email": "meta.email", "shoe": "acme.shoe"})


def test_bad_arguments_are_config_errors(con):
    add(con, "a", email="a@example.com")
    with pytest.raises(ConfigError, match="default country"):
        build(con, {"email": "meta.email"}, default_country="XX")
    with pytest.raises(ConfigError, match="target"):
        build_members(
            con,
            "SELECT customer_id FROM customers",
            {"email": "meta.email"},
            target="x; DROP TABLE customers",
        )
    build_members(con, "SELECT 'a' AS customer_id", {"email": "meta.email"}, target="m_winback-2")
    assert con.execute('SELECT count(*) FROM "m_winback-2"').fetchone() == (1,)
    with pytest.raises(ConfigError, match="field"):
        build(con, {"member_key": "meta.email"})


def test_meta_agrees_with_facebook_business_sdk_except_non_ascii_letters(con):
    """On ASCII input our Meta profiles hash exactly what the official SDK's helper hashes; on
    letters outside a-z they differ on purpose (Meta's docs keep them; the SDK drops them)."""
    sdk = pytest.importorskip("facebook_business.adobjects.customaudience")
    schema = ["EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY", "DOBY"]
    fields = ["email", "phone", "fn", "ln", "ct", "st", "zip", "country", "doby"]
    ascii_row = [
        " ABC@gmail.com",
        "+1 (800) 555-0100",
        "Mary-Ann",
        "O'Neil",
        "St. Louis",
        "TX",
        "75001-1234",
        "US",
        "1980",
    ]
    accented = [
        "jose@example.com",
        "+1 214 555 0100",
        "José",
        "Nuñez",
        "San José",
        "TX",
        "75001",
        "US",
        "1981",
    ]
    for cid, row in (("ascii", ascii_row), ("accented", accented)):
        add(
            con,
            cid,
            email=row[0],
            phone_mobile=row[1],
            first_name=row[2],
            last_name=row[3],
            city=row[4],
            state=row[5],
            postal_code=row[6],
            country=row[7],
            birth_year=int(row[8]),
        )
    _, rows = build(con, META)
    got = by_customer(rows)

    def sdk_hashes(row):
        payload = sdk.CustomAudience.format_params(schema=schema, users=[row], is_raw=True)
        return dict(zip(fields, payload["payload"]["data"][0], strict=True))

    assert {f: got["ascii"][f] for f in fields} == sdk_hashes(ascii_row)
    theirs, ours = sdk_hashes(accented), got["accented"]
    assert theirs["fn"] == sha("jos") and ours["fn"] == sha("josé")
    assert theirs["ln"] == sha("nuez") and ours["ln"] == sha("nuñez")
    assert theirs["ct"] == sha("sanjos") and ours["ct"] == sha("sanjosé")
    assert {f: ours[f] for f in fields if f not in ("fn", "ln", "ct")} == {
        f: theirs[f] for f in fields if f not in ("fn", "ln", "ct")
    }
