"""The Meta fake's own tests: it enforces what Meta documents, so the connector's tests mean something."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from meta_fake import ACCOUNT, LOST, TOKEN, FakeMeta, FakeMetaServer, Fault, meta_http

BASE = FakeMeta.base_url
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCHEMA = ["EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY"]


def h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def row(i: int) -> list[str]:
    return [h(f"p{i}@example.org"), h(f"1512555{i:04d}"), "", "", "", "", "", h("us")]


def body(rows: list[list[str]], seq: int = 1, last: bool = True, session: int = 7, schema: Any = SCHEMA) -> dict[str, Any]:
    return {
        "payload": {"schema": schema, "is_raw": True, "data": rows},
        "session": {"session_id": session, "batch_seq": seq, "last_batch_flag": last, "estimated_num_total": len(rows)},
    }


@pytest.fixture
def fake() -> Iterator[FakeMeta]:
    f = FakeMeta()
    with meta_http(f):
        yield f


def new_audience(fake: FakeMeta, name: str = "A") -> str:
    r = requests.post(f"{BASE}/{ACCOUNT}/customaudiences", headers=AUTH,
                      json={"name": name, "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_rejects_more_than_10000_rows(fake: FakeMeta) -> None:
    aid = new_audience(fake)
    r = requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(i) for i in range(10_001)]))
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    assert fake.members(aid) == []
    r = requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(i) for i in range(10_000)]))
    assert r.status_code == 200 and r.json()["num_received"] == 10_000
    assert len(fake.members(aid)) == 10_000


def test_non_hex_hashes_are_invalid_entries(fake: FakeMeta) -> None:
    aid = new_audience(fake)
    rows = [row(1), ["jane@example.org", "", "", "", "", "", "", ""], [h("x").upper(), "", "", "", "", "", "", ""], row(2)[:3]]
    r = requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body(rows))
    out = r.json()
    assert r.status_code == 200
    assert out["num_received"] == 4 and out["num_invalid_entries"] == 3
    assert len(fake.members(aid)) == 1


def test_batch_seq_must_start_at_1_and_stay_in_order(fake: FakeMeta) -> None:
    aid = new_audience(fake)
    r = requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(1)], seq=2, last=False))
    assert r.status_code == 400 and (r.json()["error"]["code"], r.json()["error"]["error_subcode"]) == (2650, 1870147)
    assert requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(1)], seq=1, last=False)).ok
    assert requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(1)], seq=1, last=False)).ok  # a retry
    assert requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(2)], seq=3, last=False)).status_code == 400
    assert requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(2)], seq=2, last=True)).ok
    ended = requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(3)], seq=3, last=True))
    assert ended.status_code == 400  # after last_batch_flag the session is over
    assert len(fake.members(aid)) == 2


def test_token_and_payload_placement(fake: FakeMeta) -> None:
    aid = new_audience(fake)
    r = requests.post(f"{BASE}/{aid}/users", headers={"Authorization": "Bearer nope"}, json=body([row(1)]))
    assert r.status_code == 400 and r.json()["error"]["code"] == 190
    r = requests.post(f"{BASE}/{aid}/users", headers=AUTH, params={"payload": json.dumps(body([row(1)])["payload"])})
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    r = requests.post(f"{BASE}/{aid}/users", params={"access_token": TOKEN}, json=body([row(1)]))
    assert r.status_code == 400
    # a form-encoded body, as Meta's own examples send it, is understood too
    form = {k: json.dumps(v) for k, v in body([row(1)]).items()}
    assert requests.post(f"{BASE}/{aid}/users", headers=AUTH, data=form).ok
    assert len(fake.members(aid)) == 1


def sdk(params: dict[str, Any]) -> dict[str, str]:
    """Top-level values JSON-encoded, as facebook_business.api._top_level_param_json_encode does."""
    return {k: json.dumps(v, sort_keys=True, separators=(",", ":")) for k, v in params.items()}


def test_add_is_idempotent_and_delete_removes(fake: FakeMeta) -> None:
    """DELETE /{id}/users with the payload in the query string: the SDK's remove_users shape
    (facebook_business/adobjects/helpers/customaudiencemixin.py + api.py FacebookAdsApi.call)."""
    aid = new_audience(fake)
    for session in (1, 2):
        requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(1), row(2)], session=session))
    assert len(fake.members(aid)) == 2
    r = requests.delete(f"{BASE}/{aid}/users", headers=AUTH, params=sdk(body([row(1)], session=3)))
    assert r.ok and r.json()["num_received"] == 1
    assert [m["email"] for m in fake.members(aid)] == [row(2)[0]]


def test_a_delete_body_is_ignored(fake: FakeMeta) -> None:
    """Meta ignored a DELETE's body ("(#100) Missing required parameter: payload",
    facebook/facebook-python-business-sdk#156): a removal in a JSON body removes nobody."""
    aid = new_audience(fake)
    requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(1)]))
    r = requests.delete(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(1)], session=3))
    assert r.status_code == 400 and "Missing required parameter: payload" in r.json()["error"]["message"]
    assert len(fake.members(aid)) == 1


