"""Whole syncs (``run_sync``) into the Mailchimp fake: scenarios, kill-and-resume, faults, leaks."""

from __future__ import annotations

import json
import logging
import random
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dealersync import BatchLimits, hookimpl
from dealersync.testing import SimulatedCrash, crash_at, run_sync, write_dealership
from dealersync_mailchimp import MailchimpDestination
from dealersync_mailchimp_fake import API_KEY, LIST_ID, FakeMailchimp, md5

AUDIENCE = "all"  # the tag defaults to the dealersync audience's name


class SmallBatches(MailchimpDestination):
    """The connector with 7 members per request, to get many batch boundaries from few customers."""

    name = "mailchimp-small"
    limits = BatchLimits(rows=7)


SMALL = types.ModuleType("mailchimp_small_batches")
SMALL.dealersync_register_destinations = hookimpl(lambda: [SmallBatches])  # type: ignore[attr-defined]


def customer(i: int, email: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "customer_id": f"C{i:04d}",
        "first_name": ["José", "Zoë", "Ann", "Bo"][i % 4],
        "last_name": f"Person{i}",
        "email": email or f"Person.{i}@Example.org",
        "email_opt_in": True,
        "do_not_email": False,
        **extra,
    }


def emails(rows: list[dict[str, Any]]) -> set[str]:
    return {r["email"].strip().lower() for r in rows if r.get("email_opt_in") and not r.get("do_not_email")}


