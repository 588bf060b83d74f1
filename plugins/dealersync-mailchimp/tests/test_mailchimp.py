"""The mailchimp connector against the fake: upsert, tags, suppressions, removal, errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest
import requests
from dealersync import (
    AuthError,
    ConfigError,
    ConnectorContext,
    DealersyncError,
    FatalError,
    TransientError,
    get_profile,
)
from dealersync.testing import every_request_answered
from dealersync_mailchimp import MailchimpDestination
from dealersync_mailchimp.destination import MailchimpConfig, classify, row_verdict
from dealersync_mailchimp_fake import API_KEY, LIST_ID, FakeMailchimp, md5

TAG = "service due"


@pytest.fixture
def suppressed() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def context(tmp_path: Path, suppressed: list[dict[str, Any]]) -> ConnectorContext:
    def sink(**entry: Any) -> int:
        suppressed.append(entry)
        return 1

    return ConnectorContext("mc", tmp_path, dt.date(2026, 11, 23), tmp_path / "out",
                            logging.getLogger("dealersync.test"), suppression_sink=sink)


def build(context: ConnectorContext, **options: Any) -> MailchimpDestination:
    raw = {"api_key": API_KEY, "list_id": LIST_ID, "status_for_new": "pending", **options}
    return MailchimpDestination(MailchimpConfig.model_validate(raw), context)


def member(email: str, first: str | None = None, last: str | None = None) -> dict[str, Any]:
    e = email.lower()
    return {
        "member_key": hashlib.sha256(f"mailchimp.email:{e}".encode()).hexdigest(),
        "email": e,
        "subscriber_hash": md5(e),
        "first_name": first,
        "last_name": last,
    }


def by_key(outcomes: list) -> dict[str, Any]:
    return {o.member_key: o for o in outcomes}


# --------------------------------------------------------------------------------- config


def test_data_center_comes_from_the_key_and_base_url_overrides_it(context: ConnectorContext) -> None:
    assert build(context).http.base_url == "https://us21.api.mailchimp.com/3.0/"
    assert build(context, base_url="http://127.0.0.1:9999/3.0").http.base_url == "http://127.0.0.1:9999/3.0/"


def test_a_key_without_data_center_is_a_config_error_that_hides_the_key(context: ConnectorContext) -> None:
    with pytest.raises(ConfigError) as caught:
        build(context, api_key="s3cretkeywithoutdc")
    assert "s3cretkeywithoutdc" not in str(caught.value) and "-us21" in caught.value.message


@pytest.mark.parametrize("bad", [{"status_for_new": "unsubscribed"}, {"merge_fields": {"first_name": "fname"}},
                                 {"list_id": "../x"}, {"concurrency": 11}, {"merge_fields": {"email": "EMAIL"}}])
def test_config_rejects(bad: dict[str, Any], context: ConnectorContext) -> None:
    with pytest.raises(Exception):  # noqa: B017 - pydantic ValidationError
        build(context, **bad)


def test_profiles_normalize_and_hash_like_mailchimp() -> None:
    import duckdb
    from dealersync.testing import sample_people  # noqa: F401 - the kit builds members with core identity

    con = duckdb.connect()
    con.execute("CREATE TABLE customers (customer_id VARCHAR, email VARCHAR, first_name VARCHAR)")
    con.execute("INSERT INTO customers VALUES ('C1', '  Test@Example.COM ', '  José   María ')")

    class Ctx:
        def col(self, name: str) -> str:
            return f"nullif(trim(c.{name}), '')"

    row = con.execute(
        "SELECT " + ", ".join(get_profile(p).sql(Ctx()) for p in
                              ("mailchimp.email", "mailchimp.subscriber_hash", "mailchimp.first_name"))
        + " FROM customers c"
    ).fetchone()
    assert row == ("test@example.com", "55502f40dc8b7c769880b10874abc9d0", "José María")
    assert not any(get_profile(p).hashed for p in MailchimpDestination.identifiers.values())
    assert MailchimpDestination.state_fields == ("subscriber_hash",)


# ------------------------------------------------------------------------------- audience


def test_ensure_audience_creates_the_tag_once_then_finds_it(context: ConnectorContext) -> None:
    fake = FakeMailchimp()
    for i in range(1500):  # more than one page of tags
        fake.add_segment(LIST_ID, f"other {i}")
    with fake.running():
        first = build(context).ensure_audience(TAG)
        again = build(context).ensure_audience(TAG)
        named = build(context, tag="Custom Tag").ensure_audience(TAG)
    assert first.id == again.id == fake.segment_id(LIST_ID, TAG)
    assert named.id == fake.segment_id(LIST_ID, "Custom Tag") != first.id


def test_unknown_list_is_a_config_error_naming_list_id(context: ConnectorContext) -> None:
    fake = FakeMailchimp()
    with fake.running(), pytest.raises(ConfigError, match="list_id"):
        build(context, list_id="nosuchlist").ensure_audience(TAG)


# ------------------------------------------------------------------------------------ add


def test_new_contacts_get_status_for_new_and_the_tag(context: ConnectorContext) -> None:
    fake = FakeMailchimp()
    ms = [member("a@example.org", "Ann", "Lee"), member("b@example.org")]
    with fake.running():
        dest = build(context)
        aud = dest.ensure_audience(TAG)
        outcomes = dest.add(aud, ms)
        sub = build(context, status_for_new="subscribed")
        sub.add(aud, [member("c@example.org")])
    assert all(o.accepted for o in outcomes)
    assert fake.tagged(LIST_ID, TAG) == {"a@example.org", "b@example.org", "c@example.org"}
    assert [fake.status(LIST_ID, e) for e in ("a@example.org", "c@example.org")] == ["pending", "subscribed"]
    body = fake.upsert_bodies[0]
    assert body["update_existing"] is False
    assert "merge_fields" not in str(body) and "Ann" not in str(body)  # names only when configured
    assert dest.platform_counts() == {"created": 2, "tagged": 2}


def test_merge_fields_are_sent_when_configured(context: ConnectorContext) -> None:
    fake = FakeMailchimp()
    with fake.running():
        dest = build(context, merge_fields={"first_name": "FNAME", "last_name": "LNAME"})
        dest.add(dest.ensure_audience(TAG), [member("a@example.org", "Zoë", "O'Brien")])
    assert fake.contacts[LIST_ID][md5("a@example.org")]["merge_fields"] == {"FNAME": "Zoë", "LNAME": "O'Brien"}


def test_merge_tags_the_audience_lacks_are_refused_as_such(context: ConnectorContext) -> None:
    """Merge fields are keyed by the audience's merge tags (Marketing API reference, list
    members: merge_fields); the fake refuses an unknown tag with Mailchimp's "Your merge fields
    were invalid" row, which must not read as an invalid address."""
    fake = FakeMailchimp()
    with fake.running():
        dest = build(context, merge_fields={"first_name": "FIRSTNAME"})
        [o] = dest.add(dest.ensure_audience(TAG), [member("a@example.org", "Ann")])
    assert (o.accepted, o.code) == (False, "mailchimp:merge_fields")
    assert fake.status(LIST_ID, "a@example.org") is None


