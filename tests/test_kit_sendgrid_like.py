"""The SendGrid-shaped example plugin (tests/examples/sendgrid_like.py) passes the whole kit,
removals by platform id at scale included. The example's fake (``FakeSendGrid``) is wrapped as a
kit platform here: the three endpoints, the request sizes, the list read back."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dealersync_mailchimp  # noqa: F401 - registers the mailchimp.* profiles the example's identifiers use
import responses
from dealersync import hookimpl
from dealersync.testing import DestinationConformance, FakePlatform
from requests import PreparedRequest

sys.path.insert(0, str(Path(__file__).parent / "examples"))
from sendgrid_like import API_KEY, BASE, SEARCH_MAX, FakeSendGrid, SendGridLike  # noqa: E402

PLUGIN = types.ModuleType("sendgrid_like_plugin")
PLUGIN.dealersync_register_destinations = hookimpl(lambda: [SendGridLike])  # type: ignore[attr-defined]

Callback = Callable[[PreparedRequest], tuple[int, dict[str, str], str]]


class FakeSendGridPlatform(FakePlatform):
    """``FakeSendGrid`` as the kit reads a platform. A contact the kit tells the platform to refuse
    is dropped by the asynchronous upsert job, as SendGrid drops an invalid one: the search does
    not find it, and the plugin reports it not delivered."""

    base_url = BASE
    max_rows = SEARCH_MAX  # "Get Contacts by Emails": at most 100 emails a search
    #: "Add or Update a Contact": "up to 30,000 contacts, or 6MB of data, whichever is lower"
    #: (https://www.twilio.com/docs/sendgrid/api-reference/contacts/add-or-update-a-contact)
    max_body_bytes = 6_000_000

    def __init__(self) -> None:
        super().__init__()
        self.sendgrid = FakeSendGrid()

    def register(self, rsps: responses.RequestsMock) -> None:
        inner = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.sendgrid.register(inner)
        callbacks = {(r.method, r.url.pattern if hasattr(r.url, "pattern") else r.url): r.callback
                     for r in inner.registered()}
        upsert = callbacks[("PUT", f"{BASE}/v3/marketing/contacts")]
        search = callbacks[("POST", f"{BASE}/v3/marketing/contacts/search/emails")]
        remove = next(cb for (method, _), cb in callbacks.items() if method == "DELETE")
        self._routes += [
            rsps.add_callback("PUT", f"{BASE}/v3/marketing/contacts", callback=self._upsert(upsert)),
            rsps.add_callback("POST", f"{BASE}/v3/marketing/contacts/search/emails",
                              callback=self._counted(search, lambda r: len(_json(r)["emails"]))),
            rsps.add_callback("DELETE", f"{BASE}/v3/marketing/lists/list-1/contacts",
                              callback=self._counted(remove, _contact_ids)),
        ]

    def _counted(self, callback: Callback, count: Callable[[PreparedRequest], int]) -> Callback:
        def counted(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
            self.record_batch(count(request))
            return callback(request)

        return counted

    def _upsert(self, callback: Callback) -> Callback:
        def upsert(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
            body = _json(request)
            self.record_batch(len(body["contacts"]))
            refused = {c["email"] for c in body["contacts"] if self.rejects(c)}
            status, headers, answer = callback(request)
            for email in refused:  # the job drops it: it never becomes a contact
                cid = self.sendgrid.contacts.pop(email)
                for held in self.sendgrid.lists.values():
                    held.discard(cid)
            return status, headers, answer

        return upsert

    def members(self, list_id: str) -> list[dict[str, Any]]:
        return [{"email": e, "subscriber_hash": hashlib.md5(e.encode()).hexdigest()} for e in self.sendgrid.held(list_id)]


def _json(request: PreparedRequest) -> Any:
    return json.loads(request.body or b"{}")


def _contact_ids(request: PreparedRequest) -> int:
    return len(parse_qs(urlsplit(request.url or "").query)["contact_ids"][0].split(","))


class TestSendGridLikeConformance(DestinationConformance):
    connector = SendGridLike
    config = {"api_key": API_KEY, "list_id": "list-1"}
    platform = FakeSendGridPlatform
    plugin = PLUGIN
