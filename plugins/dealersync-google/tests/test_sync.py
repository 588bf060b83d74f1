"""Whole runs (``run_sync``) into the Data Manager fake: what the remote list holds after each."""

from __future__ import annotations

import copy
import hashlib
import random
import shutil
import types
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from dealersync import BatchLimits, hookimpl
from dealersync.testing import SimulatedCrash, crash_at, run_sync, write_dealership
from dealersync_google import GoogleCustomerMatch
from dealersync_google_fake import CLIENT_SECRET, FAKE_CONFIG, LIST_ID, REFRESH_TOKEN, FakeDataManager

SECRET_ENV = {"DSG_CLIENT_SECRET": CLIENT_SECRET, "DSG_REFRESH_TOKEN": REFRESH_TOKEN}


class SmallBatches(GoogleCustomerMatch):
    """The connector with 40-member batches, so a few hundred customers make several requests."""

    name = "google-small"
    limits = BatchLimits(rows=40, identifiers_per_member=10)


small_plugin = types.ModuleType("dealersync_google_small_batches")
small_plugin.dealersync_register_destinations = hookimpl(lambda: [SmallBatches])  # type: ignore[attr-defined]


def customer(i: int, seed: str = "") -> dict[str, Any]:
    return {
        "customer_id": f"C{i:05d}",
        "first_name": f"Plantedgiven{i}",
        "last_name": f"Plantedfamily{i}",
        "email": f"Planted.Owner{i}{seed}@Dealer-Example.com",
        "phone_mobile": f"(512) 555-{i:04d}",
        "postal_code": f"{78701 + i % 50:05d}",
        "country": "US",
    }


def email_hash(c: dict[str, Any]) -> str:
    return hashlib.sha256(c["email"].lower().encode()).hexdigest()


