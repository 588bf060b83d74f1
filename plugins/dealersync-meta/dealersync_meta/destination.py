"""Meta Custom Audiences (customer file) through the Marketing API.

Core has already normalized, hashed (SHA-256, lowercase hex) and deduplicated the members with
Meta's profiles; this class only speaks the API:

* ``ensure_audience``: the configured ``audience_id``, or the ad account's custom audience with
  the (templated) name, created (subtype ``CUSTOM``) if there is none;
* ``add`` / ``remove``: ``POST`` / ``DELETE /{audience_id}/users`` with the multi-key schema
  ``EMAIL, PHONE, FN, LN, CT, ST, ZIP, COUNTRY`` (``""`` for a missing key) and the upload
  ``session`` from core's :class:`~dealersync.BatchInfo`; the payload travels in a JSON body,
  never in the URL;
* ``replace``: ``POST /{audience_id}/usersreplace``, batch by batch in one session;
* ``create_lookalike``: a ``LOOKALIKE`` audience seeded from a synced one.

Meta answers each upload with ``num_received`` and ``num_invalid_entries`` (plus a few samples of
invalid entries, never logged); an answer without ``num_received`` (an empty ``{}``, a proxy's
HTML page) fails the batch: nothing is counted as delivered. It does not say *which* rows were invalid, so every member of an
accepted request is reported accepted; the invalid count is summed into :meth:`platform_counts`
and logged as a warning (counts only).
"""

from __future__ import annotations

import re
import secrets as _random
from collections.abc import Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import requests
from dealersync import (
    AudienceDestination,
    BatchInfo,
    BatchLimits,
    ConfigError,
    ConnectorConfig,
    ConnectorContext,
    FatalError,
    HttpSession,
    MemberOutcome,
    RemoteAudience,
    TransientError,
)
from pydantic import Field, SecretStr, field_validator

from dealersync_meta.errors import TOKEN_FIX, make_classifier

#: Meta's documented maximum of rows per ``/users`` request.
MAX_ROWS = 10_000
#: Identifier field -> Meta multi-key schema column, in the order sent.
SCHEMA: dict[str, str] = {
    "email": "EMAIL",
    "phone": "PHONE",
    "fn": "FN",
    "ln": "LN",
    "ct": "CT",
    "st": "ST",
    "zip": "ZIP",
    "country": "COUNTRY",
}
_AUDIENCE_PAGE = 200
_ACCOUNT = re.compile(r"^(act_)?(\d{1,20})$")
_VERSION = re.compile(r"^v\d{1,3}\.\d{1,2}$")
_TEMPLATE_FIELDS = {"audience": "x", "destination": "x"}