def test_existing_contacts_keep_their_status_and_get_the_tag(context: ConnectorContext) -> None:
    fake = FakeMailchimp()
    fake.put_contact(LIST_ID, "fan@example.org", "subscribed", FNAME="Keep")
    fake.put_contact(LIST_ID, "maybe@example.org", "pending")
    fake.put_contact(LIST_ID, "receipts@example.org", "transactional")
    ms = [member("fan@example.org", "Changed"), member("maybe@example.org"), member("receipts@example.org")]
    with fake.running():
        dest = build(context, status_for_new="subscribed", merge_fields={"first_name": "FNAME"})
        outcomes = dest.add(dest.ensure_audience(TAG), ms)
    assert all(o.accepted for o in outcomes)
    assert [fake.status(LIST_ID, m["email"]) for m in ms] == ["subscribed", "pending", "transactional"]
    assert fake.contacts[LIST_ID][md5("fan@example.org")]["merge_fields"] == {"FNAME": "Keep"}
    assert fake.tagged(LIST_ID, TAG) == {m["email"] for m in ms}


def test_unsubscribed_cleaned_and_forgotten_become_suppressions_never_resubscribed(
    context: ConnectorContext, suppressed: list[dict[str, Any]]
) -> None:
    fake = FakeMailchimp()
    fake.put_contact(LIST_ID, "gone@example.org", "unsubscribed")
    fake.put_contact(LIST_ID, "bounced@example.org", "cleaned")
    fake.forgotten[LIST_ID].add(md5("erased@example.org"))
    ms = [member("gone@example.org"), member("bounced@example.org"), member("erased@example.org"),
          member("new@example.org")]
    with fake.running():
        dest = build(context, status_for_new="subscribed")
        aud = dest.ensure_audience(TAG)
        outcomes = by_key(dest.add(aud, ms))
        again = by_key(dest.add(aud, ms))  # idempotent, and still never resubscribed
    codes = [outcomes[m["member_key"]].code for m in ms]
    assert codes == ["suppressed:unsubscribe", "suppressed:cleaned", "suppressed:compliance", None]
    assert [again[m["member_key"]].code for m in ms] == codes
    assert fake.status(LIST_ID, "gone@example.org") == "unsubscribed"
    assert fake.status(LIST_ID, "bounced@example.org") == "cleaned"
    assert fake.tagged(LIST_ID, TAG) == {"new@example.org"}
    assert {(s["reason"], s["email"]) for s in suppressed} == {
        ("unsubscribe", "gone@example.org"), ("cleaned", "bounced@example.org"), ("compliance", "erased@example.org")
    }
    for o in outcomes.values():  # reasons never carry the address
        assert "@" not in (o.reason or "") and "@" not in (o.code or "")
    assert dest.platform_counts()["suppressed"] == 6