class World:
    """A dealership on disk, its connectors.toml, and the fake Google it syncs to."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, n: int, connector: str = "google") -> None:
        self.root = root
        self.fake = FakeDataManager()
        self.connector = connector
        self.customers = {f"C{i:05d}": customer(i) for i in range(n)}
        for k, v in SECRET_ENV.items():
            monkeypatch.setenv(k, v)
        self.write(mode="mirror")

    def write(self, mode: str) -> None:
        secrets = {"client_secret": {"env": "DSG_CLIENT_SECRET"}, "refresh_token": {"env": "DSG_REFRESH_TOKEN"}}
        write_dealership(
            self.root, self.customers.values(), {"connector": self.connector, **FAKE_CONFIG, **secrets}, mode=mode
        )

    def clone(self, root: Path) -> World:
        """The same dealership, warehouse and remote list, in another directory (a fresh fake
        holding a copy of this one's lists)."""
        shutil.copytree(self.root, root)
        other = copy.copy(self)
        other.root = root
        other.customers = copy.deepcopy(self.customers)
        other.fake = FakeDataManager()
        other.fake.lists = copy.deepcopy(self.fake.lists)
        other.fake.applied = copy.deepcopy(self.fake.applied)
        return other

    def run(self, mode: str = "mirror", **kw: Any) -> Any:
        self.write(mode)
        with self.fake.serve():
            [result] = run_sync(self.root / "connectors.toml", extra_plugins=[small_plugin], **kw)
        return result

    def expected(self) -> set[str]:
        return {email_hash(c) for c in self.customers.values()}

    def assert_remote_is_the_audience(self) -> None:
        held = self.fake.held()
        emails = [m["email"] for m in held]
        assert len(emails) == len(set(emails)), "a member is held twice"
        assert set(emails) == self.expected()
        people = self.fake.people()  # as Google matches people: on any shared identifier
        assert len(people) == len(self.customers)
        assert {e for p in people for k, e in p if k == "email"} == self.expected()

    def tables(self) -> str:
        """Every row of the engine's own tables (``_sync_state``, ``_runs``, rejections, members
        built for the destination, ...: every table named ``_*``), as text, for leak checks. The
        loaded dealer data (``customers``) holds raw data by design."""
        con = duckdb.connect(str(self.root / "wh.duckdb"), read_only=True)
        try:
            out = []
            names = [n for (n,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            assert {"_sync_state", "_runs"} <= set(names)
            for name in [n for n in names if n.startswith("_")]:
                rows = con.execute('SELECT CAST(t AS VARCHAR) FROM "' + name + '" AS t').fetchall()
                out.append(f"{name}: {rows}")
            return "\n".join(out)
        finally:
            con.close()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]) -> World:
    return World(tmp_path, monkeypatch, 400)


# ----------------------------------------------------------------------------------- scenarios


@pytest.mark.slow
def test_first_sync(world: World) -> None:
    r = world.run()
    assert (r.status, r.error, r.members, r.added, r.removed, r.rejected) == ("ok", None, 400, 400, 0, 0)
    assert r.platform_counts == {"requests": 1, "members_ingested": 400, "members_removed": 0, "members_rejected": 0,
                                 "status_checks": 1}
    world.assert_remote_is_the_audience()
    again = world.run()
    assert (again.added, again.removed, again.unchanged, again.platform_counts["requests"]) == (0, 0, 400, 0)


def test_one_percent_changed(world: World) -> None:
    world.run()
    for i in random.Random(7).sample(range(400), 4):
        world.customers[f"C{i:05d}"] = customer(i, seed="-new")
    r = world.run()
    assert (r.status, r.added, r.removed, r.unchanged) == ("ok", 4, 4, 396)
    assert r.platform_counts["requests"] == 2  # one remove, one ingest
    world.assert_remote_is_the_audience()


def test_removals(world: World) -> None:
    world.run()
    for i in range(0, 400, 40):
        del world.customers[f"C{i:05d}"]
    r = world.run()
    assert (r.added, r.removed, r.unchanged) == (0, 10, 390)
    world.assert_remote_is_the_audience()


def test_customer_whose_email_changed(world: World) -> None:
    world.run()
    old = email_hash(world.customers["C00007"])
    world.customers["C00007"]["email"] = "Changed.Address@Other-Example.net"
    r = world.run()
    assert (r.added, r.removed) == (1, 1)
    world.assert_remote_is_the_audience()
    assert old not in {m["email"] for m in world.fake.held()}


@pytest.mark.slow
def test_mode_switch_add_then_mirror(world: World) -> None:
    world.run(mode="add")
    gone = [world.customers.pop(f"C{i:05d}") for i in range(5)]
    r = world.run(mode="add")
    assert (r.removed, r.unchanged) == (0, 395)
    assert {email_hash(c) for c in gone} <= {m["email"] for m in world.fake.held()}  # add mode keeps them
    r = world.run(mode="mirror")
    assert (r.added, r.removed) == (0, 5)
    world.assert_remote_is_the_audience()


@pytest.mark.slow
def test_full_resync_restores_a_list_emptied_by_hand(world: World) -> None:
    world.run()
    world.fake.lists[LIST_ID] = []  # someone cleared the list in Google Ads
    world.fake.applied.clear()
    assert world.run().added == 0  # the state says everyone is there
    r = world.run(full_resync=True)
    assert (r.status, r.added, r.full_resync) == ("ok", 400, True)
    world.assert_remote_is_the_audience()


# ------------------------------------------------------------------------------ kill and resume


def _change_some(w: World, rng: random.Random) -> None:
    for i in rng.sample(sorted(w.customers), 20):
        if rng.random() < 0.5:
            del w.customers[i]
        else:
            w.customers[i] = customer(int(i[1:]), seed=f"-{rng.randrange(10**6)}")
    for j in range(1000, 1040):
        w.customers[f"C{j:05d}"] = customer(j)


def _run_crashing(w: World, k: int) -> bool:
    """Run with a crash before the commit of batch ``k``; whether the crash happened."""
    with crash_at("before_commit", k):
        try:
            w.run()
        except SimulatedCrash:
            return True
    return False


@pytest.mark.slow
def test_killed_before_commit_at_every_batch_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    # the first sync: 120 members in 3 batches of 40
    k = 1
    while True:
        w = World(tmp_path / f"first{k}", monkeypatch, 120, connector="google-small")
        crashed = _run_crashing(w, k)
        assert w.run().status == "ok"
        w.assert_remote_is_the_audience()
        if not crashed:
            break
        k += 1
    assert k == 4
    # a later sync with removals (mirror) and additions: removes go first, then adds, each
    # operation numbering its batches from 1; the crash hits the first batch k reached
    base = World(tmp_path / "base", monkeypatch, 120, connector="google-small")
    base.run()
    _change_some(base, random.Random(42))
    k = 1
    while True:
        w = base.clone(tmp_path / f"later{k}")
        crashed = _run_crashing(w, k)
        assert w.run().status == "ok"
        w.assert_remote_is_the_audience()
        if not crashed:
            break
        k += 1
    assert k >= 2


@pytest.mark.slow
def test_applied_but_answer_lost_at_every_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    for k in range(1, 4):
        w = World(tmp_path / f"k{k}", monkeypatch, 120, connector="google-small")
        w.fake.fail_calls(range(k, k + 5), "lose")  # every retry of batch k applied, answer lost
        r = w.run()
        assert r.status == "failed" and "could not connect" in (r.error or "")
        assert w.fake.accepted_requests == k + 4
        assert w.run().status == "ok"
        w.assert_remote_is_the_audience()


# -------------------------------------------------------------------------------------- faults


def test_throttled_then_server_errors_then_timeouts(world: World, dealersync_waits: list[float]) -> None:
    world.fake.fail(1, "status", status=429, headers={"Retry-After": "12"})
    world.fake.fail(2, "status", status=500)
    world.fake.fail(3, "timeout")
    world.fake.fail(4, "status", status=503)
    r = world.run()
    assert (r.status, r.added) == ("ok", 400)
    assert dealersync_waits[0] == 12.0 and len(dealersync_waits) == 4
    assert r.platform_counts["requests"] == 1
    world.assert_remote_is_the_audience()


def test_outage_fails_the_run_honestly_and_the_next_run_catches_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    w = World(tmp_path, monkeypatch, 200, connector="google-small")
    w.fake.fail_calls(range(3, 8), "status", status=503)  # batch 3 never gets through
    r = w.run()
    assert r.status == "failed" and "HTTP 503" in (r.error or "")
    assert len(w.fake.held()) == 80  # batches 1 and 2
    assert (r.added, r.pending) == (0, 80)  # accepted, never confirmed: the run stopped first
    r = w.run()
    # the 80 of the failed run are confirmed at the start of this one (their requests resolved),
    # the other 120 are sent and confirmed
    assert (r.status, r.added, r.unchanged, r.pending) == ("ok", 200, 80, 0)
    assert [c["status"] for c in r.confirmations] == ["success"] * 5
    w.assert_remote_is_the_audience()


def test_a_batch_with_invalid_rows(world: World) -> None:
    bad = [world.customers["C00003"], world.customers["C00250"]]
    world.fake.reject_values = {email_hash(c) for c in bad}
    r = world.run()
    assert (r.status, r.added, r.rejected, r.rejections) == ("ok", 398, 2, {"INVALID_AUDIENCE_MEMBER": 2})
    assert r.platform_counts == {"requests": 1, "members_ingested": 398, "members_removed": 0, "members_rejected": 2,
                                 "status_checks": 1}
    assert len(world.fake.held()) == 398
    world.fake.reject_values = set()  # fixed on Google's side: the next run retries them
    r = world.run()
    assert (r.added, r.rejected) == (2, 0)
    world.assert_remote_is_the_audience()


def test_revoked_refresh_token(world: World) -> None:
    world.run()
    world.fake.revoke_refresh_token()
    del world.customers["C00001"]
    r = world.run()
    assert r.status == "failed"
    assert "invalid_grant" in r.error and "dealersync secrets set" in r.error
    assert len(world.fake.held()) == 400  # nothing sent


def test_expired_access_token_mid_run_is_refreshed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    w = World(tmp_path, monkeypatch, 200, connector="google-small")
    w.fake.fail(3, "status", status=401)  # the token "expires" before batch 3
    r = w.run()
    assert r.status == "ok" and w.fake.token_requests == 2  # check(), then once after the 401
    w.assert_remote_is_the_audience()


# ------------------------------------------------------------------------------ secrets and PII


@pytest.mark.slow
def test_planted_secrets_and_pii_appear_nowhere(
    world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    world.fake.reject_values = {email_hash(world.customers["C00011"])}
    world.fake.fail(1, "status", status=429, headers={"Retry-After": "1"})
    results = [world.run()]
    del world.customers["C00002"]
    world.customers["C00005"]["email"] = "Planted.Changed@Dealer-Example.com"
    results.append(world.run())
    world.fake.revoke_refresh_token()
    results.append(world.run())
    assert results[-1].status == "failed"
    out = capsys.readouterr()
    texts = [out.out, out.err, caplog.text, world.tables(), *(repr(r) for r in results)]
    raw = ["Planted.Owner", "planted.owner", "Plantedgiven", "plantedgiven", "Plantedfamily",
           "plantedfamily", "dealer-example.com", "555-00", "5125550", CLIENT_SECRET, REFRESH_TOKEN, "ya29."]
    assert email_hash(world.customers["C00003"]) in texts[3]  # the state was read: hashes, not raw values
    names = ["stdout", "stderr", "logs", "warehouse tables", "results", "results", "results"]
    leaks = []
    for where, text in zip(names, texts, strict=True):
        low = text.lower()
        for value in raw:
            at = low.find(value.lower())
            if at >= 0:
                leaks.append((where, value, text[max(0, at - 60): at + 40]))
    assert not leaks, leaks[:5]
    sent = requests.models.complexjson.dumps(world.fake.bodies)
    assert "dealer-example" not in sent.lower() and "plantedgiven" not in sent.lower()
