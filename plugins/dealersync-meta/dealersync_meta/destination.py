"""Meta Custom Audiences (customer file) through the Marketing API.

Core has already normalized, hashed (SHA-256, lowercase hex) and deduplicated the members with
Meta's profiles; this class only speaks the API:

* ``ensure_audience``: the configured ``audience_id``, or the ad account's custom audience with
  the (templated) name, created (subtype ``CUSTOM``) if there is none; a name holding a flagged
  term, or an audience Meta reports flagged (``operation_status`` 471), stops here, before any
  upload (see :mod:`dealersync_meta.policy`);
* ``add`` / ``remove``: ``POST`` / ``DELETE /{audience_id}/users`` with the multi-key schema
  ``EMAIL, PHONE, FN, LN, CT, ST, ZIP, COUNTRY`` (``""`` for a missing key) and the upload
  ``session``; parameters as the official SDK sends them (:mod:`dealersync_meta.wire`): a form
  body for ``POST``, the URL query string for ``DELETE``, so a removal batch is cut into requests
  whose URL fits :data:`~dealersync_meta.wire.DELETE_URL_BYTES`, numbered on in the session;
* ``replace``: ``POST /{audience_id}/usersreplace``, batch by batch in one session;
* ``create_lookalike``: a ``LOOKALIKE`` audience seeded from a synced one, spec as the SDK's
  example (``{"type": "custom_ratio", "ratio": r, "country": c}``), with the special ad category
  warning.

The reference's parameter lists are those of the SDK's generated methods
(``facebook_business/adobjects/customaudience.py``: ``create_user``, ``delete_users``,
``create_users_replace`` take ``namespace``, ``payload``, ``session``;
``adobjects/adaccount.py``: ``create_custom_audience``).

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
    LookalikeCapable,
    MemberOutcome,
    ReadBack,
    RemoteAudience,
    TransientError,
)
from pydantic import Field, SecretStr, field_validator

from dealersync_meta.errors import TOKEN_FIX, AudienceGone, AudienceTooSmall, make_classifier
from dealersync_meta.policy import META_EXAMPLE_TERMS, SPECIAL_AD_CATEGORY_WARNING, flagged_term
from dealersync_meta.wire import DELETE_URL_BYTES, encode_params, query_string, split_rows_for_url

#: Meta's documented maximum of rows per ``/users`` request ("You can add an unlimited number of
#: records to an audience, but only a maximum of 10000 at a time": Marketing API, Custom Audiences).
MAX_ROWS = 10_000
#: ``operation_status.code`` of an audience Meta flagged (Custom Audience reference, Sept 2025).
FLAGGED_STATUS = 471
#: Code of the refusal recorded for removals Meta would not make (small audience).
TOO_SMALL = "meta:audience_too_small"
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
_AUDIENCE_FIELDS = "id,name,operation_status"
_READ_BACK_FIELDS = "id,approximate_count_lower_bound,approximate_count_upper_bound,operation_status"
_ACCOUNT = re.compile(r"^(act_)?(\d{1,20})$")
_VERSION = re.compile(r"^v\d{1,3}\.\d{1,2}$")
_TEMPLATE_FIELDS = {"audience": "x", "destination": "x"}
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


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
        " (removals travel in the URL and are cut smaller, see the README)"
    )
    flagged_name_terms: list[str] = Field(
        default_factory=lambda: list(META_EXAMPLE_TERMS),
        description="an audience whose Meta name holds one of these terms (whole words, any case) is"
        " stopped before any upload: Meta flags audiences whose names suggest a financial status or"
        " health condition; default: the examples Meta published (credit score, high income,"
        " arthritis, diabetes); add your own, e.g. \"negative equity\"",
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


class MetaCustomAudiences(AudienceDestination[MetaConfig], LookalikeCapable):
    """Meta Custom Audiences: find or create the audience, then add, remove or replace members."""

    name = "meta"
    channel = "ads"
    Config = MetaConfig
    identifiers: ClassVar[Mapping[str, str]] = {f: f"meta.{f}" for f in SCHEMA}
    limits = BatchLimits(rows=MAX_ROWS)
    min_members = 100  # Meta does not serve custom audiences under 100 people
    state_fields = tuple(SCHEMA)  # every field is a SHA-256 hex digest: no raw PII
    supports_replace = True

    def __init__(self, config: MetaConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        if config.batch_rows != type(self).limits.rows:
            self.limits = BatchLimits(
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
        self._delete_seq: dict[int, int] = {}  # removal session -> last batch_seq sent

    # --------------------------------------------------------------------------- contract
    def check(self) -> None:
        """The token is accepted and can see the ad account."""
        self.http.get(f"/{self.config.ad_account_id}", params={"fields": "id,name"})

    def check_config(self, audiences: tuple[str, ...] = ()) -> None:
        """No audience's Meta name holds a flagged term (before any data moves; the upload would
        stop there anyway). An existing audience_id's name is Meta's: checked when syncing."""
        if self.config.audience_id:
            return
        for audience in audiences:
            name = self.audience_name(audience)
            term = flagged_term(name, self.config.flagged_name_terms)
            if term is not None:
                raise ConfigError(
                    f"destinations.{self.context.instance}.audience_name: the Meta name {name!r} of audience"
                    f" {audience} contains {term!r}, a term Meta flags as suggesting a financial status or"
                    " health condition; expected a name without it (rename the audience or set audience_name),"
                    " or remove the term from flagged_name_terms if you have checked it"
                )

    def ensure_audience(self, name: str, description: str = "") -> RemoteAudience:
        if self.config.audience_id:
            found = self.http.request_json("GET", f"/{self.config.audience_id}", params={"fields": _AUDIENCE_FIELDS})
            remote = RemoteAudience(id=str(found.get("id") or self.config.audience_id), name=str(found.get("name") or name))
            self._refuse_flagged(remote.name, found)
            return remote
        wanted = self.audience_name(name)
        self._refuse_flagged(wanted)
        existing = self._find(wanted)
        if existing is not None:
            return existing
        body = {
            "name": wanted,
            "subtype": "CUSTOM",
            "customer_file_source": self.config.customer_file_source,
            "description": description or f"dealersync audience {name}",
        }
        self._refuse_flagged(body["description"], what="description")
        try:
            created = self.http_once.request_json(
                "POST", f"/{self.config.ad_account_id}/customaudiences", data=encode_params(body)
            )
        except TransientError:
            # the answer may have been lost after Meta created it: look before anyone creates a twin
            existing = self._find(wanted)
            if existing is not None:
                return existing
            raise
        self.context.logger.info("Meta: created custom audience %s in %s", created.get("id"), self.config.ad_account_id)
        return RemoteAudience(id=str(created["id"]), name=wanted, created=True)

    def add(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        return self._upload("POST", f"/{audience.id}/users", members, batch, "add")

    def remove(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        """``DELETE /{id}/users`` with the payload in the query string (the SDK's shape): the batch
        is cut into requests whose URL fits :data:`DELETE_URL_BYTES`, each the next ``batch_seq``
        of the session, the last flagged only on the core batch's last piece.

        When Meta refuses because the audience would fall under its minimum size, the rest of the
        batch is reported refused (``meta:audience_too_small``): the members stay in the sync
        state, the run's additions still go out (they may lift the audience over the floor), the
        refusal is counted and warned about, and the removals are tried again on the next run.
        """
        if not members:
            return []
        batch = batch or _single_batch(len(members))
        rows = _rows(members)
        url = f"{self.http.base_url.rstrip('/')}/{audience.id}/users"
        widest = BatchInfo(batch.session_id, 10**9, False, max(batch.estimated_total, 10**9))
        pieces = split_rows_for_url(url, lambda r: _params(r, widest), rows, DELETE_URL_BYTES)
        outcomes: list[MemberOutcome] = []
        for i, (start, end) in enumerate(pieces):
            seq = self._delete_seq[batch.session_id] = self._delete_seq.get(batch.session_id, 0) + 1
            piece = BatchInfo(batch.session_id, seq, batch.last and i == len(pieces) - 1, batch.estimated_total)
            try:
                outcomes += self._send("DELETE", f"/{audience.id}/users", members[start:end], rows[start:end], piece, "remove")
            except AudienceTooSmall as exc:
                refused = members[start:]
                self._bump("remove_refused_too_small", len(refused))
                self.context.logger.warning(
                    "%s; %d removal(s) are kept and tried again next run (add members, or use mode"
                    " 'replace' to rebuild the audience)", exc, len(refused),
                )
                return outcomes + [
                    MemberOutcome(str(m["member_key"]), False, TOO_SMALL, "Meta refused: the audience would be too small")
                    for m in refused
                ]
        return outcomes

    def replace(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        return self._upload("POST", f"/{audience.id}/usersreplace", members, batch, "replace")

    def read_back(self, audience: RemoteAudience) -> ReadBack:
        """The audience as Meta reports it: ``approximate_count_lower_bound`` / ``_upper_bound``
        and ``operation_status`` ({code, description}; 200 "Normal") of the Custom Audience
        (Marketing API reference, Custom Audience fields; the facebook-python-business-sdk's
        CustomAudience.Field lists the same names). Meta does not report the match rate of an
        upload after the session ends. An audience that does not exist any more is ``deleted``."""
        try:
            found = self.http.request_json("GET", f"/{audience.id}", params={"fields": _READ_BACK_FIELDS})
        except AudienceGone:
            return ReadBack(deleted=True)
        op = found.get("operation_status") if isinstance(found.get("operation_status"), dict) else {}
        code = _int(op.get("code"), 0)
        status = f"{code} {op.get('description') or ''}".strip() if op else None
        return ReadBack(
            size_lower=_size(found.get("approximate_count_lower_bound")),
            size_upper=_size(found.get("approximate_count_upper_bound")),
            status=status[:120] if status else None,
            healthy=code in (0, 200),
        )

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
        self._refuse_flagged(label)
        # The reference lists lookalike_spec.type "similarity" / "reach" *or* a ratio; the SDK's
        # examples send type "custom_ratio" with ratio and country
        # (facebook-python-business-sdk examples/AdAccountCustomAudiencesPostValueBasedLookalikeCustomAudience.py);
        # the SDK's shape is followed (docs/sync.md, "Where the sources disagree").
        body = {
            "name": label,
            "subtype": "LOOKALIKE",
            "origin_audience_id": audience.id,
            "lookalike_spec": {"type": "custom_ratio", "ratio": ratio, "country": country},
        }
        self.context.logger.warning(SPECIAL_AD_CATEGORY_WARNING)
        created = self.http_once.request_json(
            "POST", f"/{self.config.ad_account_id}/customaudiences", data=encode_params(body)
        )
        return RemoteAudience(id=str(created["id"]), name=label)

    def audience_name(self, name: str) -> str:
        return self.config.audience_name.format(audience=name, destination=self.context.instance)

    # --------------------------------------------------------------------------- internals
    def _find(self, name: str) -> RemoteAudience | None:
        matches: list[RemoteAudience] = []
        params: dict[str, Any] = {"fields": _AUDIENCE_FIELDS, "limit": _AUDIENCE_PAGE}
        while True:
            page = self.http.request_json("GET", f"/{self.config.ad_account_id}/customaudiences", params=params)
            for a in page.get("data", []):
                if a.get("name") == name:
                    self._refuse_flagged(name, a)
                    matches.append(RemoteAudience(id=str(a["id"]), name=name))
            after = (page.get("paging") or {}).get("cursors", {}).get("after")
            if not page.get("data") or not after or not (page.get("paging") or {}).get("next"):
                break
            params = {**params, "after": after}
        if len(matches) > 1:
            ids = ", ".join(m.id for m in matches)
            raise FatalError(
                f"Meta: {len(matches)} custom audiences in {self.config.ad_account_id} are named {name!r} ({ids});"
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
        return self._send(method, path, members, _rows(members), batch or _single_batch(len(members)), op)

    def _send(
        self, method: str, path: str, members: list[dict[str, Any]], rows: list[list[str]], batch: BatchInfo, op: str
    ) -> list[MemberOutcome]:
        """One request: the SDK's shape (query string for DELETE, form body otherwise)."""
        # encoded here, as requests would: its own encoding runs per character, seconds at 10,000 rows
        encoded = query_string(_params(rows, batch))
        if method == "DELETE":
            answer = self.http.request_json(method, path, params=encoded)
        else:
            answer = self.http.request_json(method, path, data=encoded, headers=_FORM)
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
        if op == "remove":
            self._bump("remove_requests", 1)  # removals are cut to fit the URL: how many it took
        if invalid:
            # Meta gives a count and a few samples, not which rows: the samples are never logged
            self.context.logger.warning(
                "Meta: %d of %d entries in %s batch %d of session %d were invalid (Meta does not say which)",
                invalid, len(members), op, batch.seq, batch.session_id,
            )
        return [MemberOutcome(str(m["member_key"]), accepted=True) for m in members]

    def _refuse_flagged(self, name: str, found: Mapping[str, Any] | None = None, what: str = "name") -> None:
        """Stop before any upload: a name holding a flagged term, or an audience Meta flagged."""
        term = flagged_term(name, self.config.flagged_name_terms)
        if term is not None:
            raise FatalError(
                f"Meta: the audience {what} {name!r} contains {term!r}, a term Meta flags as suggesting a"
                " financial status or health condition (a flagged audience cannot run ads and refuses"
                f" uploads); nothing was sent. Rename it (destinations.{self.context.instance}.audience_name"
                " or the audience), or remove the term from flagged_name_terms if you have checked it"
            )
        status = (found or {}).get("operation_status")
        if isinstance(status, Mapping) and _int(status.get("code"), 0) == FLAGGED_STATUS:
            raise FatalError(
                f"Meta: the custom audience {name!r} is flagged by Meta (operation_status {FLAGGED_STATUS}:"
                " it suggests information Meta's terms do not allow); nothing was sent. Appeal it in"
                " Audience Manager or sync into a new audience with another name"
            )

    def _bump(self, key: str, n: int) -> None:
        self._counts[key] = self._counts.get(key, 0) + n


def _rows(members: list[dict[str, Any]]) -> list[list[str]]:
    return [[_cell(m.get(f)) for f in SCHEMA] for m in members]


def _params(rows: list[list[str]], batch: BatchInfo) -> dict[str, Any]:
    """``payload`` and ``session`` of a ``/users`` request (Marketing API reference, Custom Audience
    Users; the SDK's ``CustomAudienceMixin.format_params``: ``schema``, ``is_raw``, ``data``)."""
    return {
        "payload": {"schema": list(SCHEMA.values()), "is_raw": True, "data": rows},
        "session": {
            "session_id": batch.session_id,
            "batch_seq": batch.seq,
            "last_batch_flag": batch.last,
            "estimated_num_total": max(batch.estimated_total, len(rows)),
        },
    }


def _single_batch(n: int) -> BatchInfo:
    return BatchInfo(session_id=_random.randbits(62) + 1, seq=1, last=True, estimated_total=n)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _size(value: Any) -> int | None:
    """A size bound; None when missing or negative (Meta answers -1 while it cannot estimate)."""
    n = _int(value, -1)
    return n if n >= 0 else None


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