class Dealer:
    """A tiny dealership on disk (extract + connectors.toml) syncing into a fake Mailchimp."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeMailchimp,
                 connector: str = "mailchimp", key: str = API_KEY) -> None:
        self.root, self.fake, self.connector = root, fake, connector
        self.plugins: tuple[Any, ...] = (SMALL,) if connector == "mailchimp-small" else ()
        monkeypatch.setenv("MC_TEST_KEY", key)

    def write(self, rows: list[dict[str, Any]], mode: str = "mirror", **options: Any) -> None:
        settings = {
            "connector": self.connector,
            "api_key": {"env": "MC_TEST_KEY"},
            "list_id": LIST_ID,
            "merge_fields": {"first_name": "FNAME", "last_name": "LNAME"},
            "status_for_new": "pending",
            **options,
        }
        write_dealership(self.root, rows, settings, mode=mode, audience=AUDIENCE)

    def sync(self, **kwargs: Any) -> Any:
        with self.fake.running():
            [result] = run_sync(self.root / "connectors.toml", extra_plugins=self.plugins, **kwargs)
        return result

    def tagged(self, tag: str = AUDIENCE) -> set[str]:
        return self.fake.tagged(LIST_ID, tag)

    def table(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.root / "wh.duckdb"), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


@pytest.fixture
def fake() -> FakeMailchimp:
    return FakeMailchimp()


@pytest.fixture
def dealer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeMailchimp) -> Dealer:
    return Dealer(tmp_path, monkeypatch, fake)


@pytest.fixture(autouse=True)
def _no_waiting(dealersync_waits: list[float]) -> Iterator[None]:
    yield


# -------------------------------------------------------------------------------- scenarios


@pytest.mark.slow
def test_first_sync_then_one_percent_changed(dealer: Dealer, fake: FakeMailchimp) -> None:
    rng = random.Random(20261123)
    rows = [customer(i) for i in range(600)]
    dealer.write(rows)
    first = dealer.sync()
    assert (first.status, first.added, first.rejected, first.planned) == ("ok", 600, 0, 600)
    assert dealer.tagged() == emails(rows)
    assert {c["status"] for c in fake.contacts[LIST_ID].values()} == {"pending"}
    assert first.platform_counts == {"created": 600, "tagged": 600}

    # 1%: 2 new emails, 2 customers gone, 2 opt-outs
    changed = rng.sample(range(600), 6)
    rows2 = [r for r in rows if int(r["customer_id"][1:]) not in changed[2:4]]
    for r in rows2:
        i = int(r["customer_id"][1:])
        if i in changed[:2]:
            r["email"] = f"new.{i}@example.net"
        elif i in changed[4:]:
            r["do_not_email"] = True
    rows2 += [customer(1000 + k) for k in range(6)]
    dealer.write(rows2)
    second = dealer.sync()
    assert (second.added, second.removed, second.rejected) == (8, 6, 0)
    assert second.unchanged == 600 - 6
    assert dealer.tagged() == emails(rows2)
    old = [f"person.{i}@example.org" for i in changed]
    assert all(fake.status(LIST_ID, e) == "pending" for e in old)  # untagged, never unsubscribed

    third = dealer.sync()
    assert (third.planned, third.added, third.removed, third.unchanged) == (0, 0, 0, len(emails(rows2)))


def test_email_change_moves_the_tag_and_keeps_the_old_contact(dealer: Dealer, fake: FakeMailchimp) -> None:
    rows = [customer(i) for i in range(5)]
    dealer.write(rows)
    dealer.sync()
    rows[2]["email"] = "  Brand.New@Example.ORG "
    dealer.write(rows)
    res = dealer.sync()
    assert (res.added, res.removed) == (1, 1)
    assert dealer.tagged() == emails(rows) and "brand.new@example.org" in dealer.tagged()
    assert fake.status(LIST_ID, "person.2@example.org") == "pending"
    state = dealer.table("SELECT payload FROM _sync_state")
    assert {json.loads(p)["subscriber_hash"] for (p,) in state} == {md5(e) for e in emails(rows)}


@pytest.mark.slow
def test_mode_switch_add_then_mirror_removes_only_what_dealersync_added(dealer: Dealer, fake: FakeMailchimp) -> None:
    fake.put_contact(LIST_ID, "manual@example.org", "subscribed")
    fake.add_segment(LIST_ID, AUDIENCE, ["manual@example.org"])  # tagged by hand in Mailchimp
    rows = [customer(i) for i in range(10)]
    dealer.write(rows, mode="add")
    dealer.sync()
    dealer.write(rows[:7], mode="add")
    kept = dealer.sync()
    assert kept.removed == 0 and dealer.tagged() == emails(rows) | {"manual@example.org"}
    dealer.write(rows[:7], mode="mirror")
    mirrored = dealer.sync()
    assert mirrored.removed == 3
    assert dealer.tagged() == emails(rows[:7]) | {"manual@example.org"}


@pytest.mark.slow
def test_full_resync_restores_tags_removed_by_hand(dealer: Dealer, fake: FakeMailchimp) -> None:
    rows = [customer(i) for i in range(12)]
    dealer.write(rows)
    dealer.sync()
    seg = fake.segment_id(LIST_ID, AUDIENCE)
    assert seg is not None
    for e in ["person.1@example.org", "person.5@example.org"]:
        fake.segments[LIST_ID][seg]["members"].discard(md5(e))
    normal = dealer.sync()
    assert normal.planned == 0 and len(dealer.tagged()) == 10  # the state cannot know
    full = dealer.sync(full_resync=True)
    assert full.status == "ok" and full.added == 12 and dealer.tagged() == emails(rows)
    assert len(fake.contacts[LIST_ID]) == 12 and full.platform_counts["already_on_list"] == 12


def test_unsubscribed_in_mailchimp_is_suppressed_not_retried_not_resubscribed(
    dealer: Dealer, fake: FakeMailchimp
) -> None:
    rows = [customer(i) for i in range(6)]
    fake.put_contact(LIST_ID, "person.3@example.org", "unsubscribed")
    fake.put_contact(LIST_ID, "person.4@example.org", "cleaned")
    dealer.write(rows, status_for_new="subscribed")
    first = dealer.sync()
    assert (first.status, first.added, first.rejected) == ("ok", 4, 2)
    assert first.rejections == {"suppressed:unsubscribe": 1, "suppressed:cleaned": 1}
    assert dealer.tagged() == emails(rows) - {"person.3@example.org", "person.4@example.org"}
    assert dealer.table("SELECT reason, source FROM _suppressions ORDER BY reason") == [
        ("cleaned", "main"), ("unsubscribe", "main")
    ]
    sent_before = len(fake.upsert_bodies)
    second = dealer.sync()
    assert second.no_consent == 2 and second.planned == 0 and second.rejected == 0  # suppressed for email
    assert len(fake.upsert_bodies) == sent_before  # not sent again
    assert fake.status(LIST_ID, "person.3@example.org") == "unsubscribed"
    assert fake.status(LIST_ID, "person.4@example.org") == "cleaned"


def test_dry_run_sends_nothing(dealer: Dealer, fake: FakeMailchimp) -> None:
    dealer.write([customer(i) for i in range(4)])
    res = dealer.sync(dry_run=True)
    assert res.planned == 4 and fake.upsert_bodies == [] and fake.segments[LIST_ID] == {}
    assert res.samples and all("email" in s for s in res.samples)
    assert all(v == "(plain, hidden)" for s in res.samples for k, v in s.items() if k in ("email", "first_name"))


# -------------------------------------------------------------------------- kill and resume


def _small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Dealer:
    return Dealer(tmp_path / name, monkeypatch, FakeMailchimp(), connector="mailchimp-small")


def _assert_exactly(d: Dealer, rows: list[dict[str, Any]]) -> None:
    want = emails(rows)
    assert d.tagged() == want
    seg = d.fake.segment_id(LIST_ID, AUDIENCE)
    members = d.fake.members(seg or "")
    assert len(members) == len(want)  # each member once
    assert len(d.fake.segments[LIST_ID]) == 1  # one tag, not one per attempt


@pytest.mark.slow
def test_killed_before_commit_at_every_batch_then_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    rows = [customer(i) for i in range(20)]  # 3 add batches of at most 7
    dropped = set(rng.sample(range(20), 8))
    changed = [customer(i) for i in range(20) if i not in dropped]
    for r in rng.sample(changed, 3):
        r["email"] = f"moved.{r['customer_id']}@example.net"
    changed += [customer(100 + k) for k in range(4)]  # then 11 removals (2 batches), 7 adds
    for k in (1, 2, 3):
        d = _small(tmp_path, monkeypatch, f"kill{k}")
        d.write(rows)
        with pytest.raises(SimulatedCrash), crash_at("before_commit", k):
            d.sync()
        again = d.sync()
        assert again.status == "ok" and again.rejected == 0
        _assert_exactly(d, rows)
        if k > 2:
            continue
        # a second run killed at remove batch k (removals go first), additions after
        d.write(changed)
        with pytest.raises(SimulatedCrash), crash_at("before_commit", k):
            d.sync()
        resumed = d.sync()
        assert resumed.status == "ok" and resumed.rejected == 0
        _assert_exactly(d, changed)
        assert d.sync().planned == 0


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), [("POST", r"/lists/abc123$"), ("POST", r"/segments/\d+$"),
                                               ("POST", r"/batches$")])
def test_platform_applied_but_the_answer_was_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    rows = [customer(i) for i in range(20)]  # 3 batches; removals: 10 in batch operations
    d = _small(tmp_path, monkeypatch, "lost")
    d.write(rows)
    removing = path.endswith("batches$")
    if removing:
        d.sync()
        d.write(rows[:-10])
        d.fake.lose_answers(method, path, times=5)  # the batch runs, every answer lost
    else:  # batch 2: applied, then every answer lost until the retries are exhausted
        d.fake.lose_answers(method, path, times=5, after=1)
    failed = d.sync()
    assert failed.status == "failed" and "could not connect" in (failed.error or "")
    assert d.fake.injected_exceptions == 5
    resumed = d.sync()
    assert resumed.status == "ok", resumed.error
    _assert_exactly(d, rows[:-10] if removing else rows)


# ------------------------------------------------------------------------------------ faults


def test_throttling_5xx_and_timeouts_end_with_the_right_audience(
    dealer: Dealer, fake: FakeMailchimp, dealersync_waits: list[float]
) -> None:
    rows = [customer(i) for i in range(8)]
    dealer.write(rows)
    fake.fail("POST", r"/lists/abc123$", 429, times=2, headers={"Retry-After": "3"})
    fake.fail("POST", r"/segments/\d+$", 500, times=2)
    fake.fail("GET", r"/segments$", 503, times=1)
    fake.time_out("POST", r"/segments/\d+$", times=1)
    fake.fail("POST", r"/lists/abc123$", 403, times=1, body=None)  # Mailchimp's bare throttling 403
    res = dealer.sync()
    assert (res.status, res.added, res.rejected) == ("ok", 8, 0)
    assert dealer.tagged() == emails(rows)
    assert dealersync_waits.count(3.0) == 2 and len(dealersync_waits) == 7


def test_persistent_outage_fails_honestly_then_recovers(dealer: Dealer, fake: FakeMailchimp) -> None:
    rows = [customer(i) for i in range(5)]
    dealer.write(rows)
    fake.fail("POST", r"/segments/\d+$", 503, times=5)
    down = dealer.sync()
    assert down.status == "failed" and "503" in (down.error or "") and down.added == 0
    assert dealer.table("SELECT count(*) FROM _sync_state") == [(0,)]
    up = dealer.sync()
    assert (up.status, up.added) == ("ok", 5) and dealer.tagged() == emails(rows)


def test_a_batch_with_invalid_rows(dealer: Dealer, fake: FakeMailchimp) -> None:
    rows = [customer(i) for i in range(6)]
    fake.reject_values = {"person.2@example.org"}
    dealer.write(rows)
    res = dealer.sync()
    assert (res.status, res.added, res.rejected, res.rejections) == ("ok", 5, 1, {"invalid:email": 1})
    assert dealer.tagged() == emails(rows) - {"person.2@example.org"}
    codes = dealer.table("SELECT status, code, final FROM _sync_state WHERE status = 'rejected'")
    assert codes == [("rejected", "invalid:email", False)]


def test_revoked_key_is_a_clear_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeMailchimp()
    d = Dealer(tmp_path, monkeypatch, fake, key="revoked0000000000000000000000000-us21")
    d.write([customer(1)])
    res = d.sync()
    assert res.status == "failed" and "dealersync secrets set" in (res.error or "")
    assert "revoked0000" not in (res.error or "") and fake.upsert_bodies == []


# ----------------------------------------------------------------------------- no leaks


@pytest.mark.slow
def test_planted_secret_and_pii_appear_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "plantedsecret9f8e7d6c5b4a3928171605-us21"
    pii_email, pii_name = "planted.pii.7731@example.org", "Plantedfirstname"
    fake = FakeMailchimp(api_key=secret)
    fake.put_contact(LIST_ID, pii_email, "unsubscribed")  # rejected + suppressed
    fake.reject_values = {"person.3@example.org"}  # rejected as invalid
    d = Dealer(tmp_path, monkeypatch, fake, key=secret)
    rows = [customer(i) for i in range(5)] + [customer(9, email=pii_email, first_name=pii_name)]
    d.write(rows)
    ok = d.sync()
    assert ok.status == "ok" and ok.rejected == 2
    fake.api_key = "rotated-us21"  # the stored key is now refused
    failed = d.sync()
    assert failed.status == "failed" and "dealersync secrets set" in (failed.error or "")
    fake.api_key = secret
    again = d.sync(full_resync=True)
    assert again.status == "ok"
    out, err = capsys.readouterr()
    results = [r.as_dict() for r in (ok, failed, again)]
    texts = [out, err, caplog.text, repr(results)]
    for table in ("_runs", "_sync_state", "_suppressions", "_remote_audiences"):
        texts.append(repr(d.table(f"SELECT * FROM {table}")))
    blob = "\n".join(texts)
    assert "suppressed:unsubscribe" in blob and "invalid:email" in blob
    for planted in (secret, secret.split("-")[0], pii_email, pii_name, "person.3@example.org"):
        assert planted.lower() not in blob.lower()