def test_undocumented_parameters_and_enums_are_refused(fake: FakeMeta) -> None:
    """Parameters and enums as the SDK's generated methods declare them (customaudience.py
    create_user/delete_users: namespace, payload, session; adaccount.py create_custom_audience)."""
    aid = new_audience(fake)
    r = requests.post(f"{BASE}/{aid}/users", headers=AUTH, data=sdk({**body([row(1)]), "dedupe": True}))
    assert r.status_code == 400 and "dedupe" in r.json()["error"]["message"]
    r = requests.post(f"{BASE}/{aid}/users", headers=AUTH,
                      data=sdk({**body([row(1)]), "session": {**body([])["session"], "seq": 1}}))
    assert r.status_code == 400
    bad = {"name": "B", "subtype": "CUSTOMER_FILE", "customer_file_source": "USER_PROVIDED_ONLY"}
    assert requests.post(f"{BASE}/{ACCOUNT}/customaudiences", headers=AUTH, data=sdk(bad)).status_code == 400
    assert requests.post(f"{BASE}/{ACCOUNT}/customaudiences", headers=AUTH,
                         data={**bad, "subtype": "CUSTOM", "customer_file_source": "CRM"}).status_code == 400
    assert fake.members(aid) == []


def test_too_long_urls_get_metas_html_error_page(fake: FakeMeta) -> None:
    """Meta documents no URL limit; users report removals in the query string failing past
    ~150-180 KB with an HTML error page (facebook-python-business-sdk#367, #717;
    facebook-java-business-sdk#179, #257)."""
    aid = new_audience(fake)
    rows = [row(i) for i in range(1000)]  # ~270 KB of query string
    requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body(rows))
    r = requests.delete(f"{BASE}/{aid}/users", headers=AUTH, params=sdk(body(rows, session=2)))
    assert r.status_code == 414 and "Facebook | Error" in r.text
    assert len(fake.members(aid)) == 1000


def test_flagged_names_and_small_audience_refusals(fake: FakeMeta) -> None:
    """Flagged names: operation_status 471 and uploads refused 100/1713230 (Custom Audience
    reference, Sept 2025 notice; usersreplace edge). Small audiences: users' reported message
    (grouparoo/grouparoo#1108), with removal_floor set."""
    flagged = new_audience(fake, "Credit Score 700+")
    got = requests.get(f"{BASE}/{flagged}", headers=AUTH, params={"fields": "id,name,operation_status"}).json()
    assert got["operation_status"]["code"] == 471
    r = requests.post(f"{BASE}/{flagged}/users", headers=AUTH, json=body([row(1)]))
    assert r.json()["error"]["error_subcode"] == 1713230 and fake.members(flagged) == []
    aid = new_audience(fake, "Service due")
    requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(i) for i in range(5)]))
    fake.removal_floor = 4
    r = requests.delete(f"{BASE}/{aid}/users", headers=AUTH, params=sdk(body([row(0), row(1)], session=2)))
    assert r.status_code == 400 and r.json()["error"]["error_user_title"] == "Audience Size too low"
    assert len(fake.members(aid)) == 5
    assert requests.delete(f"{BASE}/{aid}/users", headers=AUTH, params=sdk(body([row(0)], session=3))).ok