def test_a_compliance_error_row_is_a_suppression(context: ConnectorContext, suppressed: list) -> None:
    text = "x@example.org is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."
    assert row_verdict({"email_address": "x@example.org", "error": text, "error_code": "ERROR_GENERIC"}) == (
        "suppress", "compliance", "Mailchimp holds the contact in a compliance state"
    )
    assert row_verdict({"error": "x has unsubscribed, and cannot be resubscribed by you."})[:2] == ("suppress", "unsubscribe")
    assert row_verdict({"error": "x is already a list member.", "error_code": "ERROR_CONTACT_EXISTS"})[0] == "exists"
    assert row_verdict({"error": "x has signed up to a lot of lists very recently"})[1] == "throttled:address"
    assert row_verdict({"error": "odd <x@y.z>", "error_code": "ERR x@y.z"})[1:] == (
        "mailchimp:ERRXYZ", "Mailchimp refused the contact (ERRXYZ)"
    )


def test_invalid_rows_are_rejected_one_by_one_and_the_rest_tagged(context: ConnectorContext) -> None:
    fake = FakeMailchimp()
    ms = [member(f"p{i}@example.org") for i in range(5)]
    fake.reject_values = {ms[2]["email"]}
    with fake.running():
        dest = build(context)
        outcomes = by_key(dest.add(dest.ensure_audience(TAG), ms))
    assert [outcomes[m["member_key"]].accepted for m in ms] == [True, True, False, True, True]
    assert outcomes[ms[2]["member_key"]].code == "invalid:email"
    assert fake.tagged(LIST_ID, TAG) == {m["email"] for i, m in enumerate(ms) if i != 2}


def test_an_archived_contact_is_unarchived_as_new(context: ConnectorContext) -> None:
    fake = FakeMailchimp()
    fake.put_contact(LIST_ID, "old@example.org", "archived")
    with fake.running():
        dest = build(context)
        [o] = dest.add(dest.ensure_audience(TAG), [member("old@example.org")])
    assert o.accepted and fake.status(LIST_ID, "old@example.org") == "pending"


# --------------------------------------------------------------------------------- remove


def test_remove_takes_the_tag_off_by_hash_and_keeps_the_contact(context: ConnectorContext) -> None:
    """One batch operation (Marketing API reference, "Batch operations": POST /batches, each
    operation a DELETE of the segment member by subscriber hash) for the whole batch."""
    fake = FakeMailchimp(latency=0.01)
    emails = [f"p{i}@example.org" for i in range(40)]
    for e in emails:
        fake.put_contact(LIST_ID, e, "subscribed")
    fake.add_segment(LIST_ID, TAG, emails[:30])  # 10 are not tagged: already removed
    state = [{"member_key": member(e)["member_key"], "subscriber_hash": md5(e)} for e in emails]
    with fake.running():
        dest = build(context)
        outcomes = dest.remove(dest.ensure_audience(TAG), state)
    assert all(o.accepted for o in outcomes) and len(outcomes) == 40
    assert fake.tagged(LIST_ID, TAG) == set()
    assert all(fake.status(LIST_ID, e) == "subscribed" for e in emails)
    assert len(fake.batches) == 1  # one request for 40 removals, not 40
    assert dest.platform_counts() == {"batch_operations": 1, "untagged": 30, "already_untagged": 10}


