"""The sample dealership generator: deterministic, well-formed, dirty in every documented way."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from dealersync.cli import cli
from dealersync.config import load_config
from dealersync.model import TABLES
from dealersync.opcodes import DEFAULT_OPCODES
from dealersync.sample import generate
from dealersync.sample.dialect import DEALER
from dealersync.plugins import load_plugins
from dealersync.sample.service_menu import DEALER_MENU, intended_categories, menu_line
from dealersync.segments import compile_segment, template_registry
from dealersync.service_categories import categorize_lines, config_rules
from dealersync.sync import Runner

AS_OF = dt.date(2026, 6, 1)
N = 3000

Rows = list[dict[str, str]]


def read(out: Path, table: str) -> Rows:
    with (out / f"{table}.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("sample")
    return out, generate(out, N, as_of=AS_OF)


@pytest.fixture(scope="module")
def data(sample: tuple[Path, dict[str, int]]) -> dict[str, Rows]:
    return {table: read(sample[0], table) for table in TABLES}


def column(rows: Rows, name: str) -> list[str]:
    return [r[name] for r in rows]


def months_before(as_of: dt.date, day: dt.date) -> int:
    """Whole calendar months from day to as_of."""
    return (as_of.year - day.year) * 12 + as_of.month - day.month - (as_of.day < day.day)


# --- shape ----------------------------------------------------------------------------------------


def test_counts_match_files_and_headers(
    sample: tuple[Path, dict[str, int]], data: dict[str, Rows]
) -> None:
    out, counts = sample
    assert list(counts) == list(TABLES)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.csv" for t in TABLES)
    for table, rows in data.items():
        with (out / f"{table}.csv").open(newline="", encoding="utf-8") as f:
            assert next(csv.reader(f)) == TABLES[table].column_names
        assert counts[table] == len(rows), table
    assert counts["customers"] == N
    assert 1.5 <= counts["vehicles"] / N <= 2.0
    assert counts["repair_orders"] >= 2 * N
    assert counts["ro_lines"] > counts["repair_orders"]
    assert min(counts.values()) > 0


def test_same_inputs_give_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert generate(first, 2000, as_of=AS_OF) == generate(second, 2000, as_of=AS_OF)
    for table in TABLES:
        name = f"{table}.csv"
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", 500, as_of=AS_OF, seed=7)
    generate(tmp_path / "b", 500, as_of=AS_OF, seed=8)
    for table in ("customers", "vehicles", "repair_orders", "events"):
        name = f"{table}.csv"
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes(), name


def test_every_date_moves_with_as_of(tmp_path: Path) -> None:
    shift = dt.timedelta(days=10)
    generate(tmp_path / "a", 300, as_of=AS_OF)
    generate(tmp_path / "b", 300, as_of=AS_OF + shift)
    moved = 0
    for table in TABLES.values():
        before, after = read(tmp_path / "a", table.name), read(tmp_path / "b", table.name)
        assert len(before) == len(after), table.name
        for old, new in zip(before, after, strict=True):
            for col in table.columns:
                if col.type in ("date", "timestamp") and old[col.name]:
                    parse = (
                        dt.date.fromisoformat if col.type == "date" else dt.datetime.fromisoformat
                    )
                    assert parse(new[col.name]) - parse(old[col.name]) == shift, (
                        table.name,
                        col.name,
                    )
                    moved += 1
                else:
                    assert new[col.name] == old[col.name], (table.name, col.name)
    assert moved > 300  # every customer has dates: the shift was really checked


def test_generic_layout_values_parse(data: dict[str, Rows]) -> None:
    """Nothing the loader would quarantine: every typed value parses, every date is ISO 8601."""
    parsers = {
        "integer": int,
        "decimal": float,
        "date": dt.date.fromisoformat,
        "timestamp": dt.datetime.fromisoformat,
        "boolean": lambda v: {"true": True, "false": False}[v],
    }
    for table in TABLES.values():
        for row in data[table.name]:
            for col in table.columns:
                value = row[col.name]
                if col.name in table.key:
                    assert value, (table.name, col.name)
                if value and col.type in parsers:
                    parsers[col.type](value)
    timestamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
    assert all(timestamp.match(v) for v in column(data["customers"], "created_at"))


def test_keys_unique_and_references_exist(data: dict[str, Rows]) -> None:
    for table in TABLES.values():
        if table.key:
            keys = [tuple(r[k] for k in table.key) for r in data[table.name]]
            assert len(keys) == len(set(keys)), table.name
    customers = set(column(data["customers"], "customer_id"))
    assert re.fullmatch(r"C\d{7}", min(customers))
    vehicles = {r["vehicle_id"]: r["customer_id"] for r in data["vehicles"]}
    ros = set(column(data["repair_orders"], "ro_id"))
    for table in ("vehicles", "deals", "repair_orders", "appointments", "leads", "events"):
        assert set(column(data[table], "customer_id")) <= customers, table
    for table in ("deals", "repair_orders", "appointments"):
        for row in data[table]:
            assert vehicles[row["vehicle_id"]] == row["customer_id"], table
    assert set(column(data["ro_lines"], "ro_id")) <= ros
    co_buyers = {v for v in column(data["deals"], "co_buyer_customer_id") if v}
    assert co_buyers and co_buyers <= customers
    for row in data["suppressions"]:
        assert sum(bool(row[c]) for c in ("email", "phone", "customer_id")) == 1
    emails = {e.strip().lower() for e in column(data["customers"], "email")}
    phones = set(column(data["customers"], "phone_mobile"))
    for row in data["suppressions"]:
        assert row["email"] in emails | {""} and row["phone"] in phones | {""}
        assert row["customer_id"] in customers | {""}
        assert row["reason"] in ("complaint", "legal")


def test_enumerated_values(data: dict[str, Rows]) -> None:
    assert set(column(data["repair_orders"], "pay_type")) == {"customer", "warranty", "internal"}
    assert set(column(data["ro_lines"], "status")) == {"performed", "declined", "recommended"}
    assert set(column(data["ro_lines"], "op_code")) <= set(DEFAULT_OPCODES)
    assert set(column(data["deals"], "deal_type")) == {"cash", "finance", "lease"}
    assert set(column(data["customers"], "preferred_channel")) == {
        "email",
        "sms",
        "phone",
        "mail",
        "",
    }
    assert set(column(data["leads"], "source")) == {
        "website",
        "third_party",
        "walk_in",
        "phone",
        "chat",
    }
    assert {"new", "contacted", "sold", "lost"} <= set(column(data["leads"], "stage"))
    assert set(column(data["events"], "channel")) <= {"email", "sms", "web", "event"}
    assert {"sent", "open", "click", "unsubscribe", "bounce"} <= set(column(data["events"], "type"))


# --- dirt ----------------------------------------------------------------------------------------


def test_email_dirt(data: dict[str, Rows]) -> None:
    emails = column(data["customers"], "email")
    present = [e for e in emails if e]
    assert 0.02 < emails.count("") / len(emails) < 0.2
    assert any(e.strip() == e.strip().upper() and "@" in e for e in present)  # SHOUTED
    assert any(e.strip() not in (e.strip().lower(), e.strip().upper()) for e in present)  # Mixed
    assert any(e.startswith(" ") for e in present) and any(e.endswith(" ") for e in present)
    gmail = [e.strip().lower() for e in present if e.strip().lower().endswith("@gmail.com")]
    assert any("." in e.split("@")[0] for e in gmail)
    assert any("+" in e.split("@")[0] for e in gmail)
    assert any(e.strip().lower().endswith("@googlemail.com") for e in present)


PHONE_FORMATS = {
    "parens": r"\(\d{3}\) \d{3}-\d{4}",
    "dots": r"\d{3}\.\d{3}\.\d{4}",
    "digits": r"\d{10}",
    "plus one": r"\+1 \d{3} \d{3} \d{4}",
    "one dash": r"1-\d{3}-\d{3}-\d{4}",
    "double zero": r"001 \d{3} \d{3} \d{4}",
    "extension": r"\(\d{3}\) \d{3}-\d{4} x\d+",
    "UK": r"\+44 20 \d{4} \d{4}",
    "Mexico": r"\+52 55 \d{4} \d{4}",
}


def test_phone_dirt(data: dict[str, Rows]) -> None:
    phones = column(data["customers"], "phone_mobile") + column(data["customers"], "phone_home")
    for name, pattern in PHONE_FORMATS.items():
        assert any(re.fullmatch(pattern, p) for p in phones), name
    assert {"n/a", "123"} <= set(phones)
    assert "" in column(data["customers"], "phone_mobile")
    us = [re.sub(r"\D", "", p)[-10:] for p in phones if re.match(r"^(\(|\d|\+1 |1-|001 )", p)]
    assert sum(p.startswith("555") for p in us) / len(us) > 0.15


def test_name_and_address_dirt(data: dict[str, Rows]) -> None:
    customers = data["customers"]
    first, last = column(customers, "first_name"), column(customers, "last_name")
    names = " ".join(first + last)
    for fragment in ("O'Brien", "Smith-Jones", "Jr.", "José", "Zoë"):
        assert fragment in names, fragment
    assert "" in first and "" in last
    assert any(n and n == n.upper() and n != n.lower() for n in first)
    states = Counter(column(customers, "state"))
    assert states["TX"] > states["Texas"] > 0
    zips = column(customers, "postal_code")
    assert any(re.fullmatch(r"\d{5}-\d{4}", z) for z in zips)
    assert any(re.fullmatch(r"\d{5}", z) for z in zips)
    countries = Counter(column(customers, "country"))
    assert countries["US"] > 0.8 * N and countries[""] > 0 and countries["CA"] + countries["MX"] > 0
    years = [int(y) for y in column(customers, "birth_year") if y]
    assert years and min(years) >= AS_OF.year - 90 and max(years) <= AS_OF.year - 18


def test_same_person_under_two_ids(data: dict[str, Rows]) -> None:
    ids_by_person = defaultdict(set)
    for r in data["customers"]:
        if r["email"]:
            ids_by_person[(r["email"].strip().lower(), r["first_name"], r["last_name"])].add(
                r["customer_id"]
            )
    duplicated = [ids for ids in ids_by_person.values() if len(ids) > 1]
    assert 0.01 * N < len(duplicated) < 0.1 * N


def test_households_share_an_address(data: dict[str, Rows]) -> None:
    at = Counter((r["address_line1"], r["city"], r["postal_code"]) for r in data["customers"])
    shared = [n for n in at.values() if n > 1]
    assert len(shared) > 0.02 * N and max(shared) >= 3


def test_opt_outs(data: dict[str, Rows]) -> None:
    customers = data["customers"]
    for flag, value in [
        ("email_opt_in", "false"),
        ("do_not_email", "true"),
        ("do_not_market", "true"),
    ]:
        share = column(customers, flag).count(value) / N
        assert 0.005 < share < 0.15, flag


def test_vehicles_and_deals(data: dict[str, Rows]) -> None:
    per_customer = Counter(column(data["vehicles"], "customer_id"))
    assert max(per_customer.values()) >= 3 and sum(n >= 2 for n in per_customer.values()) > 0.3 * N
    leases = [r for r in data["deals"] if r["deal_type"] == "lease"]
    ahead = [(dt.date.fromisoformat(r["lease_maturity_date"]) - AS_OF).days for r in leases]
    assert min(ahead) < -365 and max(ahead) > 365 and max(ahead) <= 731
    assert any(0 <= d <= 90 for d in ahead)
    for r in data["deals"]:
        if r["deal_type"] == "finance":
            assert r["term_months"] and r["apr"] and r["monthly_payment"]
    assert any(r["payoff_amount"] for r in data["deals"] if r["deal_type"] == "finance")


def test_service_history_covers_every_status(data: dict[str, Rows]) -> None:
    last: dict[str, dt.date] = {}
    for r in data["repair_orders"]:
        opened = dt.date.fromisoformat(r["opened_on"])
        assert AS_OF - dt.timedelta(days=5 * 366 + 30) <= opened <= AS_OF
        last[r["customer_id"]] = max(opened, last.get(r["customer_id"], opened))
    months = [months_before(AS_OF, d) for d in last.values()]
    loyal = sum(m < 12 for m in months)
    at_risk = sum(12 <= m < 24 for m in months)
    lost = sum(m >= 24 for m in months)
    never = N - len(last)
    assert min(loyal, at_risk, lost, never) > 0.05 * N, (loyal, at_risk, lost, never)


def test_declined_work_and_tire_purchases(data: dict[str, Rows]) -> None:
    opened = {r["ro_id"]: dt.date.fromisoformat(r["opened_on"]) for r in data["repair_orders"]}
    declined = Counter(
        DEFAULT_OPCODES[r["op_code"]] for r in data["ro_lines"] if r["status"] == "declined"
    )
    assert declined["brakes"] > 0 and declined["tires"] > 0
    tire_days = [
        (AS_OF - opened[r["ro_id"]]).days
        for r in data["ro_lines"]
        if DEFAULT_OPCODES[r["op_code"]] == "tires" and r["status"] == "performed"
    ]
    assert any(d <= 30 for d in tire_days)
    assert any(700 <= d <= 760 for d in tire_days)


def test_events_span_the_last_year(data: dict[str, Rows]) -> None:
    start = dt.datetime.combine(AS_OF - dt.timedelta(days=366), dt.time())
    end = dt.datetime.combine(AS_OF, dt.time())
    assert data["events"]
    for r in data["events"]:
        assert start <= dt.datetime.fromisoformat(r["occurred_at"]) <= end


@pytest.mark.parametrize("customers", [1])
def test_tiny_samples(tmp_path: Path, customers: int) -> None:
    counts = generate(tmp_path, customers, as_of=AS_OF)
    assert counts["customers"] == customers and counts["suppressions"] >= 1


def test_rejects_no_customers(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, 0, as_of=AS_OF)


# --- the dealer dialect --------------------------------------------------------------------------

MONEY = re.compile(r"^\$\d{1,3}(,\d{3})*\.\d\d$")


@pytest.fixture(scope="module")
def dealer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dealer")
    generate(out, N, as_of=AS_OF, dialect=DEALER, encoding="cp1252")
    return out


def read_dealer(out: Path, table: str) -> Rows:
    encoding = "cp1252" if table == "customers" else "utf-8"
    with (out / f"{table}.csv").open(newline="", encoding=encoding) as f:
        return list(csv.DictReader(f))


def test_dealer_writes_dms_letters_and_money(dealer: Path) -> None:
    lines, ros = read_dealer(dealer, "ro_lines"), read_dealer(dealer, "repair_orders")
    assert set(column(lines, "status")) == {"C", "D", "R"}
    assert set(column(ros, "pay_type")) == {"C", "W", "I"}
    deals = read_dealer(dealer, "deals")
    assert set(column(deals, "deal_type")) == {"C", "F", "L"}
    assert set(column(deals, "new_used")) == {"N", "U"}
    appointments = column(read_dealer(dealer, "appointments"), "status")
    assert set(appointments) == {"Scheduled", "Confirmed", "Shown", "No Show", "Canceled"}
    totals = column(ros, "total")
    assert all(MONEY.match(t) for t in totals)
    assert any("," in t for t in totals)  # $1,234.56
    # a total is the sum of the RO's performed lines
    performed: dict[str, float] = defaultdict(float)
    for r in lines:
        if r["status"] == "C":
            performed[r["ro_id"]] += float(r["labor_amount"]) + float(r["parts_amount"])
    for r in ros:
        money = float(r["total"].lstrip("$").replace(",", ""))
        assert money == pytest.approx(performed[r["ro_id"]], abs=0.005), r["ro_id"]


def test_dealer_op_codes_as_service_writers_type_them(dealer: Path) -> None:
    lines = read_dealer(dealer, "ro_lines")
    menu = [menu_line(r["op_code"], r["description"]) for r in lines]  # every line is on the menu
    codes_by_category: dict[str, set[str]] = defaultdict(set)
    for m in menu:
        for category in m.categories:
            codes_by_category[category].add(m.code)
    assert len(codes_by_category["tires"]) >= 4 and len(codes_by_category["brakes"]) >= 3
    assert len(codes_by_category["oil"]) >= 4
    descriptions = set(column(lines, "description"))
    for wording in ("TIRE ROTATON", "FRONT BREAK PADS & RESURFACE ROTORS", "4 TIRES M&B"):
        assert wording in descriptions, wording  # typos and abbreviations
    # lines that name tires or brakes without selling them, done and on the file
    for category in ("tires", "brakes"):
        named = {
            r["description"]
            for r, m in zip(lines, menu, strict=True)
            if category in m.mentions and r["status"] == "C"
        }
        assert category.upper().rstrip("S") in " ".join(named)
        assert len(named) >= 5, category
    for wording in ("TIRE ROTATION", "TIRE PRESSURE CHECK", "BRAKE INSPECTION", "ROTATE & BALANCE",
                    "MULTI POINT INSP - CHECK BRAKES"):  # fmt: skip
        assert wording in descriptions, wording
        assert not {"tires", "brakes"} & set(intended_categories(*_code_of(lines, wording)))
    # package lines sell several categories
    assert set(intended_categories(*_code_of(lines, "LOF W/ TIRE ROTATION"))) == {"oil", "rotation"}
    assert set(intended_categories(*_code_of(lines, "4 TIRES MOUNT & BALANCE + ALIGN"))) == {
        "tires",
        "alignment",
    }
    # one catch-all code whose lines only their description explains
    misc = {c for m in menu if m.code == "MISC" for c in m.categories}
    assert {"tires", "brakes", "rotation"} <= misc
    # tire and brake purchases are declined and recommended as well as done
    big = Counter(
        r["status"]
        for r, m in zip(lines, menu, strict=True)
        if {"tires", "brakes"} & set(m.categories)
    )
    assert min(big["C"], big["D"], big["R"]) > 100


def _code_of(lines: Rows, description: str) -> tuple[str, str]:
    return next((r["op_code"], description) for r in lines if r["description"] == description)


def test_dealer_customers_file_is_windows_1252_with_crlf(dealer: Path, tmp_path: Path) -> None:
    raw = (dealer / "customers.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.count(b"\r\n") == raw.count(b"\n") == N + 1
    assert b"\x92" in raw  # ’: a byte Latin-1 would misread
    text = raw.decode("cp1252")
    assert "é" in text and "ñ" in text and "O’Brien" in text
    # the same people as the UTF-8 file the dialect writes without the option
    generate(tmp_path, N, as_of=AS_OF, dialect=DEALER)
    assert (tmp_path / "customers.csv").read_text(encoding="utf-8") == text.replace("\r\n", "\n")
    # and as the plain dialect, but for the apostrophes some people type as ’
    generate(tmp_path / "plain", N, as_of=AS_OF)
    plain = (tmp_path / "plain" / "customers.csv").read_text(encoding="utf-8")
    assert plain == text.replace("\r\n", "\n").replace("’", "'")


def test_rejects_unknown_encoding(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="latin-9"):
        generate(tmp_path, 10, as_of=AS_OF, encoding="latin-9")


# --- the demo on the dealer dialect agrees with the generator's ground truth ---------------------

ROOT = Path(__file__).parents[1]
DEMO_AS_OF = dt.date(2026, 11, 23)  # connectors.toml's as_of
LINE_STATUS = {word: canonical for canonical, word in DEALER.words("ro_lines", "status").items()}
INTERNAL = DEALER.words("repair_orders", "pay_type")["internal"]


@pytest.fixture(scope="module")
def dealer_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Quick start on a small sample: ``dealersync sample`` then ``dealersync sync`` from the
    demo's connectors.toml."""
    d = tmp_path_factory.mktemp("dealer_demo")
    shutil.copy(ROOT / "connectors.toml", d / "connectors.toml")
    config = ["--config", str(d / "connectors.toml")]
    runner = CliRunner()
    out = ["--out", str(d / "sample/dms")]
    res = runner.invoke(cli, ["sample", "--customers", str(N), *out, *config])
    assert res.exit_code == 0, res.output
    assert "dealer dialect" in res.output
    res = runner.invoke(cli, ["sync", *config])
    assert res.exit_code == 0, res.output
    return d


