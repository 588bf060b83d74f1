"""The Data Manager fake enforces the documented limits and the OAuth refresh flow."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from dealersync_google_fake import (
    ACCOUNT,
    BASE,
    CLIENT_ID,
    CLIENT_SECRET,
    LIST_ID,
    MANAGER,
    REFRESH_TOKEN,
    TOKEN_URL,
    FakeDataManager,
)

INGEST = f"{BASE}/v1/audienceMembers:ingest"
REMOVE = f"{BASE}/v1/audienceMembers:remove"


def h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def member(i: int, extra: int = 0) -> dict[str, Any]:
    ids: list[dict[str, Any]] = [{"emailAddress": h(f"p{i}@example.org")}]
    ids += [{"phoneNumber": h(f"+1512555{j:04d}")} for j in range(extra)]
    return {"userData": {"userIdentifiers": ids}}


def body(members: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    b = {
        "destinations": [{"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": ACCOUNT},
                          "productDestinationId": LIST_ID}],
        "audienceMembers": members,
        "consent": {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"},
        "encoding": "HEX",
        "termsOfService": {"customerMatchTermsOfServiceStatus": "ACCEPTED"},
    }
    b.update(over)
    return {k: v for k, v in b.items() if v is not None}


@pytest.fixture
def fake() -> Iterator[FakeDataManager]:
    platform = FakeDataManager()
    with platform.serve():
        yield platform


def token(refresh: str = REFRESH_TOKEN, secret: str = CLIENT_SECRET) -> requests.Response:
    return requests.post(TOKEN_URL, data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                          "client_secret": secret, "refresh_token": refresh})


def post(url: str, payload: Any, access: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {access}"} if access else {}
    return requests.post(url, json=payload, headers=headers)


@pytest.fixture
def access(fake: FakeDataManager) -> str:
    r = token()
    assert r.status_code == 200
    return r.json()["access_token"]


def violations(r: requests.Response) -> list[dict[str, str]]:
    return [v for d in r.json()["error"]["details"] for v in d.get("fieldViolations", [])]


def test_refresh_flow(fake: FakeDataManager) -> None:
    assert token(secret="wrong").json()["error"] == "invalid_client"
    bad = requests.post(TOKEN_URL, data={"grant_type": "authorization_code", "client_id": CLIENT_ID})
    assert bad.status_code == 400 and bad.json()["error"] == "unsupported_grant_type"
    assert token(refresh="1//other").json()["error"] == "invalid_grant"
    ok = token()
    assert ok.status_code == 200 and ok.json()["access_token"].startswith("ya29.")
    fake.revoke_refresh_token()
    r = token()
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_refuses_missing_wrong_and_expired_access_tokens(fake: FakeDataManager, access: str) -> None:
    for t in (None, "ya29.made-up"):
        r = post(INGEST, body([member(1)]), t)
        assert (r.status_code, r.json()["error"]["status"]) == (401, "UNAUTHENTICATED")
    assert post(INGEST, body([member(1)]), access).status_code == 200
    fake.expire_access_tokens()
    assert post(INGEST, body([member(2)]), access).status_code == 401
    assert len(fake.held()) == 1


def test_holds_members_idempotently_and_removes(fake: FakeDataManager, access: str) -> None:
    assert post(INGEST, body([member(1), member(2)]), access).json() == {"requestId": "req-1"}
    post(INGEST, body([member(1), member(2)]), access)
    assert len(fake.held()) == 2
    r = post(REMOVE, body([member(1)], consent=None, termsOfService=None), access)
    assert r.status_code == 200
    assert [m["email"] for m in fake.held()] == [h("p2@example.org")]
    assert fake.request_sizes == [2, 2, 1]


def test_rejects_10001_members_and_takes_10000(fake: FakeDataManager, access: str) -> None:
    r = post(INGEST, body([member(i) for i in range(10_001)]), access)
    assert r.status_code == 400 and violations(r)[0]["reason"] == "TOO_MANY_AUDIENCE_MEMBERS"
    assert fake.held() == []
    assert post(INGEST, body([member(i) for i in range(10_000)]), access).status_code == 200
    assert len(fake.held()) == 10_000


def test_rejects_more_than_10_identifiers_naming_the_member(fake: FakeDataManager, access: str) -> None:
    r = post(INGEST, body([member(0, extra=9), member(1, extra=10)]), access)  # 10 ok, 11 not
    assert r.status_code == 400
    assert violations(r) == [{"field": "audience_members.audience_members[1]",
                              "description": "This audience member is not valid.",
                              "reason": "TOO_MANY_USER_IDENTIFIERS"}]
    assert fake.held() == []  # fast-fail: nothing applied


def test_rejects_malformed_hashes_by_index(fake: FakeDataManager, access: str) -> None:
    members = [member(0), {"userData": {"userIdentifiers": [{"emailAddress": "someone@example.org"}]}},
               member(2), {"userData": {"userIdentifiers": [{"phoneNumber": h("x")[:63]}]}}]
    r = post(INGEST, body(members), access)
    assert r.status_code == 400
    assert [(v["field"], v["reason"]) for v in violations(r)] == [
        ("audience_members.audience_members[1]", "INVALID_HEX_ENCODING"),
        ("audience_members.audience_members[3]", "INVALID_SHA256_FORMAT"),
    ]
    assert fake.held() == []


def test_address_needs_all_four_parts(fake: FakeDataManager, access: str) -> None:
    addr = {"givenName": h("ann"), "familyName": h("lee"), "regionCode": "US", "postalCode": "78701"}
    ok = {"userData": {"userIdentifiers": [{"address": addr}]}}
    partial = {"userData": {"userIdentifiers": [{"address": {**addr, "postalCode": ""}}]}}
    r = post(INGEST, body([ok, partial]), access)
    assert [v["reason"] for v in violations(r)] == ["REQUIRED_FIELD_MISSING"]
    assert post(INGEST, body([ok]), access).status_code == 200
    assert fake.held() == [{"email": None, "phone": None, "given_name": h("ann"), "family_name": h("lee"),
                            "region_code": "US", "postal_code": "78701"}]


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"encoding": None}, "REQUIRED_FIELD_MISSING"),
        ({"encoding": "BASE32"}, "INVALID_ENUM_VALUE"),
        ({"termsOfService": None}, "TERMS_AND_CONDITIONS_NOT_SIGNED"),
        ({"consent": {"adUserData": "YES"}}, "INVALID_ENUM_VALUE"),
        ({"audienceMembers": []}, "REQUIRED_FIELD_MISSING"),
    ],
)
def test_refuses_bad_requests(fake: FakeDataManager, access: str, over: dict[str, Any], reason: str) -> None:
    r = post(INGEST, body([member(1)], **over), access)
    assert r.status_code == 400 and [v["reason"] for v in violations(r)] == [reason]


@pytest.mark.parametrize("field", ["consent", "termsOfService", "userLists", "upsert"])
def test_fields_outside_the_request_message_are_unknown(fake: FakeDataManager, access: str, field: str) -> None:
    """ingestion_service.proto: RemoveAudienceMembersRequest has no consent and no
    terms_of_service; neither request has userLists or upsert. Google answers "Unknown name"."""
    extra = {"consent": {"adUserData": "CONSENT_GRANTED"}, "termsOfService": {}, "userLists": ["1"], "upsert": True}
    r = post(REMOVE, {k: v for k, v in body([member(1)]).items() if k not in ("consent", "termsOfService")}
             | {field: extra[field]}, access)
    assert r.status_code == 400 and f'Unknown name "{field}"' in r.json()["error"]["message"]
    if field in ("userLists", "upsert"):
        assert post(INGEST, body([member(1)], **{field: extra[field]}), access).status_code == 400


def test_destinations_must_be_known(fake: FakeDataManager, access: str) -> None:
    def dest(account: str, list_id: str, login: str | None = None) -> list[dict[str, Any]]:
        d: dict[str, Any] = {"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": account},
                             "productDestinationId": list_id}
        if login:
            d["loginAccount"] = {"accountType": "GOOGLE_ADS", "accountId": login}
        return [d]

    assert post(INGEST, body([member(1)], destinations=dest("1111111111", LIST_ID)), access).status_code == 403
    r = post(INGEST, body([member(1)], destinations=dest(ACCOUNT, "999")), access)
    assert r.status_code == 400 and violations(r)[0]["reason"] == "INVALID_USER_LIST_ID"
    assert post(INGEST, body([member(1)], destinations=dest(ACCOUNT, LIST_ID, "2222222222")), access).status_code == 403
    assert post(INGEST, body([member(1)], destinations=dest(ACCOUNT, LIST_ID, MANAGER)), access).status_code == 200


def test_fault_injection(fake: FakeDataManager, access: str) -> None:
    fake.fail(1, "status", status=429, headers={"Retry-After": "7"})
    fake.fail(2, "lose")
    fake.fail(3, "timeout")
    r = post(INGEST, body([member(1)]), access)
    assert (r.status_code, r.headers["Retry-After"], r.json()["error"]["status"]) == (429, "7", "RESOURCE_EXHAUSTED")
    assert fake.held() == []
    with pytest.raises(requests.ConnectionError):
        post(INGEST, body([member(1)]), access)
    assert len(fake.held()) == 1  # applied, answer lost
    with pytest.raises(requests.Timeout):
        post(INGEST, body([member(2)]), access)
    assert len(fake.held()) == 1
    assert fake.api_calls == 3


def test_a_fresh_fake_per_test_has_one_empty_list() -> None:
    fake = FakeDataManager()
    assert fake.lists == {LIST_ID: []} and isinstance(fake.create_user_list("b"), str)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        assert len(rsps.registered()) == 4  # token, ingest, remove, requestStatus:retrieve


def test_people_view_matches_on_any_identifier(fake: FakeDataManager, access: str) -> None:
    e1, e2, p = h("a@x.org"), h("b@x.org"), h("+15125550100")
    both = {"userData": {"userIdentifiers": [{"emailAddress": e1}, {"phoneNumber": p}]}}
    new_email = {"userData": {"userIdentifiers": [{"emailAddress": e2}, {"phoneNumber": p}]}}
    post(INGEST, body([both]), access)
    post(INGEST, body([new_email]), access)  # the same person to Google (shared phone)
    assert len(fake.held()) == 2 and len(fake.people()) == 1
    post(REMOVE, body([both], consent=None, termsOfService=None), access)
    assert len(fake.held()) == 1  # exact identifiers: the new entry stays
    assert fake.people() == []  # Google: removing by the shared phone removes the person
