"""The sync engine against an in-memory platform: only the difference is sent, state is committed
only after the platform accepted, and a sync interrupted at any batch converges when run again."""

from __future__ import annotations

import hashlib
import random
import types
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dealersync import (
    AudienceDestination,
    BatchInfo,
    BatchLimits,
    ConnectorConfig,
    MemberOutcome,
    RemoteAudience,
    hookimpl,
)
from dealersync.delivery import RETRY_CAP
from dealersync.testing import SimulatedCrash, crash_at, run_sync, write_extract

from tests.support.configs import dealership, destination, everyone_to
from tests.support.processes import warehouse_held


def sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


class Platform:
    """What the remote side holds: rows of hashed identifiers, like a Meta custom audience."""

    def __init__(self) -> None:
        self.rows: Counter[tuple[str | None, str | None]] = Counter()
        self.calls: list[tuple[str, int, BatchInfo | None]] = []
        self.reject: dict[str, str] = {}  # email hash -> code

    def emails(self) -> set[str | None]:
        return {e for e, _ in self.rows}


PLATFORM = Platform()


class MemoryList(AudienceDestination):
    name = "memory-list"
    channel = "ads"
    identifiers = {"email": "meta.email", "phone": "meta.phone"}
    limits = BatchLimits(rows=7)
    supports_replace = True
    Config = ConnectorConfig

    def ensure_audience(self, name: str, description: str = "") -> RemoteAudience:
        return RemoteAudience(f"list-{name}", name)

    def _outcomes(self, members: list[dict[str, Any]]) -> list[MemberOutcome]:
        return [
            MemberOutcome(m["member_key"], False, PLATFORM.reject[m["email"]], "refused")
            if m.get("email") in PLATFORM.reject
            else MemberOutcome(m["member_key"], True)
            for m in members
        ]

    def add(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None) -> list[MemberOutcome]:
        assert len(members) <= self.limits.rows
        PLATFORM.calls.append(("add", len(members), batch))
        outcomes = self._outcomes(members)
        for m, o in zip(members, outcomes, strict=True):
            if o.accepted:
                PLATFORM.rows[(m["email"], m["phone"])] = 1  # idempotent: a row is there or not
        return outcomes

    def remove(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None) -> list[MemberOutcome]:
        PLATFORM.calls.append(("remove", len(members), batch))
        for m in members:
            PLATFORM.rows.pop((m["email"], m["phone"]), None)
        return [MemberOutcome(m["member_key"], True) for m in members]

    def replace(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None) -> list[MemberOutcome]:
        assert batch is not None
        if batch.seq == 1:
            self._session: set[tuple[str | None, str | None]] = set()
        self._session |= {(m["email"], m["phone"]) for m in members}
        if batch.last:
            PLATFORM.rows = Counter(dict.fromkeys(self._session, 1))
        return [MemberOutcome(m["member_key"], True) for m in members]

    def platform_counts(self) -> dict[str, int]:
        return {"requests": len(PLATFORM.calls)}


plugin = types.ModuleType("memory_plugin")
plugin.dealersync_register_destinations = hookimpl(lambda: [MemoryList])  # type: ignore[attr-defined]


