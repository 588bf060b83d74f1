"""The ``google`` connector against the Data Manager fake: requests, auth, faults, rejections."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
from dealersync import (
    AuthError,
    ConfigError,
    ConnectorContext,
    FatalError,
    ManualClock,
    RateLimiters,
    RemoteAudience,
    TransientError,
)
from dealersync.testing import sample_people
from dealersync_google import GoogleCustomerMatch
from dealersync_google.destination import user_identifiers
from dealersync_google_fake import (
    ACCOUNT,
    CLIENT_SECRET,
    FAKE_CONFIG,
    LIST_ID,
    MANAGER,
    REFRESH_TOKEN,
    FakeDataManager,
)

CONFIG = FAKE_CONFIG
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN, "ya29.fake-access")


def connector(ctx: ConnectorContext, **over: Any) -> GoogleCustomerMatch:
    return GoogleCustomerMatch(GoogleCustomerMatch.Config(**{**CONFIG, **over}), ctx)


@pytest.fixture
def fake(dealersync_waits: list[float]) -> Iterator[FakeDataManager]:
    platform = FakeDataManager()
    with platform.serve():
        yield platform


@pytest.fixture(scope="module")
def people() -> list[dict[str, Any]]:
    with sample_people(GoogleCustomerMatch.identifiers) as p:
        return p.members(12)


AUD = RemoteAudience(LIST_ID, "all")


def no_secret(text: str) -> None:
    for s in SECRETS:
        assert s not in text


# ------------------------------------------------------------------------------------- config


def test_customer_ids_are_normalized_and_validated() -> None:
    cfg = GoogleCustomerMatch.Config(**{**CONFIG, "login_account_id": "987 654 3210"})
    assert (cfg.operating_account_id, cfg.login_account_id) == (ACCOUNT, MANAGER)
    for bad in ("123-456-789", "act_1234567890", "12345678901"):
        with pytest.raises(pydantic.ValidationError, match="10-digit Google Ads customer id"):
            GoogleCustomerMatch.Config(**{**CONFIG, "operating_account_id": bad})
    with pytest.raises(pydantic.ValidationError, match="numeric"):
        GoogleCustomerMatch.Config(**{**CONFIG, "user_list_id": "customers/1/userLists/2"})


def test_consent_defaults_to_unspecified() -> None:
    cfg = GoogleCustomerMatch.Config(**CONFIG)
    assert (cfg.ad_user_data, cfg.ad_personalization) == ("CONSENT_STATUS_UNSPECIFIED",) * 2
    with pytest.raises(pydantic.ValidationError):
        GoogleCustomerMatch.Config(**{**CONFIG, "ad_user_data": "GRANTED"})


def test_ensure_audience_takes_the_list_from_config(dealersync_context: ConnectorContext) -> None:
    dest = connector(dealersync_context, user_lists={"vip": "777"})
    assert dest.ensure_audience("all") == RemoteAudience(LIST_ID, "all")
    assert dest.ensure_audience("vip").id == "777"
    with pytest.raises(ConfigError) as caught:
        connector(dealersync_context, user_list_id=None).ensure_audience("all")
    msg = caught.value.message
    assert "destinations.kit.user_list_id" in msg and "Customer list" in msg and "user_list_id = " in msg


def test_declared_contract() -> None:
    c = GoogleCustomerMatch
    assert (c.name, c.channel, c.min_members, c.supports_replace) == ("google", "ads", 100, False)
    assert (c.limits.rows, c.limits.identifiers_per_member) == (10_000, 10)
    assert set(c.state_fields) == set(c.identifiers)  # hashed email/phone/names + plain region/postal


# ----------------------------------------------------------------------------------- requests


def test_request_body(fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]) -> None:
    dest = connector(dealersync_context, login_account_id=MANAGER, ad_user_data="CONSENT_GRANTED")
    no_zip = {**people[1], "postal_code": None}
    outcomes = dest.add(AUD, [people[0], no_zip])
    assert all(o.accepted for o in outcomes) and len(outcomes) == 2
    dest.remove(AUD, [no_zip])
    ingest, remove = fake.bodies
    p = people[0]
    assert ingest == {
        "destinations": [{"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": ACCOUNT},
                          "productDestinationId": LIST_ID,
                          "loginAccount": {"accountType": "GOOGLE_ADS", "accountId": MANAGER}}],
        "audienceMembers": [
            {"userData": {"userIdentifiers": [
                {"emailAddress": p["email"]}, {"phoneNumber": p["phone"]},
                {"address": {"givenName": p["given_name"], "familyName": p["family_name"],
                             "regionCode": "US", "postalCode": p["postal_code"]}}]}},
            {"userData": {"userIdentifiers": [{"emailAddress": no_zip["email"]}, {"phoneNumber": no_zip["phone"]}]}},
        ],
        "encoding": "HEX",
        "consent": {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_STATUS_UNSPECIFIED"},
        "termsOfService": {"customerMatchTermsOfServiceStatus": "ACCEPTED"},
    }
    assert set(remove) == {"destinations", "audienceMembers", "encoding"}
    # the hashes are SHA-256 hex of core's google.* normalization
    assert {m["email"] for m in people} == {hashlib.sha256(f"kit.person{i}@example.org".encode()).hexdigest() for i in range(12)}
    assert {m["phone"] for m in people} == {hashlib.sha256(f"+1512200{i:04d}".encode()).hexdigest() for i in range(12)}
    assert len(fake.held()) == 1
    assert dest.platform_counts() == {"requests": 2, "members_ingested": 2, "members_removed": 1, "members_rejected": 0,
                                     "status_checks": 0}


def test_address_only_with_all_four_parts() -> None:
    m = {"member_key": "k", "email": None, "phone": None, "given_name": "a" * 64, "family_name": "b" * 64,
         "region_code": "US", "postal_code": "78701"}
    assert user_identifiers(m) == [{"address": {"givenName": "a" * 64, "familyName": "b" * 64,
                                                "regionCode": "US", "postalCode": "78701"}}]
    for part in ("given_name", "family_name", "region_code", "postal_code"):
        assert user_identifiers({**m, part: None}) == []


def test_member_without_identifiers_is_rejected_not_sent(fake: FakeDataManager, dealersync_context: ConnectorContext) -> None:
    [o] = connector(dealersync_context).add(AUD, [{"member_key": "k1", "email": None, "given_name": "a" * 64}])
    assert (o.accepted, o.code) == (False, "no_identifiers")
    assert fake.api_calls == 0


def test_invalid_rows_are_rejected_one_by_one_and_the_rest_sent(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    members = [dict(m) for m in people[:6]]
    members[1]["email"] = "not-a-hash"
    members[4]["phone"] = members[4]["phone"][:40]
    outcomes = {o.member_key: o for o in connector(dealersync_context).add(AUD, members)}
    assert len(outcomes) == 6
    refused = {k: o.code for k, o in outcomes.items() if not o.accepted}
    assert refused == {members[1]["member_key"]: "INVALID_HEX_ENCODING", members[4]["member_key"]: "INVALID_SHA256_FORMAT"}
    assert all("not-a-hash" not in (o.reason or "") for o in outcomes.values())
    assert len(fake.held()) == 4 and fake.api_calls == 2  # refused whole once, then the four good ones


# --------------------------------------------------------------------------------------- auth


def test_token_refreshed_before_first_use_then_reused(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    dest = connector(dealersync_context)
    dest.add(AUD, people[:2])
    dest.add(AUD, people[2:4])
    assert fake.token_requests == 1 and fake.api_calls == 2


def test_expired_access_token_is_refreshed_once(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    dest = connector(dealersync_context)
    dest.add(AUD, people[:2])
    fake.expire_access_tokens()
    assert all(o.accepted for o in dest.add(AUD, people[2:4]))
    assert fake.token_requests == 2 and len(fake.held()) == 4


def test_revoked_refresh_token_is_auth_error_saying_how_to_fix(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    dest = connector(dealersync_context)
    dest.add(AUD, people[:2])
    fake.revoke_refresh_token()
    with pytest.raises(AuthError) as caught:
        dest.add(AUD, people[2:4])
    msg = caught.value.message
    assert "invalid_grant" in msg and "dealersync secrets set" in msg and "Re-authorize" in msg
    no_secret(msg + str(caught.value) + caplog.text)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_fresh_token_refused_twice_is_auth_error(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    fake.fail_calls([1, 2], "status", status=401)
    with pytest.raises(AuthError, match="freshly refreshed access token was refused") as caught:
        connector(dealersync_context).add(AUD, people[:2])
    assert fake.token_requests == 2 and fake.held() == []
    assert "dealersync secrets set" in caught.value.message


def test_wrong_client_secret(fake: FakeDataManager, dealersync_context: ConnectorContext) -> None:
    with pytest.raises(AuthError, match="invalid_client") as caught:
        connector(dealersync_context, client_secret="nope-Xy1").check()
    assert "nope-Xy1" not in caught.value.message


def test_permission_denied_is_auth_error_with_a_fix(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    with pytest.raises(AuthError) as caught:
        connector(dealersync_context, operating_account_id="1111111111").add(AUD, people[:1])
    assert "permission denied" in caught.value.message and "login_account_id" in caught.value.message


# ------------------------------------------------------------------------------------- faults


def test_429_honours_retry_after(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]],
    dealersync_waits: list[float],
) -> None:
    fake.fail_calls([1, 2], "status", status=429, headers={"Retry-After": "7"})
    assert all(o.accepted for o in connector(dealersync_context).add(AUD, people[:3]))
    assert dealersync_waits == [7.0, 7.0] and len(fake.held()) == 3


def test_500s_and_timeouts_are_retried(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]],
    dealersync_waits: list[float],
) -> None:
    fake.fail(1, "status", status=500)
    fake.fail(2, "timeout")
    fake.fail(3, "status", status=503)
    fake.fail(4, "lose")  # applied, answer lost: the retry re-sends, the member stays once
    dest = connector(dealersync_context)
    assert all(o.accepted for o in dest.add(AUD, people[:3]))
    assert len(fake.held()) == 3 and fake.api_calls == 5 and len(dealersync_waits) == 4
    assert dest.platform_counts()["requests"] == 1


def test_an_answer_without_request_id_counts_nothing(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    """A 200 that is not the API's answer (no requestId: a proxy, an empty body) proves nothing."""
    fake.fail(1, "status", status=200, payload={"status": "ok"})
    dest = connector(dealersync_context)
    with pytest.raises(FatalError, match="without a requestId"):
        dest.add(AUD, people[:3])
    assert dest.platform_counts().get("members_ingested", 0) == 0


