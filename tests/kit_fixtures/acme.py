"""Acme Ads: a small ad-platform destination written the way a vendor writes one from
docs/plugins.md, and the vendor's fake of the platform. The other modules here are copies of it
with one mistake each; ``tests/test_kit_catches.py`` shows the kit catches every one by name.

Acme's API is invented for these tests: ``POST /audiences`` {name} -> {id} (the existing
audience of that name when there is one); ``POST`` and ``DELETE /audiences/{id}/members``
{members: [{email, phone, fn, ln}]} -> {errors: [{index, code}]}; the email and names travel
plain (Acme mails them), the phone as a SHA-256 digest; at most 500 members and 131,072 bytes
(128 KiB) of body a request, more is a 413; a Bearer token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import responses
from dealersync import (
    AudienceDestination,
    BatchInfo,
    BatchLimits,
    ConnectorConfig,
    HttpSession,
    MemberOutcome,
    Profile,
    RemoteAudience,
    get_profile,
    hookimpl,
    register_profile,
)
from dealersync.testing import FakePlatform
from pydantic import Field, SecretStr
from requests import PreparedRequest

DEALERSYNC_API = ">=1.0,<2"

BASE = "https://api.acme-ads.test/v1"
TOKEN = "acme-kit-token-5f1d9e"
MAX_MEMBERS = 500
MAX_BODY = 131_072

log = logging.getLogger("acme_ads")


def _plain(column: str) -> Any:
    return lambda ctx: f"nullif(trim({ctx.col(column)}), '')"


register_profile(Profile("acme_ads.email", ("email",), get_profile("meta.email").sql, hashed=False, match_key=True,
                         description="email, plain (core's email rule)"))
register_profile(Profile("acme_ads.first_name", ("first_name",), _plain("first_name"), hashed=False,
                         description="first name, plain, trimmed"))
register_profile(Profile("acme_ads.last_name", ("last_name",), _plain("last_name"), hashed=False,
                         description="last name, plain, trimmed"))


class AcmeConfig(ConnectorConfig):
    access_token: SecretStr = Field(description='Acme API token: { keyring = "NAME" } or { env = "VAR" }')
    base_url: str = Field(BASE, description="Acme API root")


class AcmeAds(AudienceDestination):
    """An Acme audience kept in sync."""

    name = "acme-ads"
    channel = "ads"
    identifiers: ClassVar[Mapping[str, str]] = {
        "email": "acme_ads.email", "phone": "meta.phone", "fn": "acme_ads.first_name", "ln": "acme_ads.last_name",
    }
    # Acme takes 500 members and 128 KiB a request: the members' bytes leave room for the envelope
    limits = BatchLimits(rows=MAX_MEMBERS, bytes=MAX_BODY - 8_192)
    Config = AcmeConfig

    def __init__(self, config: AcmeConfig, context: Any) -> None:  # type: ignore[override]
        super().__init__(config, context)
        self.token = config.access_token.get_secret_value()
        self.http = HttpSession("Acme", base_url=config.base_url, headers={"Authorization": f"Bearer {self.token}"})

    def ensure_audience(self, name: str, description: str = "") -> RemoteAudience:
        found = self.http.request_json("POST", "/audiences", json={"name": name})
        return RemoteAudience(str(found["id"]), name)

    def add(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None) -> list[MemberOutcome]:
        return self._send("POST", audience, members)

    def remove(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None) -> list[MemberOutcome]:
        return self._send("DELETE", audience, members)

    def _send(self, method: str, audience: RemoteAudience, members: list[dict[str, Any]]) -> list[MemberOutcome]:
        rows = [{f: m.get(f) for f in self.identifiers} for m in members]
        # compact UTF-8, as core counts the bytes (requests' json= would write é as \u00e9: 6 bytes)
        body = json.dumps({"members": rows}, ensure_ascii=False, separators=(",", ":")).encode()
        answer = self.http.request_json(method, f"/audiences/{audience.id}/members", data=body,
                                        headers={"Content-Type": "application/json"})
        refused = {e.get("index"): str(e.get("code")) for e in answer.get("errors") or [] if isinstance(e, dict)}
        if refused:
            log.warning("Acme refused %d of %d members", len(refused), len(members))
        return [
            MemberOutcome(m["member_key"], False, f"acme:{refused[i]}", "Acme refused the member")
            if i in refused else MemberOutcome(m["member_key"], True)
            for i, m in enumerate(members)
        ]


class FakeAcme(FakePlatform):
    """Acme as a small model: audiences, members, refusals, its limits (a 413 past them)."""

    base_url = BASE
    max_rows = MAX_MEMBERS
    max_body_bytes = MAX_BODY

    def register(self, rsps: responses.RequestsMock) -> None:
        self.route(rsps, "POST", "/audiences", self.create)
        self.route(rsps, "POST", "/audiences/{list_id}/members", self.add)
        self.route(rsps, "DELETE", "/audiences/{list_id}/members", self.remove)

    def create(self, request: PreparedRequest, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"id": self.find_list(body["name"]) or self.new_list(body["name"])}

    def add(self, request: PreparedRequest, body: dict[str, Any], list_id: str) -> tuple[int, Any]:
        rows = body["members"]
        if too_big := self._too_big(request, rows):
            return too_big
        errors = [{"index": i, "code": "INVALID"} for i, r in enumerate(rows) if self.rejects(r)]
        self.add_members(list_id, [r for r in rows if not self.rejects(r)])
        return 200, {"errors": errors}

    def remove(self, request: PreparedRequest, body: dict[str, Any], list_id: str) -> tuple[int, Any]:
        rows = body["members"]
        if too_big := self._too_big(request, rows):
            return too_big
        self.remove_members(list_id, rows)
        return 200, {"errors": []}

    def _too_big(self, request: PreparedRequest, rows: list[Any]) -> tuple[int, Any] | None:
        self.record_batch(len(rows))
        size = len(request.body or b"")
        if len(rows) > MAX_MEMBERS or size > MAX_BODY:
            return 413, {"error": f"at most {MAX_MEMBERS} members and {MAX_BODY} bytes a request"}
        return None


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [AcmeAds]
