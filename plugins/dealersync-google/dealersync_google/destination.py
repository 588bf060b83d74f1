"""Google Customer Match through the Google Data Manager API.

The Google Ads API stopped taking new Customer Match users on 2026-04-01, so members go through
the Data Manager API: ``POST /v1/audienceMembers:ingest`` and ``POST /v1/audienceMembers:remove``
with SHA-256 hex identifiers (core normalizes and hashes them with the ``google.*`` profiles).

Auth is OAuth 2.0 with a refresh token: an access token is fetched from the token endpoint before
the first request and again, once, when the API answers 401. The user list is taken from config
(the Data Manager list-creation path is not verified): create the Customer Match list in Google
Ads and paste its id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import requests
from dealersync import (
    AudienceDestination,
    AuthError,
    BatchInfo,
    BatchLimits,
    ConfigError,
    ConnectorConfig,
    ConnectorContext,
    FatalError,
    HttpSession,
    MemberOutcome,
    RateLimit,
    ReadBack,
    RemoteAudience,
    RequestStatus,
    TransientError,
)
from pydantic import Field, SecretStr, field_validator

ConsentStatus = Literal["CONSENT_GRANTED", "CONSENT_DENIED", "CONSENT_STATUS_UNSPECIFIED"]

DEFAULT_BASE_URL = "https://datamanager.googleapis.com"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/datamanager"

#: Rounds of "drop the members Google named, send the rest" for one batch before giving up.
MAX_REJECTION_ROUNDS = 10

_MEMBER_INDEX = re.compile(r"audience_?members\[(\d+)\]", re.IGNORECASE)
_REASON = re.compile(r"^[A-Z][A-Z0-9_]{0,80}$")

CREATE_LIST_HELP = (
    "create a Customer Match list in Google Ads (Tools > Shared library > Audience manager >"
    " + > Customer list, \"Upload emails, phones and/or mailing addresses\"; a list can start"
    " empty), open it, copy its id (the number after 'userListId=' in the address bar or in the"
    " list's details) and set user_list_id = \"<id>\" (or user_lists = { <audience> = \"<id>\" })"
)


def _customer_id(value: str | None, key: str) -> str | None:
    """A Google Ads customer id without hyphens (``123-456-7890`` -> ``1234567890``)."""
    if value is None:
        return None
    digits = re.sub(r"[\s-]", "", str(value))
    if not re.fullmatch(r"\d{10}", digits):
        raise ValueError(f"{key} must be a 10-digit Google Ads customer id such as 123-456-7890")
    return digits


class GoogleConfig(ConnectorConfig):
    operating_account_id: str = Field(
        description="Google Ads customer id (10 digits) of the account that owns the Customer Match"
        " list; hyphens are accepted and removed (123-456-7890).",
    )
    login_account_id: str | None = Field(
        None,
        description="Manager (MCC) customer id the credential signs in through, when it is not a"
        " user of the operating account itself; hyphens removed.",
    )
    user_list_id: str | None = Field(
        None,
        description="Id of the Customer Match user list (the Data Manager productDestinationId)"
        " audiences go to. Create the list in Google Ads and paste its id.",
    )
    user_lists: dict[str, str] = Field(
        default_factory=dict,
        description="Per-audience user list ids ({ audience_name = \"list id\" }) when several"
        " audiences use this destination; an audience not named here uses user_list_id.",
    )
    ad_user_data: ConsentStatus = Field(
        "CONSENT_STATUS_UNSPECIFIED",
        description="Consent sent for every member: may their data be sent to Google for"
        " advertising. Default CONSENT_STATUS_UNSPECIFIED (asserts nothing; fine outside the EEA)."
        " Set CONSENT_GRANTED only if you hold that consent (required for EEA users).",
    )
    ad_personalization: ConsentStatus = Field(
        "CONSENT_STATUS_UNSPECIFIED",
        description="Consent sent for every member: may Google personalize ads for them. Default"
        " CONSENT_STATUS_UNSPECIFIED; CONSENT_GRANTED only if you hold that consent.",
    )
    client_id: str = Field(description="OAuth 2.0 client id of your Google Cloud project.")
    client_secret: SecretStr = Field(
        description="OAuth 2.0 client secret: { keyring = \"NAME\" } or { env = \"VAR\" }."
    )
    refresh_token: SecretStr = Field(
        description="OAuth 2.0 refresh token with the datamanager scope, kept in keyring:"
        " { keyring = \"NAME\" } (store it with `dealersync secrets set NAME`) or { env = \"VAR\" }.",
    )
    base_url: str = Field(DEFAULT_BASE_URL, description="Data Manager API root (change for a proxy or a test server).")
    oauth_url: str = Field(
        DEFAULT_TOKEN_URL,
        description="OAuth 2.0 token endpoint the refresh token is exchanged at (Google: https://oauth2.googleapis.com/token).",
    )
    refresh_after_days: int | None = Field(
        30, ge=1, le=540,
        description="Send a member again when its last confirmed upload is older than this many days,"
        " so it never expires from the list (a Customer Match list keeps a member for its membership"
        " duration, at most 540 days, set per list in Google Ads). Default 30: keep it below your"
        " lists' shortest membership duration; a wave of stale members spreads over a week of runs.",
    )
    requests_per_minute: int = Field(
        300, ge=1,
        description="Client-side cap on Data Manager requests per minute, for each kind Google counts"
        " apart (ingest/remove; request status). Google's quota: 300 a minute per Cloud project.",
    )
    cloud_project: str | None = Field(
        None,
        description="The Google Cloud project the OAuth client belongs to (any spelling, the same in"
        " every destination): destinations naming the same project share its request quota within a"
        " run. Default: the client_id, so destinations using one OAuth client share it already; set"
        " it when several OAuth clients of one project are used.",
    )

    @field_validator("operating_account_id")
    @classmethod
    def _operating(cls, v: str) -> str:
        return _customer_id(v, "operating_account_id")  # type: ignore[return-value]

    @field_validator("login_account_id")
    @classmethod
    def _login(cls, v: str | None) -> str | None:
        return _customer_id(v, "login_account_id")

    @field_validator("user_list_id")
    @classmethod
    def _list(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d+", v.strip()):
            raise ValueError("user_list_id must be the list's numeric id from Google Ads")
        return v.strip() if v is not None else None

    @field_validator("user_lists")
    @classmethod
    def _lists(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(name for name, list_id in v.items() if not re.fullmatch(r"\d+", str(list_id).strip()))
        if bad:
            raise ValueError(f"user_lists ids must be numeric; check {', '.join(bad)}")
        return {name: str(list_id).strip() for name, list_id in v.items()}


def quota(config: GoogleConfig) -> tuple[RateLimit, RateLimit]:
    """The rate limits of (ingest/remove, request status) requests. Google's "Limits and quotas"
    (https://developers.google.com/data-manager/api/devguides/limits) counts requests per Google
    Cloud project (the one that provides the OAuth client), apart by service and operation:
    IngestionService mutate (ingest, remove) and read (``requestStatus:retrieve``), 300 a minute
    each; past that, 429 RESOURCE_EXHAUSTED. An earlier version of the page gave 300 a minute per
    project without the split by operation."""
    project = config.cloud_project or f"client:{config.client_id}"
    key = f"google-datamanager:project:{project}:ingestion"
    per_minute = config.requests_per_minute
    return RateLimit(f"{key}-mutate", per_minute, 60.0), RateLimit(f"{key}-read", per_minute, 60.0)


class _Unauthenticated(AuthError):
    """HTTP 401 from the API: the access token expired or was revoked (refresh and retry once)."""


class _MemberViolations(FatalError):
    """HTTP 400 naming members of the request by index: those members are refused."""

    def __init__(self, message: str, violations: dict[int, str]) -> None:
        super().__init__(message)
        self.violations = violations


def _error_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def _reason_code(value: Any) -> str | None:
    """A Google enum reason (``INVALID_SHA256_FORMAT``); anything else is dropped (no echoes)."""
    return value if isinstance(value, str) and _REASON.match(value) else None


_HINTS = {
    "INVALID_USER_LIST_ID": "check user_list_id: it must be a Customer Match list of the operating account",
    "NOT_FOUND": "check user_list_id and operating_account_id",
    "INVALID_DESTINATION": "check operating_account_id, login_account_id and user_list_id",
    "TERMS_AND_CONDITIONS_NOT_SIGNED": "accept the Customer Match terms in Google Ads (Audience manager)",
    "INVALID_USER_LIST_TYPE": "the list must be a Customer Match (customer list) user list",
}


def _classify_api(response: requests.Response) -> Any:
    """Data Manager errors as dealersync error kinds (core http handles the rest)."""
    code = response.status_code
    if code < 400:
        return None
    err = _error_body(response)
    status = err.get("status") if isinstance(err.get("status"), str) else ""
    where = f"Google Data Manager: POST {response.request.path_url.split('?')[0] if response.request else ''}"
    if code == 401 or status == "UNAUTHENTICATED":
        return _Unauthenticated(f"{where}: the access token was refused (HTTP {code})")
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        return TransientError  # core writes the message and reads Retry-After
    if code == 403 or status == "PERMISSION_DENIED":
        return AuthError(
            f"{where}: permission denied (HTTP {code}). The Google account behind the refresh token"
            " must be a user of the operating account (or of login_account_id, a manager of it) with"
            " access to the user list, and the token must carry the"
            f" {SCOPE} scope; re-authorize and store the new refresh token with"
            " `dealersync secrets set NAME`"
        )
    if code >= 500 or code == 408:
        return TransientError
    violations: dict[int, str] = {}
    reasons: list[str] = []
    for detail in err.get("details") or []:
        if not isinstance(detail, dict):
            continue
        reason = _reason_code(detail.get("reason"))
        if reason and reason != "INVALID_ARGUMENT":
            reasons.append(reason)
        for v in detail.get("fieldViolations") or []:
            if not isinstance(v, dict):
                continue
            vr = _reason_code(v.get("reason")) or "INVALID_ARGUMENT"
            found = _MEMBER_INDEX.search(str(v.get("field", "")))
            if found:
                violations.setdefault(int(found.group(1)), vr)
            else:
                reasons.append(vr)
    if violations and not reasons:
        return _MemberViolations(f"{where}: Google refused {len(violations)} member(s)", violations)
    why = ", ".join(dict.fromkeys(reasons)) or status or f"HTTP {code}"
    hints = "; ".join(_HINTS[r] for r in dict.fromkeys(reasons) if r in _HINTS)
    return FatalError(f"{where}: Google refused the request ({why}){'; ' + hints if hints else ''}")


def _classify_token(response: requests.Response) -> Any:
    """OAuth token endpoint errors: ``{"error": "invalid_grant", ...}`` and friends."""
    code = response.status_code
    if code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # a Google API style error, e.g. from a proxy
        error = error.get("status")
    if code in (408, 429) or code >= 500:
        return TransientError
    fix = "store it again with `dealersync secrets set NAME` (NAME: the keyring entry the config names)"
    if error == "invalid_grant":
        return AuthError(
            "Google OAuth: the refresh token was refused (invalid_grant: expired, revoked, or issued"
            " to another client). Re-authorize the Google account for the"
            f" {SCOPE} scope to get a new refresh token and store it with"
            " `dealersync secrets set NAME` (NAME: the keyring entry in refresh_token)"
        )
    if error in ("invalid_client", "unauthorized_client"):
        return AuthError(
            f"Google OAuth: the client was refused ({error}); check client_id, and the client"
            f" secret: {fix}"
        )
    return AuthError(
        f"Google OAuth: the token request was refused (HTTP {code}); check client_id,"
        f" client_secret and refresh_token, and {fix}"
    )


class GoogleCustomerMatch(AudienceDestination[GoogleConfig]):
    """Customer Match user lists through the Google Data Manager API."""

    name = "google"
    channel = "ads"
    identifiers: ClassVar[Mapping[str, str]] = {
        "email": "google.email",
        "phone": "google.phone",
        "given_name": "google.given_name",
        "family_name": "google.family_name",
        "region_code": "google.country",
        "postal_code": "google.postal_code",
    }
    # Google: at most 10,000 audience members a request and 10 identifiers a member (a member
    # here sends at most 3: email, phone, address).
    limits = BatchLimits(rows=10_000, identifiers_per_member=10)
    min_members = 100  # a Customer Match list needs 100 active members to serve
    # hashed email, phone and names, plain region and postal code: no raw PII
    state_fields = ("email", "phone", "given_name", "family_name", "region_code", "postal_code")
    supports_replace = False
    Config = GoogleConfig

    def __init__(self, config: GoogleConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.mutate_quota, self.read_quota = quota(config)
        self.http = HttpSession(
            "Google Data Manager",
            base_url=config.base_url,
            headers={"Content-Type": "application/json"},
            classifier=_classify_api,
            credential_hint="re-authorize and store the new refresh token with `dealersync secrets set NAME`",
            rate_limit=self.mutate_quota,
        )
        self.oauth = HttpSession("Google OAuth", classifier=_classify_token)
        self._access_token: str | None = None
        self._match_rate: str | None = None  # of this run's last confirmed upload
        self.refresh_after_days = config.refresh_after_days
        self._counts = {
            "requests": 0, "members_ingested": 0, "members_removed": 0, "members_rejected": 0, "status_checks": 0,
        }

    # ---------------------------------------------------------------------------- auth
    def _refresh(self) -> str:
        response = self.oauth.post(
            self.config.oauth_url,
            data={
                "grant_type": "refresh_token",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret.get_secret_value(),
                "refresh_token": self.config.refresh_token.get_secret_value(),
            },
        )
        try:
            token = response.json().get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AuthError("Google OAuth: the token endpoint answered without an access_token") from None
        self._access_token = token
        return token

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST an ingest or remove request; the answer must carry its ``requestId``."""
        payload = self._call("POST", path, json=body)
        self._counts["requests"] += 1
        if not payload.get("requestId"):
            # the Data Manager API answers an accepted request with its requestId: anything
            # else (an empty {}, a proxy's page) proves nothing, so nothing is counted as sent
            raise FatalError(f"Google Data Manager: POST {path} answered without a requestId; not counted as delivered")
        return payload

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A request with a fresh-enough access token: refreshed before first use and once on a 401."""
        for attempt in (1, 2):
            token = self._access_token or self._refresh()
            try:
                response = self.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            except _Unauthenticated:
                self._access_token = None
                if attempt == 2:
                    raise AuthError(
                        "Google Data Manager: a freshly refreshed access token was refused (HTTP 401)."
                        " Re-authorize the Google account for the"
                        f" {SCOPE} scope and store the new refresh token with"
                        " `dealersync secrets set NAME`"
                    ) from None
                continue
            try:
                payload = response.json()
            except ValueError:
                payload = None
            if not isinstance(payload, dict):
                raise FatalError(f"Google Data Manager: {method} {path} answered HTTP {response.status_code} without a JSON object")
            return payload
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------------ contract
    def check(self) -> None:
        """The refresh token, client id and secret are accepted (an access token is issued)."""
        self._refresh()

    def check_config(self, audiences: tuple[str, ...] = ()) -> None:
        """Every audience sent here has a list (before any data moves)."""
        for name in audiences:
            self._list_id(name)

    def ensure_audience(self, name: str, description: str = "") -> RemoteAudience:
        return RemoteAudience(id=self._list_id(name), name=name)

    def _list_id(self, audience: str) -> str:
        list_id = self.config.user_lists.get(audience) or self.config.user_list_id
        if not list_id:
            raise ConfigError(
                f"destinations.{self.context.instance}.user_list_id: missing (audience {audience} is not in"
                f" user_lists either); the Data Manager API does not create lists here: {CREATE_LIST_HELP}"
            )
        return list_id

    def add(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        return self._send("audienceMembers:ingest", "members_ingested", audience, members)

    def remove(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        return self._send("audienceMembers:remove", "members_removed", audience, members)

    def platform_counts(self) -> Mapping[str, int]:
        return dict(self._counts)

    def resolve(self, audience: RemoteAudience, requests: Mapping[str, str]) -> Mapping[str, RequestStatus]:
        """``GET /v1/requestStatus:retrieve?requestId=`` per pending request (ingestion_service.proto
        ``RetrieveRequestStatus``). The answer's ``requestStatusPerDestination`` (one per destination
        of the request; ours have one) says SUCCESS / PROCESSING / PARTIAL_SUCCESS / FAILED, with
        ``errorInfo.errorCounts`` (reason, recordCount) and, for an ingest,
        ``audienceMembersIngestionStatus.userDataIngestionStatus`` (recordCount,
        userIdentifierCount, uploadMatchRateRange): counts, never which members failed
        (request_status_per_destination.proto, error.proto). Google's guide suggests checking
        after about 30 minutes; a request still PROCESSING stays pending for the next run."""
        out: dict[str, RequestStatus] = {}
        for request_id in requests:
            answer = self._call("GET", "/v1/requestStatus:retrieve", params={"requestId": request_id},
                                rate_limit=self.read_quota)
            self._counts["status_checks"] += 1
            out[request_id] = status = request_status(answer)
            if requests[request_id] == "add" and "match_rate_range" in status.counts:
                self._match_rate = str(status.counts["match_rate_range"])
        return out

    def read_back(self, audience: RemoteAudience) -> ReadBack | None:
        """The match-rate range of the last confirmed upload (``uploadMatchRateRange``,
        match_rate.proto). The list's size is not read: the Data Manager ingestion API does not
        report it, and this connector does not use the user-list service."""
        return ReadBack(match_rate=self._match_rate) if self._match_rate else None

    # ------------------------------------------------------------------------ requests
    def _destination(self, list_id: str) -> dict[str, Any]:
        dest: dict[str, Any] = {
            "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": self.config.operating_account_id},
            "productDestinationId": list_id,
        }
        if self.config.login_account_id:
            dest["loginAccount"] = {"accountType": "GOOGLE_ADS", "accountId": self.config.login_account_id}
        return dest

    def _body(self, list_id: str, members: list[dict[str, Any]], op: str) -> dict[str, Any]:
        """The request message (googleapis google/ads/datamanager/v1/ingestion_service.proto):
        ``IngestAudienceMembersRequest`` takes destinations, audience_members (at most 10,000),
        consent, encoding and terms_of_service; ``RemoveAudienceMembersRequest`` has no consent
        and no terms_of_service. Members: ``UserData.user_identifiers`` (user_data.proto, at most
        10), ``AddressInfo`` names hashed after the google.* profiles' normalization."""
        body: dict[str, Any] = {
            "destinations": [self._destination(list_id)],
            "audienceMembers": [{"userData": {"userIdentifiers": user_identifiers(m)}} for m in members],
            "encoding": "HEX",
        }
        if op == "audienceMembers:ingest":
            body["consent"] = {"adUserData": self.config.ad_user_data, "adPersonalization": self.config.ad_personalization}
            body["termsOfService"] = {"customerMatchTermsOfServiceStatus": "ACCEPTED"}
        return body

    def _send(
        self, op: str, counter: str, audience: RemoteAudience, members: list[dict[str, Any]]
    ) -> list[MemberOutcome]:
        outcomes: list[MemberOutcome] = []
        pending = []
        for m in members:
            if user_identifiers(m):
                pending.append(m)
            else:
                outcomes.append(
                    MemberOutcome(str(m["member_key"]), False, "no_identifiers",
                                  "no email, phone or complete address to send")
                )
        rounds = 0
        while pending:
            try:
                answer = self._post(f"/v1/{op}", self._body(audience.id, pending, op))
            except _MemberViolations as exc:
                rounds += 1
                bad = {i: r for i, r in exc.violations.items() if 0 <= i < len(pending)}
                if not bad or rounds > MAX_REJECTION_ROUNDS:
                    raise FatalError(
                        f"{exc.message}; still refusing members after {rounds} rounds of removing"
                        " the ones it named"
                    ) from None
                for i, reason in sorted(bad.items()):
                    outcomes.append(
                        MemberOutcome(str(pending[i]["member_key"]), False, reason,
                                      f"Google refused this member's identifiers ({reason})")
                    )
                self._counts["members_rejected"] += len(bad)
                pending = [m for i, m in enumerate(pending) if i not in bad]
                continue
            self._counts[counter] += len(pending)
            # accepted, pending confirmation: the outcome comes from requestStatus:retrieve
            request_id = str(answer["requestId"])
            outcomes += [MemberOutcome(str(m["member_key"]), True, request_id=request_id) for m in pending]
            break
        return outcomes


