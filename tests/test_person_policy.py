"""Person-level policy (issue 14.2, 14.3, 14.5): excludes, opt-outs and the holdout apply to the
person (records sharing a normalized email or phone), on the hand-written two-rooftop extract
(tests/fixtures/dealer_group) and on generated warehouses for the holdout's statistics."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from dealersync.cli import cli
from dealersync.config import AudienceSettings
from dealersync.identity.persons import PERSON_OF, build_person_graph
from dealersync.policy import AudiencePolicy, holdout_sql
from dealersync.segments import CompiledSQL
from dealersync.store import Warehouse

sys.path.insert(0, str(Path(__file__).parent))
from test_rooftops import GROUP_CONFIG, group, mailchimp_people, run, sync_with_mailchimp  # noqa: E402
from test_state import FIXTURE as OLD_RELEASE  # noqa: E402
from test_state import SUPPRESSED, TOKEN, TOKEN_ENV, HoldoutWorld, _old_warehouse, customers, state_of  # noqa: E402


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def emails_in(path: Path, column: str = "email") -> set[str]:
    names = {sha(f"{n}@example.com"): n for n in ("ann.avery", "ben.brooks", "cara.cole", "eve.evans", "dan.diaz")}
    names[sha("cara@work.example")] = "cara.cole"
    with path.open(encoding="utf-8", newline="") as fh:
        return {names[r[column]] for r in csv.DictReader(fh)}


def test_one_person_at_two_stores_who_bought_tires_at_one_is_out_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    """Ben bought tires at south only; his north record (serviced, in the tire offer's segment)
    does not put him in the tire offer of any destination: Meta, Google, Mailchimp. Ann (north
    1001) and Dan (south 1001) are two people, both in."""
    fake = sync_with_mailchimp(tmp_path, monkeypatch)
    expected = {"ann.avery", "eve.evans", "dan.diaz"}
    assert emails_in(tmp_path / "out" / "tire_offer.meta_upload.csv") == expected
    assert emails_in(tmp_path / "out" / "tire_offer.google_upload.csv", "Email") == expected
    assert mailchimp_people(fake, "tire_offer") == {"ann", "eve", "dan"}


def test_a_person_opted_out_at_one_store_is_out_of_the_ads_audiences_at_both(tmp_path: Path) -> None:
    """Cara opted out (do_not_market) at north only; by default (group-wide) neither her north
    nor her south record (another email, the same mobile) is in any ads audience: not the tire
    offer, not the south store's audience, where her south record alone is in the segment."""
    run("sync", "--config", str(group(tmp_path)))
    files = ("tire_offer.meta_upload.csv", "tire_offer.google_upload.csv", "south_service.meta_upload.csv")
    reached = [emails_in(tmp_path / "out" / f, "Email" if "google" in f else "email") for f in files]
    assert all(people and "cara.cole" not in people for people in reached), reached
    assert "ben.brooks" in reached[2]  # the south audience does hold the other south records


def test_an_opt_out_can_be_kept_to_its_rooftop(tmp_path: Path) -> None:
    config = GROUP_CONFIG + '\n[rooftops.north]\nopt_outs = "rooftop"\n'
    run("sync", "--config", str(group(tmp_path, config)))
    assert "cara.cole" in emails_in(tmp_path / "out" / "tire_offer.meta_upload.csv")  # through south's record


def test_preview_names_the_other_record(tmp_path: Path) -> None:
    out = run("audiences", "preview", "tire_offer", "--config", str(group(tmp_path)))
    assert "customer 1002 (rooftop north): excluded through customer south:7002 (rooftop south)" in out
    assert "@" not in out.split("Removed through another record")[1]  # ids only, no PII


def _people_warehouse(n: int, pairs: int, seed: int = 1) -> Warehouse:
    """``n`` customers, the first ``2 * pairs`` of them pairs of one person (a shared email)."""
    wh = Warehouse(":memory:")
    wh.con.execute(
        "INSERT INTO customers (customer_id, email, _source) SELECT 'c' || i,"
        " CASE WHEN i < ? THEN 'p' || (i // 2) || '@x.org' ELSE 'c' || i || '@x.org' END, 's' FROM range(?) t(i)",
        [2 * pairs, n],
    )
    return wh


def _policy(wh: Warehouse, audiences: dict[str, AudienceSettings]) -> AudiencePolicy:
    everyone = CompiledSQL("SELECT customer_id FROM customers", [])
    return AudiencePolicy(wh.con, audiences, lambda _name: everyone)


def _held(wh: Warehouse, name: str) -> set[str]:
    return {r[0] for r in wh.con.execute(f'SELECT customer_id FROM "_holdout_{name}"').fetchall()}


def test_two_records_of_one_person_share_the_draw_in_1000_draws() -> None:
    wh = _people_warehouse(200, 50)
    rnd = random.Random(14)
    salts = [f"salt{rnd.getrandbits(48)}" for _ in range(1000)]
    audiences = {f"a{i}": AudienceSettings(segment="all", destinations=["d"], holdout=0.5, holdout_salt=s) for i, s in enumerate(salts)}
    policy = _policy(wh, audiences)
    split = both_held = 0
    for name in audiences:
        policy.select(name)
        held = _held(wh, name)
        split += sum((f"c{2 * p}" in held) != (f"c{2 * p + 1}" in held) for p in range(50))
        both_held += sum(f"c{2 * p}" in held and f"c{2 * p + 1}" in held for p in range(50))
    assert split == 0
    # not vacuous: about half of the 50,000 pair draws hold both records out, the rest treat both
    assert 24_000 < both_held < 26_000


def test_the_held_out_share_of_persons_at_100k() -> None:
    wh = _people_warehouse(100_000, 10_000)
    policy = _policy(wh, {"aud": AudienceSettings(segment="all", destinations=["d"], holdout=0.1)})
    policy.select("aud")
    persons = wh.con.execute(
        f'SELECT count(DISTINCT coalesce(p.person_id, h.customer_id)) FROM "_holdout_aud" h LEFT JOIN {PERSON_OF} p USING (customer_id)'
    ).fetchone()
    assert persons is not None
    assert abs(persons[0] / 90_000 - 0.1) <= 0.005  # 90,000 persons: 80,000 alone, 10,000 pairs


def test_a_one_record_person_keeps_the_draw_of_its_customer_id() -> None:
    wh = _people_warehouse(20_000, 1_000)
    policy = _policy(wh, {"aud": AudienceSettings(segment="all", destinations=["d"], holdout=0.2)})
    policy.select("aud")
    pred, params = holdout_sql("aud", 0.2)
    before = {r[0] for r in wh.con.execute(f"SELECT customer_id FROM customers WHERE {pred}", params).fetchall()}
    alone = {f"c{i}" for i in range(2_000, 20_000)}
    assert _held(wh, "aud") & alone == before & alone
    # a pair takes the draw of its anchor, the smaller id of the home rooftop
    persons = dict(wh.con.execute(f"SELECT customer_id, person_id FROM {PERSON_OF}").fetchall())
    assert persons["c0"] == persons["c1"] == "c0" and persons["c11"] == "c10"


def test_the_anchor_prefers_the_home_rooftop() -> None:
    wh = Warehouse(":memory:")
    wh.con.execute(
        "INSERT INTO customers (customer_id, email, _source) VALUES"
        " ('south:1', 'a@x.org', 'south'), ('9', 'A@x.org ', 'north'), ('south:2', 'b@x.org', 'south')"
    )
    build_person_graph(wh.con, ["south"])
    assert wh.con.execute(f"SELECT customer_id, person_id FROM {PERSON_OF} ORDER BY 1").fetchall() == [
        ("9", "9"), ("south:1", "9")
    ]


def test_an_upgraded_single_rooftop_warehouse_keeps_its_state_and_holdout_draws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warehouse of release e2e7d72 (before rooftops and persons): its sync state is kept (the
    platform's list as the old release left it: nothing to add, only the suppression the old CLI
    added comes off) and the same customers (all one-record persons) are held out after the upgrade."""
    from meta_fake import FakeMeta  # the Meta fake the state test's world syncs to
    from meta_world import sha

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    target = _old_warehouse(tmp_path)
    world = HoldoutWorld(tmp_path / "dealer", customers(60))
    before = state_of(world)
    old_runs = {r[0] for r in before["_holdouts"]}
    platform = json.loads((OLD_RELEASE / "remote.json").read_text(encoding="utf-8"))
    fake = FakeMeta()
    fake.add_members(fake.new_list(platform["name"], subtype="CUSTOM", customer_file_source="USER_PROVIDED_ONLY"), platform["members"])
    res = world.run(fake)
    assert res.status == "ok", res.error
    was_there = int(sha(SUPPRESSED) in {m.get("email") for m in platform["members"]})
    assert (res.added, res.removed) == (0, was_there)
    after = state_of(world)
    assert after["_sync_state"] <= before["_sync_state"]  # every row kept as it was...
    assert len(after["_sync_state"]) == len(before["_sync_state"]) - was_there  # ...but the suppressed one
    assert before["_suppressions"] == after["_suppressions"]
    new = {(a, cid) for run_id, a, _, _, cid in after["_holdouts"] if run_id not in old_runs}
    last_old = max(old_runs)
    old = {(a, cid) for run_id, a, _, _, cid in before["_holdouts"] if run_id == last_old}
    assert new and {cid for _, cid in new} == {cid for _, cid in old} - {None}
    con = duckdb.connect(str(target), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM customers WHERE customer_id LIKE '%:%'").fetchone() == (0,)
        # every customer is a person of one: no email or phone key is shared
        shared = "SELECT kind, key_sha256 FROM _customer_match_keys WHERE kind <> 'customer_id' GROUP BY ALL HAVING count(*) > 1"
        assert con.execute(f"SELECT count(*) FROM ({shared})").fetchone() == (0,)
        # the old entry was migrated to the scoped table: every channel, as before
        assert con.execute("SELECT scope FROM _suppressions").fetchall() == [("all",)]
    finally:
        con.close()


def test_cli_customer_id_without_rooftop_on_a_single_store(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["suppress", "add", "--config", str(group(tmp_path, "as_of = \"2026-11-23\"\n")), "--customer-id", "1", "--reason", "x"])
    assert res.exit_code == 0, res.output
    assert "added 1 suppression entry" in res.output


def test_cli_entries_take_a_scope(tmp_path: Path) -> None:
    """An email-only suppression keeps the person in the ads audiences; `all` takes them out."""
    config = str(group(tmp_path))
    run("suppress", "add", "--config", config, "--email", "Eve.Evans@example.com", "--scope", "email", "--reason", "bounce")
    run("sync", "--config", config)
    assert "eve.evans" in emails_in(tmp_path / "out" / "tire_offer.meta_upload.csv")
    listed = run("suppress", "list", "--config", config)
    assert "email" in listed and "bounce" in listed
    run("suppress", "add", "--config", config, "--email", "eve.evans@example.com", "--reason", "legal")
    run("sync", "--config", config)
    assert "eve.evans" not in emails_in(tmp_path / "out" / "tire_offer.meta_upload.csv")
    out = run("suppress", "remove", "--config", config, "--email", "eve.evans@example.com", "--scope", "email")
    assert "removed 1" in out
