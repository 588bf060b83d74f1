"""Update in place (issue 16, deliver 4): Mailchimp merge fields are attributes. A changed first
name reaches the contact's FNAME through one ``PATCH /lists/{list_id}/members/{subscriber_hash}``
(Marketing API reference, "Update list member") with no removal; an unchanged member is not sent;
the state keeps a hash of the names, never the names. And an answer that does not prove
acceptance is never counted as delivered."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from dealersync_mailchimp_fake import LIST_ID, FakeMailchimp, md5

# test_sync.py's Dealer, under a name of its own (other plugins' tests have a test_sync module too)
_spec = importlib.util.spec_from_file_location("mailchimp_test_sync", Path(__file__).with_name("test_sync.py"))
assert _spec is not None and _spec.loader is not None
_sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sync)
Dealer, customer = _sync.Dealer, _sync.customer
_no_waiting, dealer, fake = _sync._no_waiting, _sync.dealer, _sync.fake  # fixtures


def test_a_changed_first_name_reaches_the_merge_field_with_one_request(dealer: Dealer, fake: FakeMailchimp) -> None:
    rows = [customer(i) for i in range(30)]
    dealer.write(rows)
    assert dealer.sync().added == 30
    requests_before, upserts_before = len(fake.calls), len(fake.upsert_bodies)
    rows[4] = {**rows[4], "first_name": "Renamed"}
    dealer.write(rows)
    res = dealer.sync()
    assert (res.status, res.added, res.removed, res.updated, res.unchanged) == ("ok", 0, 0, 1, 29)
    contact = fake.contacts[LIST_ID][md5(rows[4]["email"])]
    assert contact["merge_fields"]["FNAME"] == "Renamed" and contact["status"] == "pending"
    assert fake.patches == [{"merge_fields": {"FNAME": "Renamed", "LNAME": "Person4"}}]
    writes = [c for c in fake.calls[requests_before:] if not c.startswith("GET")]  # GETs: check, find, read-back
    assert writes == ["PATCH /lists/{list_id}/members/{hash}"] and len(fake.upsert_bodies) == upserts_before
    assert dealer.tagged() == {r["email"].lower() for r in rows}  # nobody removed
    again = dealer.sync()
    assert (again.updated, again.added, again.unchanged, len(fake.patches)) == (0, 0, 30, 1)  # not re-sent
    state = dealer.table("SELECT payload, fingerprint FROM _sync_state")
    assert len(state) == 30 and all("Renamed" not in str(r) and "Person" not in str(r) for r in state)  # hashes only


@pytest.mark.parametrize("path", [r"/lists/[^/]+$", r"/segments/\d+$"])
def test_an_answer_that_does_not_prove_acceptance_is_not_delivered(dealer: Dealer, fake: FakeMailchimp, path: str) -> None:
    """Issue 13 / 16: a 200 without the documented fields (``total_created`` and ``errors`` of
    "Batch subscribe or unsubscribe"; ``members_added`` and ``total_added`` of "Add or remove
    member from static segment") counts nobody as delivered; the next run sends them again."""
    rows = [customer(i) for i in range(12)]
    dealer.write(rows)
    fake.fail("POST", path, 200, body={})
    res = dealer.sync()
    assert (res.added, res.rejected, res.rejections) == (0, 12, {"mailchimp:no_proof": 12})
    again = dealer.sync()
    assert (again.status, again.added) == ("ok", 12)
    assert dealer.tagged() == {r["email"].lower() for r in rows}