_STATES = {"SUCCESS": "success", "PARTIAL_SUCCESS": "partial", "FAILED": "failed"}


def request_status(answer: Mapping[str, Any]) -> RequestStatus:
    """A ``RetrieveRequestStatusResponse`` as a :class:`RequestStatus`: the worst status over its
    destinations (PROCESSING or unknown: still pending), error counts per reason, the records and
    the upload's match-rate range (an enum code such as MATCH_RANGE_20_30; match_rate.proto)."""
    per = answer.get("requestStatusPerDestination")
    if not isinstance(per, list) or not per:
        return RequestStatus("pending")
    states: list[str] = []
    counts: dict[str, int | str] = {}
    for dest in per:
        if not isinstance(dest, dict):
            continue
        states.append(_STATES.get(str(dest.get("requestStatus")), "pending"))
        for err in (dest.get("errorInfo") or {}).get("errorCounts") or []:
            reason = _reason_code(err.get("reason")) if isinstance(err, dict) else None
            if reason:
                counts[f"error:{reason}"] = int(counts.get(f"error:{reason}", 0)) + _int(err.get("recordCount"))
        ingest = (dest.get("audienceMembersIngestionStatus") or {}).get("userDataIngestionStatus") or {}
        removal = (dest.get("audienceMembersRemovalStatus") or {}).get("userDataRemovalStatus") or {}
        if "recordCount" in (ingest or removal):
            counts["records"] = int(counts.get("records", 0)) + _int((ingest or removal)["recordCount"])
        rate = _reason_code(ingest.get("uploadMatchRateRange"))
        if rate:
            counts["match_rate_range"] = rate
    order = ["pending", "failed", "partial", "success"]  # the worst destination decides
    state = min(states, key=order.index) if states else "pending"
    return RequestStatus(state, counts)  # type: ignore[arg-type]


def _int(value: Any) -> int:
    """An int64 of the JSON answer (proto3 JSON writes them as strings)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def user_identifiers(member: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A member's Data Manager ``userIdentifiers``: email, phone, and the address only when its
    four parts (hashed given and family name, plain region and postal code) are all there."""
    ids: list[dict[str, Any]] = []
    if member.get("email"):
        ids.append({"emailAddress": member["email"]})
    if member.get("phone"):
        ids.append({"phoneNumber": member["phone"]})
    parts = ("given_name", "family_name", "region_code", "postal_code")
    if all(member.get(p) for p in parts):
        ids.append(
            {
                "address": {
                    "givenName": member["given_name"],
                    "familyName": member["family_name"],
                    "regionCode": member["region_code"],
                    "postalCode": member["postal_code"],
                }
            }
        )
    return ids
