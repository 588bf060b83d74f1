"""Whole syncs through ``run_sync`` into the Meta fake: what the remote audience holds afterwards."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from dealersync import ConfigError
from dealersync.testing import SimulatedCrash, crash_at
from dealersync_meta.wire import DELETE_URL_BYTES
from meta_fake import LOST, FakeMeta, Fault, meta_error
from meta_world import TOKEN_ENV, World, assert_remote_is, customers, remote, sha

N = 600


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]) -> None:
    from meta_fake import TOKEN

    monkeypatch.setenv(TOKEN_ENV, TOKEN)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "dealer", customers(N), batch_rows=100)


# ------------------------------------------------------------------------------ scenarios
@pytest.mark.slow
def test_first_sync_then_one_percent_changed(world: World) -> None:
    fake = FakeMeta()
    first = world.run(fake)
    assert first.status == "ok", first.error
    assert (first.added, first.removed, first.rejected, first.members) == (N, 0, 0, N)
    assert first.platform_counts == {"add_received": N, "num_received": N, "num_invalid_entries": 0}
    assert fake.request_sizes == [100] * 6
    sessions = {sid for _op, sid, _seq in fake.applied}
    assert len(sessions) == 1 and [seq for *_x, seq in fake.applied] == [1, 2, 3, 4, 5, 6]
    assert_remote_is(fake, world)

    # 1% changed: 2 emails changed, 2 customers gone, 2 new customers
    world.people[10]["email"] = "new.address.10@example.org"
    world.people[11]["email"] = "new.address.11@example.org"
    del world.people[20:22]
    world.people += customers(2, seed=99, start=9000)
    second = world.run(fake)
    assert second.status == "ok", second.error
    assert (second.added, second.removed, second.unchanged) == (4, 4, N - 4)
    assert_remote_is(fake, world)
    assert sha("person.10@example.org") not in {v for m in remote(fake) for k, v in m if k == "email"}

    third = world.run(fake)  # nothing changed: nothing sent
    assert (third.added, third.removed, third.planned) == (0, 0, 0)


@pytest.mark.slow
def test_email_change_replaces_the_member(tmp_path: Path) -> None:
    world = World(tmp_path, customers(120), batch_rows=50)
    fake = FakeMeta()
    world.run(fake)
    world.people[5]["email"] = "Changed.Five@Example.org"
    res = world.run(fake)
    assert (res.added, res.removed) == (1, 1)
    held = remote(fake)
    assert sum(1 for m in held if ("email", sha("changed.five@example.org")) in m) == 1
    assert not any(("email", sha("person.5@example.org")) in m for m in held)
    assert_remote_is(fake, world)


@pytest.mark.slow
def test_removals_in_mirror_mode(tmp_path: Path) -> None:
    world = World(tmp_path, customers(300), batch_rows=40)
    fake = FakeMeta()
    world.run(fake)
    world.people = world.people[:120]
    res = world.run(fake, accept_changes=["all"])  # a cut this big trips the change guard: released
    assert (res.removed, res.added) == (180, 0)
    assert sorted(fake.request_sizes[-5:]) == [20, 40, 40, 40, 40]
    assert_remote_is(fake, world)


@pytest.mark.slow
def test_mode_switch_add_then_mirror(tmp_path: Path) -> None:
    world = World(tmp_path, customers(150), batch_rows=50, mode="add")
    fake = FakeMeta()
    world.run(fake)
    by_hand = {"email": sha("walk-in@example.org")}  # someone added in Ads Manager
    fake.add_members(fake.only_list(), [by_hand])
    gone = world.people[100:]
    world.people = world.people[:100]
    res = world.run(fake)
    assert (res.added, res.removed) == (0, 0)  # add mode never removes
    assert len(fake.members(fake.only_list())) == 151
    world.mode = "mirror"
    res = world.run(fake, accept_changes=["all"])  # a third removed at once: the change guard released
    assert res.status == "ok" and (res.added, res.removed) == (0, 50)
    held = remote(fake)
    assert frozenset(by_hand.items()) in held  # mirror removes only what this tool added
    del held[frozenset(by_hand.items())]
    assert held == world.expected()
    assert not any(("email", sha(p["email"].lower())) in m for p in gone for m in held)


@pytest.mark.slow
def test_full_resync_repairs_a_cleared_audience(tmp_path: Path) -> None:
    world = World(tmp_path, customers(150), batch_rows=50)
    fake = FakeMeta()
    world.run(fake)
    fake.lists[fake.only_list()] = []  # cleared by hand in Ads Manager
    assert world.run(fake).planned == 0  # the state says all is well
    res = world.run(fake, full_resync=True)
    assert res.status == "ok" and res.added == 150
    assert_remote_is(fake, world)


@pytest.mark.slow
def test_replace_mode(tmp_path: Path) -> None:
    world = World(tmp_path, customers(230), batch_rows=50, mode="replace")
    fake = FakeMeta()
    aid = fake.new_list("all", subtype="CUSTOM")
    fake.add_members(aid, [{"email": sha("stale@example.org")}])
    res = world.run(fake)
    # a list this warehouse has no state for is added to, never replaced (issue 13) ...
    assert res.status == "ok" and res.added == 230
    assert [op for op, *_ in fake.applied] == ["add"] * 5
    assert any("not in this warehouse's sync state" in w for w in res.warnings)
    world.run(fake)  # ... until the state holds what was sent: then it is replaced
    assert [op for op, *_ in fake.applied][5:] == ["replace"] * 5
    assert_remote_is(fake, world)  # the stale member is gone
    world.people = world.people[:200]
    world.run(fake)
    assert_remote_is(fake, world)


# -------------------------------------------------------------------------- kill and resume
@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2, 3])
def test_crash_before_commit_at_every_add_batch(tmp_path: Path, k: int) -> None:
    world = World(tmp_path, customers(150), batch_rows=50)
    fake = FakeMeta()
    with pytest.raises(SimulatedCrash), crash_at("before_commit", k):
        world.run(fake)
    assert len(fake.applied) == k
    res = world.run(fake)
    assert res.status == "ok", res.error
    assert res.added == 150 - 50 * (k - 1)  # the uncommitted batch is sent again
    assert_remote_is(fake, world)


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2])
def test_crash_before_commit_at_every_remove_batch(tmp_path: Path, k: int) -> None:
    world = World(tmp_path, customers(150), batch_rows=40)
    fake = FakeMeta()
    world.run(fake)
    world.people = world.people[:70] + customers(30, start=5000)  # 80 removals: 2 batches
    with pytest.raises(SimulatedCrash), crash_at("before_commit", k):
        world.run(fake, accept_changes=["all"])  # over half removed: the change guard released
    assert [op for op, *_ in fake.applied].count("remove") == k
    res = world.run(fake, accept_changes=["all"])
    assert res.status == "ok", res.error
    assert_remote_is(fake, world)


def test_crash_in_replace_then_rerun(tmp_path: Path) -> None:
    world = World(tmp_path, customers(120), batch_rows=50, mode="replace")
    fake = FakeMeta()
    with pytest.raises(SimulatedCrash), crash_at("before_commit", 0):
        world.run(fake)
    world.people = world.people[:100]
    res = world.run(fake)
    assert res.status == "ok"
    assert_remote_is(fake, world)


@pytest.mark.slow
def test_applied_but_answer_lost(tmp_path: Path) -> None:
    """Meta applied batch 2, the answer never came back, through every retry: the run fails
    transiently; the next run sends the batch again and the audience holds each member once."""
    world = World(tmp_path, customers(150), batch_rows=50)
    fake = FakeMeta()
    fake.faults.append(Fault("add", LOST, nth=2, times=5))  # core http makes 5 attempts
    res = world.run(fake)
    assert res.status == "failed" and "could not connect" in res.error
    assert res.added == 50  # batch 1 confirmed and committed, reported although the run failed
    assert len(remote(fake)) == 100  # batch 2 applied, not committed
    res = world.run(fake)
    # batch 1 was committed: only batch 2 onwards is sent again
    assert res.status == "ok" and res.added == 100
    assert_remote_is(fake, world)


# ----------------------------------------------------------------------------------- faults
FAULTS = {
    "429-retry-after": (429, {"error": {"code": 17, "message": "slow down"}}, {"Retry-After": "3"}),
    "500": (500, {"error": {"code": 2, "message": "Service temporarily unavailable", "is_transient": True}}, {}),
    "80003": (*meta_error(80003, "There have been too many calls to this ad-account."), {}),
    "613": (*meta_error(613, "Calls to this api have exceeded the rate limit.", 1487742), {}),
    "2650": (*meta_error(2650, "Failed to update the custom audience"), {}),
    "timeout": "timeout",
    "lost-once": LOST,
}


@pytest.mark.slow
def test_transient_faults_end_with_the_right_audience(tmp_path: Path, dealersync_waits: list[float]) -> None:
    """One fault per batch (a sync costs ~1.5 s, so the faults share one run): each batch's
    first attempt fails, the retry goes through."""
    world = World(tmp_path, customers(50 * len(FAULTS)), batch_rows=50)
    fake = FakeMeta()
    # add call 2i-1 fails with fault i, call 2i (the retry) succeeds
    fake.faults += [Fault("add", effect, nth=2 * i + 1) for i, effect in enumerate(FAULTS.values())]
    res = world.run(fake)
    assert res.status == "ok", res.error
    assert res.added == 50 * len(FAULTS) and len(dealersync_waits) == len(FAULTS)
    assert dealersync_waits[0] == 3.0  # Retry-After honoured
    assert fake.calls["add"] == 2 * len(FAULTS)
    assert_remote_is(fake, world)


def test_blocked_audience_fails_clearly(tmp_path: Path) -> None:
    world = World(tmp_path, customers(150), batch_rows=50)
    fake = FakeMeta()
    fake.audiences[fake.new_list("all", subtype="CUSTOM")]["blocked"] = True
    res = world.run(fake)
    assert res.status == "failed" and "flagged" in res.error and res.added == 0


def test_flagged_audience_name_stops_the_run_before_any_data_moves(tmp_path: Path) -> None:
    """A name holding one of Meta's published flagged examples ("credit score", Custom Audience
    reference, Sept 2025 notice) is a configuration error the preflight names (check_config),
    with the fix: nothing loaded, created or sent."""
    world = World(tmp_path, customers(150), batch_rows=50, extra='audience_name = "{audience} credit score 700+"')
    fake = FakeMeta()
    with pytest.raises(ConfigError) as err:
        world.run(fake)
    assert err.value.message.startswith("destinations.main.audience_name: the Meta name 'all credit score 700+'")
    assert "'credit score'" in err.value.message and "flagged_name_terms" in err.value.message
    assert fake.calls == {} and fake.audiences == {}


def test_mirror_removals_reach_meta_in_the_sdk_shape(tmp_path: Path) -> None:
    """Removals go as DELETE with the payload in the query string (facebook_business/api.py), in
    URLs of at most DELETE_URL_BYTES; the fake ignores a DELETE body (python-business-sdk#156),
    so this fails if removals ever go back into a body."""
    people = customers(400)
    world = World(tmp_path, people, batch_rows=10_000)
    fake = FakeMeta()
    world.run(fake)
    world.people = people[:150]
    res = world.run(fake, accept_changes=["all"])  # 62% removed: past the change guards
    assert res.status == "ok" and res.removed == 250, res.error
    deletes = [b for m, op, b in fake.requests if op == "remove"]
    assert len(deletes) >= 2 and max(deletes) <= DELETE_URL_BYTES
    assert_remote_is(fake, world)


def test_small_audience_refusal_is_reported_not_a_stall(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Meta refuses removals that would leave the audience too small (users' reports:
    grouparoo/grouparoo#1108): the run ends ok with the refusals counted, additions still go,
    and the next run removes them once Meta allows it."""
    people = customers(200)
    world = World(tmp_path, people, batch_rows=50)
    fake = FakeMeta()
    world.run(fake)
    fake.removal_floor = 190
    world.people = people[20:] + customers(5, seed=9, start=500)
    res = world.run(fake)
    assert res.status == "ok", res.error
    assert res.added == 5 and res.removed == 0
    assert res.platform_counts["remove_refused_too_small"] == 20  # kept in _runs and shown by sync
    assert len(remote(fake)) == 205
    assert "20 removal(s) are kept and tried again next run" in caplog.text
    fake.removal_floor = None
    res = world.run(fake)
    assert res.status == "ok" and res.removed == 20
    assert_remote_is(fake, world)


def test_invalid_rows_are_counted_honestly(tmp_path: Path) -> None:
    world = World(tmp_path, customers(150), batch_rows=50)
    fake = FakeMeta()
    fake.reject_values = {sha("person.3@example.org"), sha("person.77@example.org")}
    res = world.run(fake)
    assert res.status == "ok"
    assert res.added == 150 and res.rejected == 0  # Meta does not say which rows
    assert res.platform_counts["num_invalid_entries"] == 2 and res.platform_counts["num_received"] == 150
    assert len(remote(fake)) == 148


def test_revoked_token_fails_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(tmp_path, customers(150), batch_rows=50)
    fake = FakeMeta()
    world.run(fake)
    monkeypatch.setenv(TOKEN_ENV, "EAAB-revoked-token-1234567890")
    world.people = copy.deepcopy(world.people[:100])
    res = world.run(fake)
    assert res.status == "failed" and res.removed == 0
    assert "dealersync secrets set" in res.error and "system-user token" in res.error
    assert "revoked-token" not in res.error


def test_dry_run_sends_nothing(tmp_path: Path) -> None:
    world = World(tmp_path, customers(120), batch_rows=50)
    fake = FakeMeta()
    res = world.run(fake, dry_run=True)
    assert res.status == "planned" and res.planned == 120
    assert fake.calls == {} and fake.audiences == {}
    assert res.samples and all(s.get("email") for s in res.samples)
    assert all(len(v) == 64 for s in res.samples for k, v in s.items() if k not in ("member_key",) and v)
