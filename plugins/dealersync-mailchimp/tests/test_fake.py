"""The Mailchimp fake enforces the documented limits and status rules (tests of the fake itself)."""

from __future__ import annotations

import threading

import pytest
import requests
from dealersync_mailchimp_fake import API_KEY, LIST_ID, FakeMailchimp, md5

BASE = FakeMailchimp.base_url
AUTH = ("any", API_KEY)


def _upsert(members: list[dict], update: bool = False) -> requests.Response:
    return requests.post(f"{BASE}/lists/{LIST_ID}", json={"members": members, "update_existing": update}, auth=AUTH)


def _people(n: int, status: str = "pending") -> list[dict]:
    return [{"email_address": f"p{i}@example.org", "status": status} for i in range(n)]


def test_batch_upsert_takes_500_members_and_refuses_501() -> None:
    fake = FakeMailchimp()
    with fake.running():
        assert _upsert(_people(501)).status_code == 400
        assert fake.contacts[LIST_ID] == {}
        ok = _upsert(_people(500))
    assert ok.status_code == 200 and ok.json()["total_created"] == 500
    assert fake.request_sizes == [500]


def test_segment_changes_take_500_and_refuse_501() -> None:
    fake = FakeMailchimp()
    seg = fake.add_segment(LIST_ID, "vip")
    emails = [f"p{i}@example.org" for i in range(501)]
    for e in emails:
        fake.put_contact(LIST_ID, e, "subscribed")
    url = f"{BASE}/lists/{LIST_ID}/segments/{seg}"
    with fake.running():
        assert requests.post(url, json={"members_to_add": emails}, auth=AUTH).status_code == 400
        assert requests.post(url, json={"members_to_remove": emails}, auth=AUTH).status_code == 400
        assert requests.post(url, json={"members_to_add": emails[:500]}, auth=AUTH).json()["total_added"] == 500
    assert len(fake.tagged(LIST_ID, "vip")) == 500


def test_an_unsubscribed_or_cleaned_contact_is_never_resubscribed() -> None:
    fake = FakeMailchimp()
    fake.put_contact(LIST_ID, "gone@example.org", "unsubscribed")
    fake.put_contact(LIST_ID, "bounced@example.org", "cleaned")
    fake.put_contact(LIST_ID, "fan@example.org", "subscribed")
    members = [
        {"email_address": e, "status": "subscribed"}
        for e in ("gone@example.org", "bounced@example.org", "fan@example.org")
    ]
    with fake.running():
        updating = _upsert(members, update=True).json()
        keeping = _upsert(members, update=False).json()
    assert {r["email_address"] for r in updating["errors"]} == {"gone@example.org", "bounced@example.org"}
    assert all("compliance state" in r["error"] for r in updating["errors"])
    assert {r["error_code"] for r in keeping["errors"]} == {"ERROR_CONTACT_EXISTS"}
    assert fake.status(LIST_ID, "gone@example.org") == "unsubscribed"
    assert fake.status(LIST_ID, "bounced@example.org") == "cleaned"


def test_a_status_is_required_and_forgotten_addresses_cannot_come_back() -> None:
    fake = FakeMailchimp()
    fake.forgotten[LIST_ID].add(md5("erased@example.org"))
    with fake.running():
        assert _upsert([{"email_address": "x@example.org", "status_if_new": "pending"}]).status_code == 400
        answer = _upsert([{"email_address": "erased@example.org", "status": "pending"}]).json()
    assert answer["error_count"] == 1 and "permanently deleted" in answer["errors"][0]["error"]
    assert fake.status(LIST_ID, "erased@example.org") is None


def test_wrong_key_is_401_and_unknown_list_is_404() -> None:
    fake = FakeMailchimp()
    with fake.running():
        assert requests.get(f"{BASE}/lists/{LIST_ID}", auth=("any", "nope-us21")).status_code == 401
        assert requests.get(f"{BASE}/lists/zzz", auth=AUTH).status_code == 404


def test_more_than_10_simultaneous_connections_get_429() -> None:
    fake = FakeMailchimp(latency=0.2)
    seg = fake.add_segment(LIST_ID, "vip")
    statuses: list[int] = []
    start = threading.Barrier(12)

    def call() -> None:
        start.wait()
        r = requests.delete(f"{BASE}/lists/{LIST_ID}/segments/{seg}/members/{'0' * 32}", auth=AUTH)
        statuses.append(r.status_code)

    with fake.running():
        threads = [threading.Thread(target=call) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert fake.max_in_flight == 12
    assert statuses.count(429) == 2 and statuses.count(404) == 10


def test_segments_are_paged() -> None:
    fake = FakeMailchimp()
    for i in range(25):
        fake.add_segment(LIST_ID, f"tag {i}")
    with fake.running():
        page = requests.get(f"{BASE}/lists/{LIST_ID}/segments", params={"count": 10, "offset": 20}, auth=AUTH).json()
    assert page["total_items"] == 25 and [s["name"] for s in page["segments"]] == [f"tag {i}" for i in range(20, 25)]


def test_faults_fire_the_given_number_of_times() -> None:
    fake = FakeMailchimp()
    fake.fail("GET", r"/lists/abc123$", 503, times=1)
    fake.lose_answers("POST", r"/lists/abc123$", times=1)
    with fake.running():
        assert requests.get(f"{BASE}/lists/{LIST_ID}", auth=AUTH).status_code == 503
        assert requests.get(f"{BASE}/lists/{LIST_ID}", auth=AUTH).status_code == 200
        with pytest.raises(requests.ConnectionError):
            _upsert(_people(1))
    assert fake.status(LIST_ID, "p0@example.org") == "pending"  # applied, answer lost