def customers(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    rows = [{"customer_id": f"C{i:04d}", "email": f"person{i}@example.com", "phone_mobile": f"(800) 555-{i:04d}"} for i in range(n)]
    rows.append({"customer_id": "C9999", "email": " PERSON3@example.com", "phone_mobile": ""})  # person 3 again
    rnd.shuffle(rows)
    return rows


def setup(tmp_path: Path, rows: list[dict[str, Any]], mode: str = "mirror") -> Path:
    write_extract(tmp_path / "dms", {"customers": rows})
    (tmp_path / "c.toml").write_text(dealership(destination("mem", "memory-list"), everyone_to("mem", mode=mode)))
    return tmp_path / "c.toml"


def expected(rows: list[dict[str, Any]]) -> set[str]:
    return {sha(r["email"].strip().lower()) for r in rows}


def sync(cfg: Path, **kw: Any) -> Any:
    [res] = run_sync(cfg, extra_plugins=[plugin], **kw)
    assert res.status == "ok", res.error
    return res


@pytest.fixture(autouse=True)
def fresh_platform() -> None:
    global PLATFORM
    PLATFORM = Platform()


def test_first_sync_then_only_the_difference(tmp_path: Path) -> None:
    rows = customers(40)
    cfg = setup(tmp_path, rows)
    first = sync(cfg)
    assert (first.members, first.added, first.removed, first.unchanged) == (40, 40, 0, 0)
    assert PLATFORM.emails() == expected(rows) and len(PLATFORM.rows) == 40
    batches = [b for op, _, b in PLATFORM.calls if op == "add"]
    assert [b.seq for b in batches] == [1, 2, 3, 4, 5, 6] and [b.last for b in batches][-2:] == [False, True]
    assert {b.session_id for b in batches} == {batches[0].session_id} and batches[0].estimated_total == 40

    # one email changed, one customer gone, one new
    changed = [dict(r) for r in rows if r["customer_id"] != "C0005"]
    next(r for r in changed if r["customer_id"] == "C0007")["email"] = "new7@example.com"
    changed.append({"customer_id": "C0100", "email": "person100@example.com", "phone_mobile": "800-555-0100"})
    setup(tmp_path, changed)
    PLATFORM.calls.clear()
    second = sync(cfg)
    assert (second.added, second.removed, second.unchanged) == (2, 2, 38)  # C0007 moves: out old, in new
    assert PLATFORM.emails() == expected(changed) and len(PLATFORM.rows) == 40
    assert [op for op, *_ in PLATFORM.calls] == ["remove", "add"]  # removals first

    third = sync(cfg)
    assert (third.planned, third.added, third.removed, third.unchanged) == (0, 0, 0, 40)
    assert PLATFORM.calls[-1][0] == "add" and len(PLATFORM.calls) == 2  # nothing sent


def test_add_mode_keeps_departed_members_until_switched_to_mirror(tmp_path: Path) -> None:
    rows = customers(10)
    cfg = setup(tmp_path, rows, mode="add")
    sync(cfg)
    fewer = rows[:-3]
    setup(tmp_path, fewer, mode="add")
    res = sync(cfg)
    assert res.removed == 0 and len(PLATFORM.rows) == len({r["email"].strip().lower() for r in rows})
    setup(tmp_path, fewer, mode="mirror")
    res = sync(cfg)
    assert PLATFORM.emails() == expected(fewer) and res.removed == len(expected(rows) - expected(fewer))


def test_full_resync_resends_everyone_and_still_holds_each_once(tmp_path: Path) -> None:
    rows = customers(12)
    cfg = setup(tmp_path, rows)
    sync(cfg)
    PLATFORM.rows.clear()  # someone emptied the list by hand
    assert sync(cfg).added == 0  # state says all synced
    res = sync(cfg, full_resync=True)
    assert res.added == 12 and PLATFORM.emails() == expected(rows) and set(PLATFORM.rows.values()) == {1}


def test_replace_mode(tmp_path: Path) -> None:
    rows = customers(9)
    cfg = setup(tmp_path, rows, mode="replace")
    PLATFORM.rows[("stranger", None)] = 1
    res = sync(cfg)
    # a list this warehouse has no state for is never replaced (issue 13): added to, with a warning
    assert res.added == 9 and ("stranger", None) in PLATFORM.rows
    assert any("not in this warehouse's sync state" in w for w in res.warnings)
    sync(cfg)  # the state now holds what was sent: the replace goes ahead
    assert PLATFORM.emails() == expected(rows)


@pytest.mark.parametrize("changes", [False, True], ids=["first-sync", "after-changes"])
def test_crash_at_every_batch_boundary_converges(tmp_path: Path, changes: bool) -> None:
    base = customers(30, seed=4)
    changed = [dict(r) for r in base[3:]] + [{"customer_id": f"N{i}", "email": f"new{i}@x.com"} for i in range(9)]
    for k in range(1, 20):
        global PLATFORM
        PLATFORM = Platform()
        d = tmp_path / f"k{k}"
        cfg = setup(d, base)
        if changes:
            sync(cfg)
            setup(d, changed)
        target = changed if changes else base
        crashed = False
        with crash_at("before_commit", k):
            try:
                run_sync(cfg, extra_plugins=[plugin])
            except SimulatedCrash:
                crashed = True
        if not crashed:
            assert k > 1
            break
        # the platform applied batch k; the state does not know: the re-run converges
        res = sync(cfg)
        assert res.added + res.removed > 0, k  # the uncommitted batch was sent again
        assert PLATFORM.emails() == expected(target), k
        assert set(PLATFORM.rows.values()) == {1} and len(PLATFORM.rows) == len(expected(target))
        assert sync(cfg).planned == 0
    else:
        pytest.fail("the sync never finished without crashing")


def test_rejections_are_recorded_retried_up_to_the_cap_and_final_codes_never(tmp_path: Path) -> None:
    rows = customers(6)
    cfg = setup(tmp_path, rows)
    PLATFORM.reject = {sha("person1@example.com"): "invalid_hash", sha("person2@example.com"): "suppressed:unsubscribed"}
    res = sync(cfg)
    assert (res.added, res.rejected, res.rejections) == (4, 2, {"invalid_hash": 1, "suppressed:unsubscribed": 1})
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    state = con.execute("SELECT status, attempts, final, code FROM _sync_state WHERE status = 'rejected' ORDER BY code").fetchall()
    con.close()
    assert state == [("rejected", 1, False, "invalid_hash"), ("rejected", 1, True, "suppressed:unsubscribed")]
    for attempt in range(2, RETRY_CAP + 1):
        res = sync(cfg)
        assert (res.rejected, res.gave_up) == (1, 1), attempt  # only the retryable one is sent again
    res = sync(cfg)
    assert (res.planned, res.rejected, res.gave_up) == (0, 0, 2)
    PLATFORM.reject.clear()
    changed = [dict(r) for r in rows]
    next(r for r in changed if r["customer_id"] == "C0001")["email"] = "fixed1@example.com"
    setup(tmp_path, changed)
    assert sync(cfg).added == 1  # new identifiers: a fresh start


def test_members_without_an_outcome_are_not_marked_synced(tmp_path: Path) -> None:
    class Forgetful(MemoryList):
        name = "forgetful-list"

        def add(self, audience, members, batch=None):  # type: ignore[no-untyped-def]
            return super().add(audience, members, batch)[1:]  # says nothing about the first one

    mod = types.ModuleType("forgetful")
    mod.dealersync_register_destinations = hookimpl(lambda: [Forgetful])  # type: ignore[attr-defined]
    cfg = setup(tmp_path, customers(7))
    cfg.write_text(cfg.read_text().replace('"memory-list"', '"forgetful-list"'))
    [res] = run_sync(cfg, extra_plugins=[mod])
    assert (res.added, res.rejected, res.rejections) == (6, 1, {"no_outcome": 1})


def test_dry_run_plans_without_calling_the_platform_or_touching_state(tmp_path: Path) -> None:
    rows = customers(5)
    cfg = setup(tmp_path, rows)
    [res] = run_sync(cfg, extra_plugins=[plugin], dry_run=True)
    assert (res.status, res.planned, PLATFORM.calls) == ("planned", 5, [])
    assert len(res.samples) == 3 and all(len(s["email"]) == 64 for s in res.samples if s["email"])
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM _sync_state").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM _runs").fetchone() == (0,)
    con.close()
    res = sync(cfg)
    assert res.added == 5 and res.platform_counts == {"requests": 1}