def ground_truth(dms: Path, as_of: dt.date) -> dict[str, set[str]]:
    """Who bought tires in the last 180 days and who has brake work declined 3 to 90 days ago
    and not done since, from the menu's intended categories (not from any rule)."""
    ros = {
        r["ro_id"]: (r["customer_id"], dt.date.fromisoformat(r["opened_on"] or r["closed_on"]))
        for r in read_dealer(dms, "repair_orders")
        if r["customer_id"] and r["pay_type"] != INTERNAL
    }
    tires: set[str] = set()
    brakes: dict[str, dict[str, dt.date]] = defaultdict(dict)
    for line in read_dealer(dms, "ro_lines"):
        if line["ro_id"] not in ros:
            continue
        customer, day = ros[line["ro_id"]]
        if day > as_of:
            continue
        categories = intended_categories(line["op_code"], line["description"])
        done = LINE_STATUS[line["status"]] == "performed"
        if done and "tires" in categories and day >= as_of - dt.timedelta(days=180):
            tires.add(customer)
        if "brakes" in categories:
            seen = brakes[customer]
            key = "performed" if done else "declined"
            seen[key] = max(day, seen.get(key, day))
    low, high = as_of - dt.timedelta(days=90), as_of - dt.timedelta(days=3)
    declined = {
        c
        for c, seen in brakes.items()
        if "declined" in seen
        and seen["declined"] > seen.get("performed", dt.date.min)
        and low <= seen["declined"] <= high
    }
    return {"recent_tire_buyers": tires, "declined_brakes": declined}