class MetaConfig(ConnectorConfig):
    ad_account_id: str = Field(
        description="the ad account that owns the audiences, 'act_' followed by digits (bare digits are accepted)"
    )
    access_token: SecretStr = Field(
        description="a system-user access token with ads_management for the ad account; write it as"
        ' { keyring = "NAME" } (`dealersync secrets set NAME`) or { env = "VAR" }'
    )
    audience_id: str | None = Field(
        None, description="sync into this existing custom audience id instead of finding or creating one by name"
    )
    audience_name: str = Field(
        "{audience}",
        description="name of the custom audience to find or create; {audience} (the dealersync"
        " audience name) and {destination} (this destination's name) are filled in",
    )
    customer_file_source: Literal[
        "USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"
    ] = Field(
        "USER_PROVIDED_ONLY",
        description="where the customer data came from, as Meta asks when creating the audience:"
        " USER_PROVIDED_ONLY (your customers gave it to you), PARTNER_PROVIDED_ONLY, BOTH_USER_AND_PARTNER_PROVIDED",
    )
    api_version: str = Field("v25.0", description="Marketing API version, e.g. 'v25.0'")
    base_url: str = Field(
        "https://graph.facebook.com", description="Graph API base URL (change it for a proxy or a local test server)"
    )
    batch_rows: int = Field(
        MAX_ROWS, ge=1, le=MAX_ROWS, description="members per upload request; Meta takes at most 10,000"
    )

    @field_validator("ad_account_id")
    @classmethod
    def _account(cls, value: str) -> str:
        m = _ACCOUNT.match(value.strip())
        if not m:
            raise ValueError("an ad account id such as 'act_1234567890'")
        return f"act_{m.group(2)}"

    @field_validator("audience_id")
    @classmethod
    def _audience_id(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().isdigit():
            raise ValueError("a custom audience id: digits only")
        return value.strip() if value is not None else None

    @field_validator("audience_name")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            name = value.format(**_TEMPLATE_FIELDS)
        except (KeyError, IndexError, ValueError):
            raise ValueError("a name using only the placeholders {audience} and {destination}") from None
        if not name.strip():
            raise ValueError("a non-empty name")
        return value

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError("a version such as 'v25.0'")
        return value

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.username:
            raise ValueError("an http(s) URL such as 'https://graph.facebook.com'")
        return value.rstrip("/")


class MetaCustomAudiences(AudienceDestination):
    """Meta Custom Audiences: find or create the audience, then add, remove or replace members."""

    name = "meta"
    channel = "ads"
    Config = MetaConfig
    identifiers: ClassVar[Mapping[str, str]] = {f: f"meta.{f}" for f in SCHEMA}
    limits: ClassVar[BatchLimits] = BatchLimits(rows=MAX_ROWS)
    min_members = 100  # Meta does not serve custom audiences under 100 people
    state_fields = tuple(SCHEMA)  # every field is a SHA-256 hex digest: no raw PII
    supports_replace = True

    def __init__(self, config: MetaConfig, context: ConnectorContext) -> None:  # type: ignore[override]
        super().__init__(config, context)
        self.cfg = config
        if config.batch_rows != type(self).limits.rows:
            self.limits = BatchLimits(  # type: ignore[misc]
                rows=min(config.batch_rows, type(self).limits.rows),
                bytes=type(self).limits.bytes,
                identifiers_per_member=type(self).limits.identifiers_per_member,
            )
        token = config.access_token.get_secret_value()
        base = f"{config.base_url}/{config.api_version}"
        classifier = make_classifier(_where, token)
        headers = {"Authorization": f"Bearer {token}"}
        hint = TOKEN_FIX.removeprefix("the Meta access token was refused; ")
        self.http = HttpSession("Meta", base_url=base, headers=headers, classifier=classifier, credential_hint=hint)
        # creating an audience is not idempotent: sent once, never retried blindly (see ensure_audience)
        self.http_once = HttpSession(
            "Meta", base_url=base, headers=headers, classifier=classifier, credential_hint=hint, max_attempts=1
        )
        self._counts: dict[str, int] = {}

    # --------------------------------------------------------------------------- contract
    def check(self) -> None:
        """The token is accepted and can see the ad account."""
        self.http.get(f"/{self.cfg.ad_account_id}", params={"fields": "id,name"})

    def ensure_audience(self, name: str, description: str = "") -> RemoteAudience:
        if self.cfg.audience_id:
            found = self.http.request_json("GET", f"/{self.cfg.audience_id}", params={"fields": "id,name"})
            return RemoteAudience(id=str(found.get("id") or self.cfg.audience_id), name=str(found.get("name") or name))
        wanted = self.audience_name(name)
        existing = self._find(wanted)
        if existing is not None:
            return existing
        body = {
            "name": wanted,
            "subtype": "CUSTOM",
            "customer_file_source": self.cfg.customer_file_source,
            "description": description or f"dealersync audience {name}",
        }
        try:
            created = self.http_once.request_json("POST", f"/{self.cfg.ad_account_id}/customaudiences", json=body)
        except TransientError:
            # the answer may have been lost after Meta created it: look before anyone creates a twin
            existing = self._find(wanted)
            if existing is not None:
                return existing
            raise
        self.context.logger.info("Meta: created custom audience %s in %s", created.get("id"), self.cfg.ad_account_id)
        return RemoteAudience(id=str(created["id"]), name=wanted)

    def add(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        return self._upload("POST", f"/{audience.id}/users", members, batch, "add")

    def remove(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        return self._upload("DELETE", f"/{audience.id}/users", members, batch, "remove")

    def replace(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        return self._upload("POST", f"/{audience.id}/usersreplace", members, batch, "replace")

    def platform_counts(self) -> Mapping[str, int]:
        return dict(self._counts)

    # ------------------------------------------------------------------------------ extras
    def create_lookalike(
        self, audience: RemoteAudience, *, country: str, ratio: float, name: str | None = None
    ) -> RemoteAudience:
        """A lookalike audience of people in ``country`` resembling ``audience`` (``ratio`` 0.01-0.20
        of the country's population). Meta fills it in 1 to 6 hours."""
        country = country.strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ConfigError(f"lookalike country: found {country!r}, expected an ISO 3166 two-letter code such as 'US'")
        if not 0.01 <= ratio <= 0.20:
            raise ConfigError(f"lookalike ratio: found {ratio!r}, expected a share from 0.01 to 0.20")
        label = name or f"{audience.name} lookalike {country} {ratio:.0%}"
        body = {
            "name": label,
            "subtype": "LOOKALIKE",
            "origin_audience_id": audience.id,
            "lookalike_spec": {"type": "custom_ratio", "ratio": ratio, "country": country},
        }
        created = self.http_once.request_json("POST", f"/{self.cfg.ad_account_id}/customaudiences", json=body)
        return RemoteAudience(id=str(created["id"]), name=label)

    def audience_name(self, name: str) -> str:
        return self.cfg.audience_name.format(audience=name, destination=self.context.instance)

    # --------------------------------------------------------------------------- internals
    def _find(self, name: str) -> RemoteAudience | None:
        matches: list[RemoteAudience] = []
        params: dict[str, Any] = {"fields": "id,name", "limit": _AUDIENCE_PAGE}
        while True:
            page = self.http.request_json("GET", f"/{self.cfg.ad_account_id}/customaudiences", params=params)
            matches += [
                RemoteAudience(id=str(a["id"]), name=name) for a in page.get("data", []) if a.get("name") == name
            ]
            after = (page.get("paging") or {}).get("cursors", {}).get("after")
            if not page.get("data") or not after or not (page.get("paging") or {}).get("next"):
                break
            params = {**params, "after": after}
        if len(matches) > 1:
            ids = ", ".join(m.id for m in matches)
            raise FatalError(
                f"Meta: {len(matches)} custom audiences in {self.cfg.ad_account_id} are named {name!r} ({ids});"
                " set audience_id in the destination's config to choose one"
            )
        return matches[0] if matches else None

    def _upload(
        self, method: str, path: str, members: list[dict[str, Any]], batch: BatchInfo | None, op: str
    ) -> list[MemberOutcome]:
        if not members:
            return []
        if len(members) > MAX_ROWS:
            raise FatalError(f"Meta: {len(members)} members in one request; Meta takes at most {MAX_ROWS}")
        if batch is None:
            batch = BatchInfo(session_id=_random.randbits(62) + 1, seq=1, last=True, estimated_total=len(members))
        body = {
            "payload": {
                "schema": list(SCHEMA.values()),
                "is_raw": True,
                "data": [[_cell(m.get(f)) for f in SCHEMA] for m in members],
            },
            "session": {
                "session_id": batch.session_id,
                "batch_seq": batch.seq,
                "last_batch_flag": batch.last,
                "estimated_num_total": max(batch.estimated_total, len(members)),
            },
        }
        answer = self.http.request_json(method, path, json=body)
        received = _int(answer.get("num_received"), -1)
        if received < 0:
            # an answer without num_received does not prove Meta stored anything (a {} or a proxy's
            # page answered 200): nothing of the batch counts as done, and it is sent again next run
            raise FatalError(
                f"Meta: {op} batch {batch.seq} of session {batch.session_id} answered without num_received;"
                " not counted as delivered"
            )
        invalid = _int(answer.get("num_invalid_entries"), 0)
        self._bump(f"{op}_received", received)
        self._bump("num_received", received)
        self._bump("num_invalid_entries", invalid)
        if invalid:
            # Meta gives a count and a few samples, not which rows: the samples are never logged
            self.context.logger.warning(
                "Meta: %d of %d entries in %s batch %d of session %d were invalid (Meta does not say which)",
                invalid, len(members), op, batch.seq, batch.session_id,
            )
        return [MemberOutcome(str(m["member_key"]), accepted=True) for m in members]

    def _bump(self, key: str, n: int) -> None:
        self._counts[key] = self._counts.get(key, 0) + n


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _where(response: requests.Response) -> str:
    req = response.request
    parts = urlsplit(req.url or "")
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"Meta: {req.method} {parts.scheme}://{host}{parts.path}"


__all__ = ["MAX_ROWS", "SCHEMA", "MetaConfig", "MetaCustomAudiences"]
