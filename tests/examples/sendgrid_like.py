"""A SendGrid-shaped destination, the worked example of platform ids (docs/plugins.md).

Built from SendGrid's documented Marketing Campaigns API (docs.sendgrid.com, v3):

* ``PUT /v3/marketing/contacts`` with ``list_ids`` and ``contacts`` ([{"email"}]) adds or updates
  contacts asynchronously and answers 202 with a ``job_id`` ("Add or Update a Contact");
* ``POST /v3/marketing/contacts/search/emails`` with ``emails`` (at most 100) answers each found
  contact's ``id`` under ``result``; it answers **404** when none of the emails matched ("Get
  Contacts by Emails"), which the add declares a normal answer (:class:`NormalAnswer`);
* ``DELETE /v3/marketing/lists/{id}/contacts?contact_ids=a,b`` takes contacts off a list by their
  **ids** ("Remove Contacts from a List"), 202.

A removal needs SendGrid's contact id, and the sync state keeps no raw email: the add looks the
ids up and returns them as :attr:`MemberOutcome.platform_id`; core keeps them and hands them back
to :meth:`remove`. A contact SendGrid has not indexed yet (the upsert is asynchronous) is not
counted as delivered: it is sent again, and looked up again, next run.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import responses
from dealersync import (
    AudienceDestination,
    BatchInfo,
    BatchLimits,
    ConnectorConfig,
    HttpSession,
    MemberOutcome,
    NormalAnswer,
    RemoteAudience,
)
from pydantic import Field, SecretStr
from requests import PreparedRequest

DEALERSYNC_API = ">=1.0,<2"  # the plugin API versions this example is written for
SEARCH_MAX = 100  # "Get Contacts by Emails": up to 100 emails a request
#: "Get Contacts by Emails" answers 404 when none of the emails matched
#: (https://www.twilio.com/docs/sendgrid/api-reference/contacts/get-contacts-by-emails): an answer,
#: not an error. SendGrid does not document that 404's body; the body check asks only for a JSON
#: object with ``errors`` (SendGrid's error shape), so a proxy's HTML 404 for a wrong base_url
#: still fails the request.
NONE_MATCHED = NormalAnswer(404, body=lambda body: isinstance(body, dict) and "errors" in body)
BASE = "https://api.sendgrid.fake.test"
API_KEY = "SG.fake-key-Ab12"


class SendGridLikeConfig(ConnectorConfig):
    api_key: SecretStr = Field(description='API key: { keyring = "NAME" } or { env = "VAR" }.')
    list_id: str = Field(description="The Marketing Campaigns list the audience is kept in.")
    base_url: str = Field(BASE, description="API root.")


class SendGridLike(AudienceDestination):
    name = "sendgrid-like"
    channel = "email"
    identifiers: ClassVar[Mapping[str, str]] = {"email": "mailchimp.email", "subscriber_hash": "mailchimp.subscriber_hash"}
    state_fields = ("subscriber_hash",)  # no raw email in the state: removals go by contact id
    limits = BatchLimits(rows=SEARCH_MAX)  # one id lookup a batch
    Config = SendGridLikeConfig

    def __init__(self, config: SendGridLikeConfig, context: Any) -> None:  # type: ignore[override]
        super().__init__(config, context)
        self.cfg = config
        self.http = HttpSession("SendGrid", base_url=config.base_url,
                                headers={"Authorization": f"Bearer {config.api_key.get_secret_value()}"})

    def ensure_audience(self, name: str, description: str = "") -> RemoteAudience:
        return RemoteAudience(self.cfg.list_id, name)

    def add(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None) -> list[MemberOutcome]:
        contacts = [{"email": m["email"]} for m in members if m.get("email")]
        if contacts:
            self.http.request("PUT", "/v3/marketing/contacts", json={"list_ids": [audience.id], "contacts": contacts})
        ids = self._ids([c["email"] for c in contacts])
        return [
            MemberOutcome(m["member_key"], True, platform_id=ids[m["email"]]) if m.get("email") in ids
            else MemberOutcome(m["member_key"], False, "sendgrid:not_indexed", "SendGrid has not indexed the contact yet")
            for m in members
        ]

    def remove(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None) -> list[MemberOutcome]:
        ids = [m["platform_id"] for m in members if m.get("platform_id")]
        if ids:
            self.http.request("DELETE", f"/v3/marketing/lists/{audience.id}/contacts", params={"contact_ids": ",".join(ids)})
        return [
            MemberOutcome(m["member_key"], bool(m.get("platform_id")),
                          None if m.get("platform_id") else "no_platform_id", None)
            for m in members
        ]

    def _ids(self, emails: list[str]) -> dict[str, str]:
        """Contact ids by email, 100 emails a search; a 404 means none matched."""
        found: dict[str, str] = {}
        for i in range(0, len(emails), SEARCH_MAX):
            response = self.http.post("/v3/marketing/contacts/search/emails", json={"emails": emails[i : i + SEARCH_MAX]},
                                      normal=(NONE_MATCHED,))
            if response.status_code == 404:
                continue
            for email, hit in (response.json().get("result") or {}).items():
                contact = hit.get("contact") if isinstance(hit, dict) else None
                if contact and contact.get("id"):
                    found[email] = str(contact["id"])
        return found


class FakeSendGrid:
    """The three endpoints above, enforcing their documented limits and shapes."""

    def __init__(self) -> None:
        self.contacts: dict[str, str] = {}  # email -> contact id
        self.lists: dict[str, set[str]] = {"list-1": set()}  # list id -> contact ids
        self.deletes: list[list[str]] = []
        self.unindexed: set[str] = set()  # emails the next search does not find yet
        self._ids = itertools.count(1)

    def register(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback("PUT", f"{BASE}/v3/marketing/contacts", callback=self._upsert)
        rsps.add_callback("POST", f"{BASE}/v3/marketing/contacts/search/emails", callback=self._search)
        rsps.add_callback("DELETE", re.compile(re.escape(BASE) + r"/v3/marketing/lists/([^/?]+)/contacts(\?.*)?$"),
                          callback=self._remove)

    def held(self, list_id: str = "list-1") -> set[str]:
        emails = {cid: e for e, cid in self.contacts.items()}
        return {emails[c] for c in self.lists[list_id]}

    def _upsert(self, request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        assert set(body) <= {"list_ids", "contacts"}, body
        for c in body["contacts"]:
            cid = self.contacts.setdefault(c["email"], f"c-{next(self._ids)}")
            for lid in body["list_ids"]:
                self.lists[lid].add(cid)
        return 202, {}, json.dumps({"job_id": "job-1"})

    def _search(self, request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        emails = json.loads(request.body or b"{}")["emails"]
        if len(emails) > SEARCH_MAX:
            return 400, {}, json.dumps({"errors": [{"field": "emails", "message": "at most 100 emails"}]})
        result = {e: {"contact": {"id": self.contacts[e], "email": e}} for e in emails
                  if e in self.contacts and e not in self.unindexed}
        self.unindexed.clear()
        if not result:
            return 404, {}, json.dumps({"errors": [{"message": "No contacts found"}]})
        return 200, {}, json.dumps({"result": result})

    def _remove(self, request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        lid = urlsplit(request.url or "").path.split("/")[4]
        ids = parse_qs(urlsplit(request.url or "").query)["contact_ids"][0].split(",")
        self.deletes.append(ids)
        self.lists[lid] -= set(ids)
        return 202, {}, json.dumps({"job_id": "job-2"})
