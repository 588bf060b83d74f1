"""A stateful fake of Google's Data Manager API (audience members) and OAuth token endpoint.

It holds the members of each Customer Match user list and enforces what the documentation says:

* OAuth: ``POST /oauth2/token`` with ``grant_type=refresh_token``, the client id and secret and a
  live refresh token issues an access token; a revoked refresh token is ``invalid_grant``, a wrong
  client ``invalid_client``. The API refuses a missing, unknown or expired access token (401
  UNAUTHENTICATED).
* ``POST /v1/audienceMembers:ingest`` and ``:remove``: one to ten destinations, each a known
  Google Ads operating account (else 403 PERMISSION_DENIED) and one of its user lists (else 400
  INVALID_USER_LIST_ID); ``encoding`` "HEX" required; ingest needs the Customer Match terms
  accepted and valid consent values; 1 to 10,000 members (else 400 TOO_MANY_AUDIENCE_MEMBERS);
  1 to 10 identifiers per member; hashed values 64 hex characters; an address with all four
  parts. A request with any problem is refused whole (Google's fast-fail model), its error
  details naming each bad member by index (``audience_members[3]``).
* Only the fields of the request message (googleapis ``google/ads/datamanager/v1/
  ingestion_service.proto``: ``IngestAudienceMembersRequest`` has ``destinations``,
  ``audience_members``, ``consent``, ``validate_only``, ``encoding``, ``encryption_info``,
  ``terms_of_service``; ``RemoveAudienceMembersRequest`` has no ``consent`` and no
  ``terms_of_service``), in their JSON (lowerCamel) or proto names; any other field is 400
  INVALID_ARGUMENT "Unknown name", as Google's JSON transcoding answers.
* Asynchronous outcome (ingestion_service.proto ``RetrieveRequestStatus``, ``GET
  /v1/requestStatus:retrieve?requestId=``; request_status_per_destination.proto): an ingest or
  remove answers 200 with a ``requestId`` at once; its outcome is reported by
  ``requestStatus:retrieve`` as SUCCESS, PARTIAL_SUCCESS or FAILED with ``errorInfo.errorCounts``
  (reason, recordCount) and record counts: counts only, never which members failed. A request
  scripted with ``outcome(call, "PARTIAL_SUCCESS")`` applies only part of its members (the
  first half), ``"FAILED"`` none, ``"PROCESSING"`` is still processing until ``settle()``. An
  unknown ``requestId`` is 404 NOT_FOUND; a request to it other than ``requestId`` is 400.
* Expiry: a Customer Match list keeps a member for its membership duration (at most 540 days,
  set per list; Google Ads API ``UserList.membership_life_span``); ``membership_days`` and the
  fake's ``clock`` model it: :meth:`expired` names the held members whose last ingest is older.
* Fault injection by API call number (``fail``): an HTTP status with headers, a timeout, a
  dropped connection, or "applied, then the answer lost".

Stored members are dicts of the connector's identifier fields (``email``, ``phone``,
``given_name``, ``family_name``, ``region_code``, ``postal_code``), as the conformance kit expects.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from dealersync.testing import FakePlatform
from requests import PreparedRequest

BASE = "https://datamanager.fake.test"
TOKEN_URL = f"{BASE}/oauth2/token"
ACCOUNT = "1234567890"
MANAGER = "9876543210"
LIST_ID = "5550001"
CLIENT_ID = "fake-client.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret-Zq81"
REFRESH_TOKEN = "1//fake-refresh-token-Hn42"
#: The ``google`` connector's settings for this fake (secrets inline: a test's, not a dealer's).
FAKE_CONFIG = {
    "operating_account_id": "123-456-7890",
    "user_list_id": LIST_ID,
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "refresh_token": REFRESH_TOKEN,
    "base_url": BASE,
    "oauth_url": TOKEN_URL,
}

CONSENT = {"CONSENT_GRANTED", "CONSENT_DENIED", "CONSENT_STATUS_UNSPECIFIED"}
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEX = re.compile(r"[0-9a-fA-F]*")
FIELDS = ("email", "phone", "given_name", "family_name", "region_code", "postal_code")
_REMOVE_FIELDS = {"destinations", "audienceMembers", "validateOnly", "encoding", "encryptionInfo",
                  "audience_members", "validate_only", "encryption_info"}
#: Fields of IngestAudienceMembersRequest / RemoveAudienceMembersRequest (ingestion_service.proto).
REQUEST_FIELDS = {
    "remove": _REMOVE_FIELDS,
    "ingest": _REMOVE_FIELDS | {"consent", "termsOfService", "terms_of_service"},
}


def google_error(code: int, status: str, violations: list[dict[str, str]] | None = None,
                 reason: str | None = None) -> dict[str, Any]:
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason or status,
         "domain": "datamanager.googleapis.com"}
    ]
    if violations:
        details.append({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations})
    messages = {400: "There was a problem with the request.", 401: "Request had invalid authentication credentials.",
                403: "The caller does not have permission", 429: "Resource has been exhausted (e.g. check quota).",
                500: "Internal error encountered.", 503: "The service is currently unavailable."}
    return {"error": {"code": code, "message": messages.get(code, status), "status": status, "details": details}}


class FakeDataManager(FakePlatform):
    base_url: ClassVar[str] = BASE
    max_rows: ClassVar[int | None] = 10_000
    max_identifiers: ClassVar[int] = 10

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, set[str]] = {ACCOUNT: set(), MANAGER: set()}
        self.managers: dict[str, str] = {ACCOUNT: MANAGER}  # account -> its manager
        self.list_ids = itertools.count(5550001)
        self.default_list = self.create_user_list("dealersync default")
        assert self.default_list == LIST_ID
        self.refresh_tokens = {REFRESH_TOKEN}
        self.access_tokens: dict[str, bool] = {}  # token -> live
        self._tokens = itertools.count(1)
        self.token_requests = 0
        self.api_calls = 0  # ingest + remove requests that reached the fake (retries included)
        self.accepted_requests = 0
        self.bodies: list[dict[str, Any]] = []  # every API body received
        self.faults: dict[int, tuple[Any, ...]] = {}
        #: (list id, "ingest" | "remove", stored members) of every applied request, in order
        self.applied: list[tuple[str, str, list[dict[str, Any]]]] = []
        #: API call number -> the status its request ends with (see ``outcome``)
        self.outcomes: dict[int, str] = {}
        #: requestId -> its RequestStatusPerDestination (as JSON)
        self.requests: dict[str, dict[str, Any]] = {}
        self.status_calls = 0
        self.membership_days = 540
        self.clock: Callable[[], dt.datetime] = dt.datetime.now
        #: (list id, email hash) -> when it was last ingested, by ``clock``
        self.ingested_at: dict[tuple[str, str], dt.datetime] = {}
        #: Google's quota per Cloud project (the fake serves one OAuth client: one project) of
        #: IngestionService requests a minute, counted apart for mutate (ingest, remove) and read
        #: (requestStatus:retrieve); past it 429 RESOURCE_EXHAUSTED ("Limits and quotas",
        #: https://developers.google.com/data-manager/api/devguides/limits). ``quota_clock``: seconds.
        self.per_minute = 300
        self.quota_clock: Callable[[], float] = time.monotonic
        self._quota_starts: dict[str, deque[float]] = {"mutate": deque(), "read": deque()}
        self.quota_refusals = 0

    # ---------------------------------------------------------------------- set-up helpers
    def create_user_list(self, name: str = "", account: str = ACCOUNT) -> str:
        list_id = str(next(self.list_ids))
        self.lists[list_id] = []
        self.list_names[list_id] = name
        self.accounts.setdefault(account, set()).add(list_id)
        return list_id

    def expire_access_tokens(self) -> None:
        self.access_tokens = {t: False for t in self.access_tokens}

    def revoke_refresh_token(self) -> None:
        self.refresh_tokens.clear()
        self.expire_access_tokens()

    def fail(self, call: int, kind: str, status: int = 500, headers: dict[str, str] | None = None,
             payload: dict[str, Any] | None = None) -> None:
        """Make API call number ``call`` (1-based, retries count) fail.

        ``kind``: "status" (answer ``status`` with ``headers`` and ``payload``, applying nothing),
        "timeout" / "drop" (no answer, nothing applied), "lose" (apply, then drop the answer)."""
        self.faults[call] = (kind, status, headers or {}, payload)

    def outcome(self, call: int, status: str) -> None:
        """The ingest/remove of API call number ``call`` ends as ``status``: PARTIAL_SUCCESS (the
        first half of its members applied), FAILED (none) or PROCESSING (reported as processing
        until :meth:`settle`, then SUCCESS); its answer is a 200 with a requestId either way."""
        assert status in ("PARTIAL_SUCCESS", "FAILED", "PROCESSING")
        self.outcomes[call] = status

    def settle(self) -> None:
        """Every request still processing finishes successfully."""
        for status in self.requests.values():
            if status["requestStatus"] == "PROCESSING":
                status["requestStatus"] = "SUCCESS"
                for list_id, op, members in status.pop("_deferred"):
                    self._apply(list_id, op, members)

    def _over_quota(self, kind: str) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """429 RESOURCE_EXHAUSTED when this request would be the minute's ``per_minute + 1``-th of its kind."""
        now = self.quota_clock()
        starts = self._quota_starts[kind]
        while starts and starts[0] <= now - 60.0:
            starts.popleft()
        if len(starts) >= self.per_minute:
            self.quota_refusals += 1
            return 429, google_error(429, "RESOURCE_EXHAUSTED", reason="RATE_LIMIT_EXCEEDED"), {}
        starts.append(now)
        return None

    def fail_calls(self, calls: range | list[int], kind: str, **kw: Any) -> None:
        for c in calls:
            self.fail(c, kind, **kw)

    def held(self, list_id: str = LIST_ID) -> list[dict[str, Any]]:
        return self.members(list_id)

    def people(self, list_id: str = LIST_ID) -> list[frozenset[tuple[str, Any]]]:
        """The list as Google would hold it: people, not identifier sets.

        ``lists`` keys a member by its exact identifiers. Google matches people instead: a member
        sharing any identifier (email, phone, or the whole address) with a held person is that
        person, and a removal takes out every person it shares an identifier with. This replays
        the applied requests that way; each person is the set of identifier tokens seen for them.
        """
        persons: list[set[tuple[str, Any]]] = []
        for lid, op, members in self.applied:
            if lid != list_id:
                continue
            for m in members:
                tokens = _tokens(m)
                hit = [p for p in persons if p & tokens]
                if op == "remove":
                    persons = [p for p in persons if not p & tokens]
                else:
                    merged = set(tokens).union(*hit)
                    persons = [p for p in persons if not p & tokens] + [merged]
        return [frozenset(p) for p in persons]

    @contextmanager
    def serve(self) -> Iterator[responses.RequestsMock]:
        """Answer requests with this fake. Unlike ``strict_http`` (which takes any
        ``ConnectionError`` for an unmocked request), injected network faults are allowed; a
        request to a URL the fake does not serve still fails the test."""
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            self.register(rsps)
            yield rsps
            stray = [c.request.url for c in rsps.calls
                     if isinstance(c.response, requests.ConnectionError)
                     and "Connection refused by Responses" in str(c.response)]
            assert not stray, f"requests the fake does not serve: {stray}"

    # ----------------------------------------------------------------------------- routes
    def register(self, rsps: responses.RequestsMock) -> None:
        self._add(rsps, "POST", "/oauth2/token", self.token)
        self._add(rsps, "POST", "/v1/audienceMembers:ingest", lambda r, b: self.members_call(r, b, "ingest"))
        self._add(rsps, "POST", "/v1/audienceMembers:remove", lambda r, b: self.members_call(r, b, "remove"))
        self._add(rsps, "GET", "/v1/requestStatus:retrieve", self.request_status)

    def _add(self, rsps: responses.RequestsMock, method: str, path: str, handler: Any) -> None:
        pattern = re.compile("^" + re.escape(BASE + path) + r"(\?.*)?$")

        def callback(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
            status, payload, headers = handler(request, _json(request))
            return status, {"Content-Type": "application/json", **headers}, json.dumps(payload)

        self._routes.append(rsps.add_callback(method, pattern, callback=callback))

    # ----------------------------------------------------------------------------- OAuth
    def token(self, request: PreparedRequest, _body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.token_requests += 1
        raw = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}, {}
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}, {}
        if form.get("refresh_token") not in self.refresh_tokens:
            return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, {}
        token = f"ya29.fake-access-{next(self._tokens)}"
        self.access_tokens[token] = True
        return 200, {"access_token": token, "expires_in": 3599, "scope": "https://www.googleapis.com/auth/datamanager",
                     "token_type": "Bearer"}, {}

    # ------------------------------------------------------------------- ingest / remove
    def members_call(self, request: PreparedRequest, body: Any, op: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.api_calls += 1
        fault = self.faults.get(self.api_calls)
        if fault and fault[0] == "timeout":
            raise requests.ReadTimeout("simulated read timeout")
        if fault and fault[0] == "drop":
            raise requests.ConnectionError("simulated connection reset")
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        if not token or not self.access_tokens.get(token):
            return 401, google_error(401, "UNAUTHENTICATED", reason="ACCESS_TOKEN_EXPIRED"), {"WWW-Authenticate": "Bearer"}
        if refused := self._over_quota("mutate"):
            return refused
        if fault and fault[0] == "status":
            _, status, headers, payload = fault
            statuses = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 403: "PERMISSION_DENIED"}
            return status, payload or google_error(status, statuses.get(status, "UNKNOWN")), headers
        if not isinstance(body, dict):
            return 400, google_error(400, "INVALID_ARGUMENT", [{"field": "", "reason": "INVALID_FORMAT"}]), {}
        self.bodies.append(body)
        problem = self.check_request(body, op)
        if problem is not None:
            return problem
        members = body["audienceMembers"]
        violations = []
        stored = []
        for i, m in enumerate(members):
            reason, member = self.check_member(m)
            if reason:
                violations.append({"field": f"audience_members.audience_members[{i}]",
                                   "description": "This audience member is not valid.", "reason": reason})
            stored.append(member)
        if violations:
            return 400, google_error(400, "INVALID_ARGUMENT", violations, reason="INVALID_ARGUMENT"), {}
        request_id = f"req-{self.api_calls}"
        scripted = self.outcomes.get(self.api_calls, "SUCCESS")
        applied = {"PARTIAL_SUCCESS": stored[: len(stored) // 2], "FAILED": []}.get(scripted, stored)
        deferred = []
        for dest in body["destinations"]:
            list_id = dest["productDestinationId"]
            if scripted == "PROCESSING":
                deferred.append((list_id, op, stored))
            else:
                self._apply(list_id, op, applied)
        failed = len(stored) - len(applied) if scripted != "PROCESSING" else 0
        kind = ("audienceMembersIngestionStatus", "userDataIngestionStatus") if op == "ingest" else (
            "audienceMembersRemovalStatus", "userDataRemovalStatus")
        status: dict[str, Any] = {
            "destination": body["destinations"][0], "requestStatus": scripted,
            kind[0]: {kind[1]: {"recordCount": str(len(stored)),
                                "userIdentifierCount": str(sum(len(m["userData"]["userIdentifiers"]) for m in members))}},
            "_deferred": deferred,
        }
        if op == "ingest":
            status[kind[0]][kind[1]]["uploadMatchRateRange"] = "MATCH_RANGE_50_60"
        if failed:
            status["errorInfo"] = {"errorCounts": [{"reason": "PROCESSING_ERROR_REASON_INTERNAL_ERROR",
                                                    "recordCount": str(failed)}]}
        self.requests[request_id] = status
        self.record_batch(len(members))
        self.accepted_requests += 1
        if fault and fault[0] == "lose":
            raise requests.ConnectionError("simulated: applied, then the answer was lost")
        return 200, {"requestId": request_id}, {}

    def expired(self, list_id: str = LIST_ID) -> list[str]:
        """Email hashes of held members Google would have dropped by now (membership duration)."""
        limit = self.clock() - dt.timedelta(days=self.membership_days)
        held = {m["email"] for m in self.held(list_id) if m.get("email")}
        return sorted(e for e in held if self.ingested_at.get((list_id, e), limit) < limit)

    def _apply(self, list_id: str, op: str, stored: list[dict[str, Any]]) -> None:
        self.applied.append((list_id, op, stored))
        if op == "ingest":
            for m in stored:
                if m.get("email"):
                    self.ingested_at[(list_id, m["email"])] = self.clock()
            self.add_members(list_id, stored)
        else:
            self.remove_members(list_id, stored)

    def request_status(self, request: PreparedRequest, _body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        """``RetrieveRequestStatus``: the only parameter is ``requestId`` (RetrieveRequestStatusRequest)."""
        self.status_calls += 1
        auth = request.headers.get("Authorization", "")
        if not self.access_tokens.get(auth.removeprefix("Bearer ")):
            return 401, google_error(401, "UNAUTHENTICATED", reason="ACCESS_TOKEN_EXPIRED"), {}
        if refused := self._over_quota("read"):
            return refused
        query = parse_qs(urlsplit(request.url or "").query)
        unknown = sorted(set(query) - {"requestId", "request_id"})
        if unknown:
            return 400, google_error(400, "INVALID_ARGUMENT", [{"field": unknown[0], "reason": "UNKNOWN_FIELD"}]), {}
        request_id = (query.get("requestId") or query.get("request_id") or [""])[0]
        status = self.requests.get(request_id)
        if status is None:
            return 404, google_error(404, "NOT_FOUND"), {}
        public = {k: v for k, v in status.items() if not k.startswith("_")}
        return 200, {"requestStatusPerDestination": [public]}, {}

    def check_request(self, body: dict[str, Any], op: str) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        def bad(field: str, reason: str) -> tuple[int, dict[str, Any], dict[str, str]]:
            return 400, google_error(400, "INVALID_ARGUMENT", [{"field": field, "reason": reason}]), {}

        unknown = sorted(set(body) - REQUEST_FIELDS[op])
        if unknown:
            err = google_error(400, "INVALID_ARGUMENT", [{"field": unknown[0], "reason": "UNKNOWN_FIELD"}])
            err["error"]["message"] = f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
            return 400, err, {}

        if body.get("encoding") != "HEX":
            return bad("encoding", "REQUIRED_FIELD_MISSING" if "encoding" not in body else "INVALID_ENUM_VALUE")
        dests = body.get("destinations")
        if not isinstance(dests, list) or not dests:
            return bad("destinations", "REQUIRED_FIELD_MISSING")
        if len(dests) > 10:
            return bad("destinations", "TOO_MANY_DESTINATIONS")
        for i, d in enumerate(dests):
            op_acc = d.get("operatingAccount") or {}
            login = d.get("loginAccount")
            if op_acc.get("accountType") != "GOOGLE_ADS":
                return bad(f"destinations[{i}].operating_account.account_type", "INVALID_ENUM_VALUE")
            account = op_acc.get("accountId")
            if account not in self.accounts:
                return 403, google_error(403, "PERMISSION_DENIED"), {}
            if login is not None and (login.get("accountType") != "GOOGLE_ADS"
                                      or login.get("accountId") not in (account, self.managers.get(account))):
                return 403, google_error(403, "PERMISSION_DENIED"), {}
            if d.get("productDestinationId") not in self.accounts[account]:
                return bad(f"destinations[{i}].product_destination_id", "INVALID_USER_LIST_ID")
        if op == "ingest":
            tos = (body.get("termsOfService") or {}).get("customerMatchTermsOfServiceStatus")
            if tos != "ACCEPTED":
                return bad("terms_of_service", "TERMS_AND_CONDITIONS_NOT_SIGNED")
            consent = body.get("consent") or {}
            for k in ("adUserData", "adPersonalization"):
                if k in consent and consent[k] not in CONSENT:
                    return bad(f"consent.{k}", "INVALID_ENUM_VALUE")
        members = body.get("audienceMembers")
        if not isinstance(members, list) or not members:
            return bad("audience_members", "REQUIRED_FIELD_MISSING")
        if len(members) > 10_000:
            return bad("audience_members", "TOO_MANY_AUDIENCE_MEMBERS")
        return None

    def check_member(self, m: Any) -> tuple[str | None, dict[str, Any]]:
        """(reason the member is refused or None, the member as stored)."""
        stored: dict[str, Any] = dict.fromkeys(FIELDS)
        ids = ((m or {}).get("userData") or {}).get("userIdentifiers") if isinstance(m, dict) else None
        if not isinstance(ids, list) or not ids:
            return "INVALID_AUDIENCE_MEMBER", stored
        if len(ids) > self.max_identifiers:
            return "TOO_MANY_USER_IDENTIFIERS", stored
        for ident in ids:
            if not isinstance(ident, dict) or len(ident) != 1:
                return "INVALID_AUDIENCE_MEMBER", stored
            (kind, value), = ident.items()
            if kind in ("emailAddress", "phoneNumber"):
                reason = _hash_problem(value)
                if reason:
                    return reason, stored
                stored["email" if kind == "emailAddress" else "phone"] = value
            elif kind == "address":
                parts = value if isinstance(value, dict) else {}
                if not all(parts.get(p) for p in ("givenName", "familyName", "regionCode", "postalCode")):
                    return "REQUIRED_FIELD_MISSING", stored
                for p in ("givenName", "familyName"):
                    reason = _hash_problem(parts[p])
                    if reason:
                        return reason, stored
                if not re.fullmatch(r"[A-Za-z]{2}", str(parts["regionCode"])):
                    return "INVALID_COUNTRY_CODE", stored
                stored.update(given_name=parts["givenName"], family_name=parts["familyName"],
                              region_code=parts["regionCode"], postal_code=parts["postalCode"])
            else:
                return "INVALID_AUDIENCE_MEMBER", stored
        if self.rejects(stored):
            return "INVALID_AUDIENCE_MEMBER", stored
        return None, stored


def _tokens(m: dict[str, Any]) -> set[tuple[str, Any]]:
    t = {(k, m[k]) for k in ("email", "phone") if m.get(k)}
    addr = tuple(m.get(k) for k in ("given_name", "family_name", "region_code", "postal_code"))
    if all(addr):
        t.add(("address", addr))
    return t


def _hash_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        return "INVALID_HEX_ENCODING"
    if not _HEX64.fullmatch(value):
        return "INVALID_SHA256_FORMAT"
    return None


def _json(request: PreparedRequest) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except (ValueError, TypeError):
        return None
