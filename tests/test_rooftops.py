"""Rooftops (issue 14.1): two stores' colliding DMS numbers stay different customers; a Meta ad
account per store or one shared destination.

The extract is ``tests/fixtures/dealer_group`` (hand-written, see its README).
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest
import responses
from click.testing import CliRunner

from dealersync.cli import cli
from dealersync.config import ConnectorEntry
from dealersync.errors import ConfigError
from dealersync.rooftops import Rooftops, qualify_ids_sql
from dealersync.testing import run_sync

PLUGINS = Path(__file__).parents[1] / "plugins"
sys.path.insert(0, str(PLUGINS / "dealersync-meta" / "tests"))
sys.path.insert(0, str(PLUGINS / "dealersync-mailchimp" / "tests"))
from mailchimp_fake import API_KEY, LIST_ID, FakeMailchimp  # noqa: E402
from meta_fake import TOKEN, VERSION, FakeMeta  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "dealer_group"
#: Who is who in the fixture, by the SHA-256 of their normalized email (Cara has two).
PEOPLE = {
    hashlib.sha256(email.encode()).hexdigest(): name
    for email, name in (
        ("ann.avery@example.com", "ann"), ("ben.brooks@example.com", "ben"), ("cara.cole@example.com", "cara"),
        ("cara@work.example", "cara"), ("eve.evans@example.com", "eve"), ("dan.diaz@example.com", "dan"),
    )
}

GROUP_CONFIG = """
as_of = "2026-11-23"

[sources.north_dms]
connector = "dms-csv"
path = "north"
rooftop = "north"

[sources.south_dms]
connector = "dms-csv"
path = "south"
rooftop = "south"

[destinations.meta_upload]
connector = "meta-file"

[destinations.google_upload]
connector = "google-file"

[segments.active_customers]
rule = { fact = "months_since_last_service", op = "<", value = 24 }

[segments.recent_tire_buyers]
template = "purchased_category"
params = { category = "tires", within_days = 180 }

[segments.south_store]
rule = { fact = "rooftop", op = "=", value = "south" }

[audiences.tire_offer]
segment = "active_customers"
exclude = ["recent_tire_buyers"]
destinations = ["meta_upload", "google_upload"]

[audiences.south_service]
segment = "south_store"
destinations = ["meta_upload"]
"""


MAILCHIMP_ENV = "DEALERSYNC_TEST_MAILCHIMP_KEY"
#: The group's config with a Mailchimp audience (the Mailchimp fake) beside the Meta and Google
#: files: the tire offer goes to all three.
WITH_MAILCHIMP = GROUP_CONFIG.replace(
    '[audiences.tire_offer]\nsegment = "active_customers"\nexclude = ["recent_tire_buyers"]\n'
    'destinations = ["meta_upload", "google_upload"]',
    '[audiences.tire_offer]\nsegment = "active_customers"\nexclude = ["recent_tire_buyers"]\n'
    'destinations = ["meta_upload", "google_upload", "mailchimp"]',
) + f"""
[destinations.mailchimp]
connector = "mailchimp"
api_key = {{ env = "{MAILCHIMP_ENV}" }}
list_id = "{LIST_ID}"
status_for_new = "subscribed"
"""
assert WITH_MAILCHIMP.count('"mailchimp"]') == 1


def sync_with_mailchimp(
    root: Path, monkeypatch: pytest.MonkeyPatch, config: str = WITH_MAILCHIMP, files: Mapping[str, str] | None = None
) -> FakeMailchimp:
    """Sync the group (``config``, by default :data:`WITH_MAILCHIMP`, and ``files`` as for
    :func:`group`) into a fresh Mailchimp fake; every delivery must succeed. Returns the fake."""
    monkeypatch.setenv(MAILCHIMP_ENV, API_KEY)
    fake = FakeMailchimp()
    path = group(root, config, files)
    with fake.running():
        results = run_sync(path)
    assert results and all(r.status == "ok" for r in results), [(r.audience, r.destination, r.error) for r in results]
    return fake


def mailchimp_people(fake: FakeMailchimp, tag: str) -> set[str]:
    """Who carries the Mailchimp tag ``tag`` (names as in :data:`PEOPLE`)."""
    return {PEOPLE[hashlib.sha256(email.encode()).hexdigest()] for email in fake.tagged(LIST_ID, tag)}


def group(tmp_path: Path, config: str = GROUP_CONFIG, files: Mapping[str, str] | None = None) -> Path:
    """The fixture's two stores and ``config`` in ``tmp_path``, plus ``files`` (path -> text,
    e.g. ``{"south/suppressions.csv": ...}``); returns the config's path."""
    for store in ("north", "south"):
        shutil.copytree(FIXTURE / store, tmp_path / store)
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    path = tmp_path / "connectors.toml"
    path.write_text(config, encoding="utf-8")
    return path