def test_usersreplace_swaps_the_list_at_the_last_batch(fake: FakeMeta) -> None:
    aid = new_audience(fake)
    requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(1), row(2)]))
    requests.post(f"{BASE}/{aid}/usersreplace", headers=AUTH, json=body([row(3)], seq=1, last=False, session=9))
    assert len(fake.members(aid)) == 2  # not yet
    requests.post(f"{BASE}/{aid}/usersreplace", headers=AUTH, json=body([row(3)], seq=1, last=False, session=9))
    requests.post(f"{BASE}/{aid}/usersreplace", headers=AUTH, json=body([row(4)], seq=2, last=True, session=9))
    assert sorted(m["email"] for m in fake.members(aid)) == sorted([row(3)[0], row(4)[0]])


def test_audience_paging_and_lookalike_validation(fake: FakeMeta) -> None:
    fake.page_size = 2
    ids = [new_audience(fake, f"A{i}") for i in range(5)]
    seen, params = [], {"fields": "id,name", "limit": 200}
    while True:
        page = requests.get(f"{BASE}/{ACCOUNT}/customaudiences", headers=AUTH, params=params).json()
        seen += [a["id"] for a in page["data"]]
        if "next" not in page.get("paging", {}):
            break
        params["after"] = page["paging"]["cursors"]["after"]
    assert seen == ids
    good = {"name": "L", "subtype": "LOOKALIKE", "origin_audience_id": ids[0],
            "lookalike_spec": {"type": "custom_ratio", "ratio": 0.05, "country": "US"}}
    post = lambda p: requests.post(f"{BASE}/{ACCOUNT}/customaudiences", headers=AUTH, data=sdk(p))  # noqa: E731
    for spec in ({"type": "custom_ratio", "ratio": 0.5, "country": "US"},  # ratio 0.01-0.20
                 {"type": "similarity", "ratio": 0.05, "country": "US"},  # type *or* ratio (reference)
                 {"type": "custom_ratio", "country": "US"},
                 {"type": "custom_ratio", "ratio": 0.05, "country": "US", "size": 3},  # not a LookalikeSpec key
                 {"type": "lookalike", "ratio": 0.05, "country": "US"}):
        assert post({**good, "lookalike_spec": spec}).status_code == 400, spec
    assert post({**good, "origin_audience_id": "999"}).status_code == 400
    assert post({**good, "lookalike_spec": {"type": "reach", "country": "US"}}).ok
    assert post(good).ok


def test_faults_lost_answer_applies_then_drops(fake: FakeMeta) -> None:
    aid = new_audience(fake)
    fake.faults.append(Fault("add", LOST, nth=1))
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(1)]))
    assert len(fake.members(aid)) == 1
    fake.faults.append(Fault("add", (429, {"error": {"code": 17, "message": "limit"}}, {"Retry-After": "3"})))
    r = requests.post(f"{BASE}/{aid}/users", headers=AUTH, json=body([row(2)], session=2))
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert len(fake.members(aid)) == 1


def test_real_server_serves_the_same_fake() -> None:
    fake = FakeMeta()
    with FakeMetaServer(fake, max_seconds=20) as server, responses.RequestsMock() as rsps:
        rsps.add_passthru(server.url)
        base = f"{server.url}/v25.0"
        r = requests.post(f"{base}/{ACCOUNT}/customaudiences", headers=AUTH, timeout=5,
                          json={"name": "A", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"})
        aid = r.json()["id"]
        assert requests.post(f"{base}/{aid}/users", headers=AUTH, json=body([row(1)]), timeout=5).json()["num_received"] == 1
        assert len(fake.members(aid)) == 1