def test_a_delivery_failing_midway_reports_what_was_committed(tmp_path: Path) -> None:
    class Flaky(MemoryList):
        name = "flaky-list"

        def add(self, audience, members, batch=None):  # type: ignore[no-untyped-def]
            if batch is not None and batch.seq == 3:
                from dealersync import FatalError

                raise FatalError("the platform is down (HTTP 503 after retries)")
            return super().add(audience, members, batch)

    mod = types.ModuleType("flaky")
    mod.dealersync_register_destinations = hookimpl(lambda: [Flaky])  # type: ignore[attr-defined]
    cfg = setup(tmp_path, customers(20))
    cfg.write_text(cfg.read_text().replace('"memory-list"', '"flaky-list"'))
    [res] = run_sync(cfg, extra_plugins=[mod])
    assert (res.status, res.error) == ("failed", "the platform is down (HTTP 503 after retries)")
    assert (res.planned, res.added) == (20, 14) and len(PLATFORM.rows) == 14  # two batches of 7 went through


def test_a_second_sync_on_the_same_warehouse_gets_a_clear_message(tmp_path: Path) -> None:
    from dealersync import FatalError

    cfg = setup(tmp_path, customers(3))
    with warehouse_held(tmp_path / "wh.duckdb"), pytest.raises(FatalError) as exc:
        run_sync(cfg, extra_plugins=[plugin])
    assert exc.value.message == (
        f"the warehouse {tmp_path / 'wh.duckdb'} is in use by another process "
        "(one dealersync run at a time per warehouse file)"
    )