def test_remove_waits_for_the_batch_and_reads_the_failures(
    context: ConnectorContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch operations run asynchronously (pending, started, finished); the failed operations
    are read from response_body_url, a gzipped tar of {status_code, operation_id, response},
    fetched without the API key (the fake asserts it)."""
    slept: list[float] = []
    monkeypatch.setattr("dealersync_mailchimp.destination.time.sleep", slept.append)
    fake = FakeMailchimp()
    fake.batch_polls_until_finished = 3
    emails = [f"p{i}@example.org" for i in range(5)]
    for e in emails:
        fake.put_contact(LIST_ID, e, "subscribed")
    fake.add_segment(LIST_ID, TAG, emails)
    state = [{"member_key": member(e)["member_key"], "subscriber_hash": md5(e)} for e in emails]
    with fake.running():
        dest = build(context)
        aud = dest.ensure_audience(TAG)
        fake.segments[LIST_ID][aud.id]["members"].discard(md5(emails[1]))  # already gone: 404, accepted
        real_untag = fake.untag
        fake.untag = lambda r, b, list_id, seg_id, hash: (  # type: ignore[method-assign]
            (500, {"title": "Internal"}) if hash == md5(emails[2]) else real_untag(r, b, list_id, seg_id, hash))
        outcomes = dest.remove(aud, state)
    assert slept == [1.0, 2.0, 4.0, 8.0]  # pending, then started three times, then finished
    assert [(o.accepted, o.code) for o in outcomes] == [
        (True, None), (True, None), (False, "mailchimp:untag_failed"), (True, None), (True, None)]
    assert fake.tagged(LIST_ID, TAG) == {emails[2]}


def test_a_batch_that_does_not_finish_is_transient(context: ConnectorContext, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000, 100))
    monkeypatch.setattr("dealersync_mailchimp.destination.time.monotonic", lambda: next(clock))
    monkeypatch.setattr("dealersync_mailchimp.destination.time.sleep", lambda s: None)
    fake = FakeMailchimp()
    fake.batch_polls_until_finished = 1000
    with fake.running(), pytest.raises(TransientError, match="had not finished after 600 s"):
        dest = build(context)
        dest.remove(dest.ensure_audience(TAG), [{"member_key": "k", "subscriber_hash": "b" * 32}])


def test_batch_operations_outside_the_reference_are_refused(context: ConnectorContext) -> None:
    """The fake refuses an operation key the reference does not list (method, path, params,
    body, operation_id) and a wrong method."""
    fake = FakeMailchimp()
    with fake.running():
        r = requests.post(f"{fake.base_url}/batches", auth=("x", API_KEY),
                          json={"operations": [{"method": "DELETE", "path": "/lists/x", "id": "1"}]})
        assert r.status_code == 400
        r = requests.post(f"{fake.base_url}/batches", auth=("x", API_KEY),
                          json={"operations": [{"method": "REMOVE", "path": "/lists/x"}]})
        assert r.status_code == 400


def test_remove_rejects_a_member_without_hash(context: ConnectorContext) -> None:
    fake = FakeMailchimp()
    with fake.running():
        dest = build(context)
        [o] = dest.remove(dest.ensure_audience(TAG), [{"member_key": "k", "subscriber_hash": None}])
    assert (o.accepted, o.code) == (False, "invalid:subscriber_hash")


def test_concurrency_one_sends_one_at_a_time(context: ConnectorContext) -> None:
    fake = FakeMailchimp(latency=0.005)
    fake.add_segment(LIST_ID, TAG)
    with fake.running():
        dest = build(context, concurrency=1)
        dest.remove(dest.ensure_audience(TAG), [{"member_key": str(i), "subscriber_hash": "a" * 32} for i in range(8)])
    assert fake.max_in_flight == 1


# --------------------------------------------------------------------------------- errors


def test_401_is_an_auth_error_saying_how_to_fix_it(context: ConnectorContext) -> None:
    fake = FakeMailchimp(api_key="revoked-us21")
    with fake.running(), pytest.raises(AuthError) as caught:
        build(context).check()
    assert "dealersync secrets set" in caught.value.message and API_KEY not in str(caught.value)


def test_429_with_retry_after_is_waited_then_retried(context: ConnectorContext, dealersync_waits: list) -> None:
    fake = FakeMailchimp()
    fake.fail("POST", r"/lists/abc123$", 429, times=2, headers={"Retry-After": "7"})
    with fake.running():
        dest = build(context)
        [o] = dest.add(dest.ensure_audience(TAG), [member("a@example.org")])
    assert o.accepted and dealersync_waits == [7.0, 7.0]


def test_5xx_timeouts_and_bare_403_are_retried(context: ConnectorContext, dealersync_waits: list) -> None:
    fake = FakeMailchimp()
    fake.fail("POST", r"/segments/\d+$", 500, times=1)
    fake.fail("POST", r"/lists/abc123$", 403, times=1, body=None)  # throttling: bare 403
    fake.time_out("POST", r"/lists/abc123$", times=1)
    with fake.running():
        dest = build(context)
        [o] = dest.add(dest.ensure_audience(TAG), [member("a@example.org")])
    assert o.accepted and len(dealersync_waits) == 3 and fake.tagged(LIST_ID, TAG) == {"a@example.org"}


def test_a_lost_upsert_answer_is_retried_without_duplicates(context: ConnectorContext, dealersync_waits: list) -> None:
    fake = FakeMailchimp()
    fake.lose_answers("POST", r"/lists/abc123$", times=2)
    with fake.running():
        dest = build(context)
        outcomes = dest.add(dest.ensure_audience(TAG), [member("a@example.org"), member("b@example.org")])
    assert all(o.accepted for o in outcomes)
    assert fake.tagged(LIST_ID, TAG) == {"a@example.org", "b@example.org"}
    assert fake.status(LIST_ID, "a@example.org") == "pending"


def test_persistent_failure_ends_transient(context: ConnectorContext, dealersync_waits: list) -> None:
    fake = FakeMailchimp()
    fake.add_segment(LIST_ID, TAG)
    fake.fail("POST", r"/batches$", 503, times=1000)
    with fake.running(), pytest.raises(TransientError) as caught:
        dest = build(context)
        dest.remove(dest.ensure_audience(TAG), [{"member_key": str(i), "subscriber_hash": "b" * 32} for i in range(100)])
    assert "503" in caught.value.message and "batches" in caught.value.message
    assert 1000 - fake.faults[0].times <= 5  # one request for the 100, retried, not 100 requests


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [(401, {"title": "API Key Invalid"}, AuthError), (403, {"title": "Forbidden"}, AuthError),
     (403, None, TransientError), (429, {"title": "Too Many Requests"}, TransientError),
     (400, {"title": "TooManyRequests"}, TransientError), (404, {"title": "Resource Not Found"}, FatalError),
     (400, {"title": "Invalid Resource", "detail": "a@b.co bad"}, FatalError), (502, None, type(None))],
)
def test_classifier(status: int, body: Any, kind: type) -> None:
    r = requests.Response()
    r.status_code = status
    r._content = b"" if body is None else __import__("json").dumps(body).encode()
    verdict = classify(r)
    got = verdict if isinstance(verdict, type) else type(verdict)
    assert issubclass(got, kind)
    if isinstance(verdict, DealersyncError):
        assert "@" not in verdict.message


def test_revoked_key_mid_run_is_auth_error(context: ConnectorContext) -> None:
    dest = build(context)
    with every_request_answered(401), pytest.raises(AuthError, match="create a new key"):
        dest.ensure_audience(TAG)


def test_a_created_tag_without_an_id_is_fatal(context: ConnectorContext) -> None:
    """A 200 without the new tag's id (a proxy's page, an API change) proves nothing: a
    FatalError, not a KeyError (the conformance kit's error paths found it)."""
    with every_request_answered(200, body={"segments": [], "total_items": 0}), \
            pytest.raises(FatalError, match="creating the tag answered without its id"):
        build(context).ensure_audience(TAG)