def query(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(tmp_path / ".dealersync" / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def run(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("group")
    run("sync", "--config", str(group(tmp)))
    return tmp


def test_colliding_ids_stay_different_customers(synced: Path) -> None:
    customers = query(synced, "SELECT customer_id, _source_id, first_name FROM customers ORDER BY customer_id")
    assert ("1001", "1001", "Ann") in customers
    assert ("south:1001", "1001", "Dan") in customers
    # the references are qualified with the key: south's RO 5001 is Dan's, north's is Ann's
    ros = dict(query(synced, "SELECT ro_id, customer_id FROM repair_orders"))
    assert ros["5001"] == "1001" and ros["south:5001"] == "south:1001"
    lines = query(synced, "SELECT ro_id, op_code FROM ro_lines WHERE ro_id LIKE '%5001'")
    assert sorted(lines) == [("5001", "LOF"), ("south:5001", "LOF")]


def test_the_rooftop_fact_targets_one_store(synced: Path) -> None:
    facts = dict(query(synced, "SELECT customer_id, rooftop FROM customer_facts"))
    assert facts["1001"] == "north" and facts["south:1001"] == "south" and facts["south:7003"] == "south"
    with (synced / "out" / "south_service.meta_upload.csv").open(encoding="utf-8", newline="") as fh:
        south = sorted(PEOPLE[r["email"]] for r in csv.DictReader(fh))
    # Dan and Ben's south record; Cara's south record is out: she opted out at north (group-wide)
    assert south == ["ben", "dan"]


def test_a_single_store_keeps_its_ids(tmp_path: Path) -> None:
    config = GROUP_CONFIG.replace('[sources.south_dms]\nconnector = "dms-csv"\npath = "south"\nrooftop = "south"\n', "")
    config = config.replace("[audiences.south_service]", "[audiences.unused]").replace('segment = "south_store"', 'segment = "active_customers"')
    run("sync", "--config", str(group(tmp_path, config)))
    ids = {r[0] for r in query(tmp_path, "SELECT customer_id FROM customers")}
    assert ids == {"1001", "1002", "1003", "1004"}
    without = tmp_path / "plain"
    without.mkdir()
    run("sync", "--config", str(group(without, config.replace('rooftop = "north"\n', ""))))
    assert {r[0] for r in query(without, "SELECT customer_id FROM customers")} == ids
    assert {r[0] for r in query(without, "SELECT rooftop FROM customer_facts")} == {None}


def test_the_home_rooftop_keeps_its_ids_and_is_configurable() -> None:
    sources = {
        "a": ConnectorEntry(connector="dms-csv", rooftop="north"),
        "b": ConnectorEntry(connector="dms-csv", rooftop="south"),
        "c": ConnectorEntry(connector="dms-csv"),
    }
    first = Rooftops.configure(sources)
    assert (first.id_prefix("a"), first.id_prefix("b"), first.id_prefix("c")) == ("", "south:", "")
    south_home = Rooftops.configure(sources, "south")
    assert (south_home.id_prefix("a"), south_home.id_prefix("b"), south_home.of_source("c")) == ("north:", "", "south")
    with pytest.raises(ConfigError, match="home_rooftop"):
        Rooftops.configure(sources, "east")
    assert first.qualify("1001", "south") == "south:1001" and first.qualify("1001", "north") == "1001"
    with pytest.raises(ConfigError, match="several rooftops"):
        first.qualify("1001", None)
    with pytest.raises(ConfigError, match="expected one of the configured rooftops"):
        first.qualify("1001", "east")
    assert Rooftops.configure({"a": sources["c"]}).qualify("1001", None) == "1001"


def test_ids_are_qualified_in_sql_and_nulls_stay_null() -> None:
    sql = qualify_ids_sql("SELECT '1' AS customer_id, NULL::VARCHAR AS vehicle_id, 'x' AS email", ["customer_id", "vehicle_id", "email"], "south:")
    assert duckdb.sql(sql).fetchall() == [("south:1", None, "x")]
    assert qualify_ids_sql("SELECT 1", ["customer_id"], "") == "SELECT 1"


def test_suppress_a_customer_id_of_one_rooftop(tmp_path: Path) -> None:
    config = str(group(tmp_path))
    res = CliRunner().invoke(cli, ["suppress", "add", "--config", config, "--customer-id", "1001", "--reason", "legal"])
    assert res.exit_code == 2 and "several rooftops" in res.output
    run("suppress", "add", "--config", config, "--customer-id", "1001", "--rooftop", "south", "--reason", "legal")
    run("sync", "--config", config)
    tire = (tmp_path / "out" / "tire_offer.meta_upload.csv").read_text(encoding="utf-8")
    from hashlib import sha256

    assert sha256(b"ann.avery@example.com").hexdigest() in tire  # north 1001 stays
    assert sha256(b"dan.diaz@example.com").hexdigest() not in tire  # south 1001 is suppressed
    assert "removed 0" in run("suppress", "remove", "--config", config, "--customer-id", "1001", "--rooftop", "north")
    assert "removed 1" in run("suppress", "remove", "--config", config, "--customer-id", "1001", "--rooftop", "south")


META_TOKEN_ENV = "DEALERSYNC_TEST_META_TOKEN"
#: docs/dealer-groups.md, "Destinations per rooftop or shared": an ad account per store (each
#: audience's segment filtered by the rooftop fact) and a group-wide audience to a shared one.
PER_ROOFTOP = "\n".join(GROUP_CONFIG.split("\n[audiences.tire_offer]")[:1]) + "".join(
    f"""
[destinations.meta_{store}]
connector = "meta"
ad_account_id = "{account}"
access_token = {{ env = "{META_TOKEN_ENV}" }}
base_url = "https://{store}.meta.test"

[segments.tire_offer_{store}]
rule = {{ all = [{{ segment = "active_customers" }}, {{ fact = "rooftop", op = "=", value = "{store}" }}] }}

[audiences.tire_offer_{store}]
segment = "tire_offer_{store}"
exclude = ["recent_tire_buyers"]
destinations = ["meta_{store}"]
"""
    for store, account in (("north", "act_111"), ("south", "act_222"))
) + """
[audiences.tire_offer]
segment = "active_customers"
exclude = ["recent_tire_buyers"]
destinations = ["meta_upload"]
"""


def meta_people(fake: FakeMeta) -> list[str]:
    """Who is in the fake's only custom audience (names as in :data:`PEOPLE`), sorted."""
    return sorted(PEOPLE[m["email"]] for m in fake.members(fake.only_list()))


def test_a_meta_ad_account_per_rooftop_or_a_shared_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each store's audience reaches its own ad account, with only that store's records, and
    person-level policy still holds across stores (Ben bought tires at south: out of north's
    audience too; Cara opted out at north: out of south's); the group-wide audience goes to one
    shared destination."""
    monkeypatch.setenv(META_TOKEN_ENV, TOKEN)
    fakes: dict[str, Any] = {}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for store, account in (("north", "act_111"), ("south", "act_222")):
            fakes[store] = FakeMeta(account=account)
            fakes[store].base_url = f"https://{store}.meta.test/{VERSION}"
            fakes[store].register(rsps)
        results = run_sync(group(tmp_path, PER_ROOFTOP))
    assert {(r.audience, r.destination, r.status) for r in results} == {
        ("tire_offer_north", "meta_north", "ok"), ("tire_offer_south", "meta_south", "ok"),
        ("tire_offer", "meta_upload", "ok"),
    }
    assert meta_people(fakes["north"]) == ["ann", "eve"]
    assert meta_people(fakes["south"]) == ["dan"]
    with (tmp_path / "out" / "tire_offer.meta_upload.csv").open(encoding="utf-8", newline="") as fh:
        assert sorted(PEOPLE[r["email"]] for r in csv.DictReader(fh)) == ["ann", "dan", "eve"]