def segment_members(demo: Path, name: str) -> set[str]:
    runner = Runner(load_config(demo / "connectors.toml"), load_plugins())
    try:
        compiled = compile_segment(
            name,
            runner.config.settings.segments,
            runner.facts,
            as_of=runner.as_of,
            templates=template_registry(runner.registry),
        )
        rows = runner.warehouse.con.execute(
            f"SELECT customer_id FROM ({compiled.sql})", compiled.params
        ).fetchall()
    finally:
        runner.close()
    return {r[0] for r in rows}


def audience_customers(demo: Path, audience: str) -> set[str]:
    con = duckdb.connect(str(demo / ".dealersync/warehouse.duckdb"), read_only=True)
    try:
        (table,) = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE ?",
            [f"_members_{audience}_meta_upload_%"],
        ).fetchone() or ("",)
        rows = con.execute(f'SELECT unnest(customer_ids) FROM "{table}"').fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def test_demo_segments_equal_the_ground_truth(dealer_demo: Path) -> None:
    truth = ground_truth(dealer_demo / "sample/dms", DEMO_AS_OF)
    for segment in ("recent_tire_buyers", "declined_brakes"):
        found = segment_members(dealer_demo, segment)
        assert found == truth[segment], (
            segment,
            sorted(found - truth[segment])[:5],
            sorted(truth[segment] - found)[:5],
        )
    assert len(truth["recent_tire_buyers"]) > 0.03 * N and len(truth["declined_brakes"]) > 10


def test_demo_tire_offer_leaves_out_every_tire_buyer(dealer_demo: Path) -> None:
    truth = ground_truth(dealer_demo / "sample/dms", DEMO_AS_OF)
    offered = audience_customers(dealer_demo, "tire_offer")
    assert offered and not offered & truth["recent_tire_buyers"]
    declined = audience_customers(dealer_demo, "declined_brakes")
    assert declined and declined <= truth["declined_brakes"]


def test_demo_rules_read_every_menu_line_as_intended() -> None:
    """The demo config's categorization (built-in rules plus its few dealer codes) on every
    wording of the dealer's menu: tires and brakes exactly as intended, and nearly every line's
    whole set of categories."""
    rows = [(m.code, d) for m in DEALER_MENU for d in m.descriptions]
    found = categorize_lines(rows, config_rules(load_config(ROOT / "connectors.toml")))
    same = 0
    for (code, description), decided in zip(rows, found, strict=True):
        got = {category for category, _ in decided}
        wanted = set(intended_categories(code, description))
        assert got & {"tires", "brakes"} == wanted & {"tires", "brakes"}, (code, description, got)
        same += got == wanted
    assert same >= 0.95 * len(rows), same