def test_persistent_outage_is_transient_error(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    fake.fail_calls(range(1, 6), "status", status=503)
    with pytest.raises(TransientError) as caught:
        connector(dealersync_context).add(AUD, people[:3])
    assert "HTTP 503" in caught.value.message
    no_secret(caught.value.message)


def test_unknown_list_is_fatal_with_a_hint(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    with pytest.raises(FatalError) as caught:
        connector(dealersync_context, user_list_id="999").add(RemoteAudience("999", "all"), people[:2])
    assert "INVALID_USER_LIST_ID" in caught.value.message and "check user_list_id" in caught.value.message


def test_error_messages_carry_no_pii_or_secret(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    fake.fail(1, "status", status=400, payload={"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                                           "message": "kit.person0@example.org is bad",
                                                           "details": [{"reason": "kit.person0@example.org"}]}})
    with pytest.raises(FatalError) as caught:
        connector(dealersync_context).add(AUD, people[:2])
    assert "example.org" not in caught.value.message
    no_secret(caught.value.message)
    assert "INVALID_ARGUMENT" in caught.value.message


def test_requests_sent_are_plain_json_without_secrets(
    fake: FakeDataManager, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    connector(dealersync_context).add(AUD, people[:3])
    text = json.dumps(fake.bodies)
    assert REFRESH_TOKEN not in text and CLIENT_SECRET not in text and "example.org" not in text.lower()


# -------------------------------------------------------------------------------- rate limiter


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """Fresh process-wide rate limiters on a clock that moves only when slept on."""
    manual = ManualClock()
    with RateLimiters(clock=manual, sleep=manual.sleep).installed():
        yield manual


def test_every_attempt_goes_through_the_limiter(
    fake: FakeDataManager, clock: ManualClock, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    dest = connector(dealersync_context, requests_per_minute=2)
    fake.fail(1, "status", status=500)
    dest.add(AUD, people[:2])  # attempt 1 (500), attempt 2: two starts at t=0
    assert clock.slept == [] and fake.api_calls == 2
    dest.add(AUD, people[2:4])  # a third start in the same minute waits for the window
    assert clock.slept == [60.0] and fake.api_calls == 3


def test_destinations_of_one_cloud_project_share_its_quota(
    fake: FakeDataManager, clock: ManualClock, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    """Google counts requests per Cloud project: two destinations with the same OAuth client (or
    naming the same cloud_project) spend one budget; another project has its own."""
    first = connector(dealersync_context, requests_per_minute=2)
    second = connector(dealersync_context, requests_per_minute=2)  # same OAuth client: same project
    first.add(AUD, people[:1])
    second.add(AUD, people[1:2])
    other = connector(dealersync_context, requests_per_minute=2, cloud_project="another-project")
    other.add(AUD, people[2:3])
    assert clock.slept == []  # another project: its own budget
    first.add(AUD, people[3:4])  # the client's project's third request this minute
    assert clock.slept == [60.0]
    named = [connector(dealersync_context, requests_per_minute=1, cloud_project="dealer-group") for _ in range(2)]
    named[0].add(AUD, people[4:5])
    named[1].add(AUD, people[5:6])  # the named project's second request this minute
    assert clock.slept == [60.0, 60.0] and fake.api_calls == 6


def test_status_checks_spend_the_read_quota_not_the_write_one(
    fake: FakeDataManager, clock: ManualClock, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    """Google counts IngestionService mutate and read requests apart (Limits and quotas)."""
    dest = connector(dealersync_context, requests_per_minute=1)
    request_id = dest.add(AUD, people[:2])[0].request_id
    assert request_id
    dest.resolve(AUD, {request_id: "add"})  # the minute's one read: no wait behind the ingest
    assert clock.slept == []
    dest.resolve(AUD, {request_id: "add"})
    assert clock.slept == [60.0]


def test_fake_refuses_past_the_per_minute_quota_of_each_kind(
    fake: FakeDataManager, clock: ManualClock, dealersync_context: ConnectorContext, people: list[dict[str, Any]]
) -> None:
    """The fake answers what Google answers past 300 requests a minute of one kind: 429
    RESOURCE_EXHAUSTED (Limits and quotas); the client's own limit keeps it from getting there."""
    fake.per_minute, fake.quota_clock = 2, clock
    over = connector(dealersync_context, requests_per_minute=3)
    over.add(AUD, people[:1])
    over.add(AUD, people[1:2])
    request_id = over.add(AUD, people[2:3])[0].request_id  # the minute's third ingest: refused, retried
    assert fake.quota_refusals == 1 and request_id
    over.resolve(AUD, {request_id: "add"})  # reads have their own quota
    assert fake.quota_refusals == 1 and fake.status_calls == 1
    refusals = fake.quota_refusals
    clock.sleep(60.0)
    under = connector(dealersync_context, requests_per_minute=2, cloud_project="fake-quota")
    for i in range(3, 6):
        under.add(AUD, people[i : i + 1])
    assert fake.quota_refusals == refusals  # the client waited instead
