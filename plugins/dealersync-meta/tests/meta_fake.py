"""A stateful fake of Meta's Marketing API (custom audiences), for ``responses`` and for a real
HTTP server on 127.0.0.1.

It holds the ad account's audiences and their members and enforces what Meta documents, each
rule with its source:

* the access token (``Authorization: Bearer``; error 190 otherwise, as Meta answers: HTTP 400);
* parameters where the official SDK puts them (facebook-python-business-sdk ``api.py``,
  ``FacebookAdsApi.call``): ``POST`` in the body (form, top-level values JSON-encoded; a JSON
  body is taken too), ``GET`` and ``DELETE`` in the query string. A ``DELETE``'s body is
  **ignored**, as Meta ignored it for facebook-python-business-sdk#156 ("(#100) Missing
  required parameter: payload"), so a removal sent in a body removes nobody and fails;
* only the parameters the SDK's generated methods declare (``customaudience.py``
  ``create_user`` / ``delete_users`` / ``create_users_replace``: ``namespace``, ``payload``,
  ``session``; ``adaccount.py`` ``create_custom_audience``), enums as the SDK lists them
  (``subtype``, ``customer_file_source``), ``lookalike_spec`` keys of the SDK's ``LookalikeSpec``;
  anything else is error 100, so a misreading fails a test;
* a request URL longer than :attr:`FakeMeta.max_url_bytes` is refused with an HTML error page
  (HTTP 414): Meta documents no limit; users report removals failing past ~150-180 KB of URL
  (facebook-python-business-sdk#367, #717; facebook-java-business-sdk#179, #257 for the HTML page);
* at most 10,000 rows per ``/users`` request (error 100; Marketing API, Custom Audiences: "a
  maximum of 10000 at a time");
* flagged names: an audience created with a name holding one of Meta's published example terms
  (:data:`FLAGGED_TERMS`) reports ``operation_status`` 471 and refuses uploads with error 100 /
  subcode 1713230 "Audience Upload Blocked" (Custom Audience reference, Sept 2025 notice, and its
  ``usersreplace`` edge);
* lookalikes: ``lookalike_spec.type`` ``similarity`` or ``reach`` (no ratio) or ``custom_ratio``
  with ``ratio`` 0.01-0.20 (the reference; the SDK's examples use ``custom_ratio``), a country;
* small audiences: with :attr:`FakeMeta.removal_floor` set, a removal that would leave fewer
  members is refused with the message users report (grouparoo/grouparoo#1108: "Audience Size too
  low: You cannot remove users from this audience because it will result in a low audience
  size"; Meta documents neither its code nor the floor: code 100 here is a guess);
* a known multi-key schema; a row with the wrong number of cells, or a cell that is not a
  64-character lowercase hex SHA-256 digest, is an *invalid entry*: counted in
  ``num_invalid_entries``, sampled in ``invalid_entry_samples``, not stored;
* upload sessions: the first ``batch_seq`` of a session must be 1 and a session's batches come in
  order (a re-sent batch, same ``batch_seq``, is accepted: retries); otherwise error 2650/1870147;
  a batch after the session's ``last_batch_flag`` is refused too;
* ``usersreplace``: members staged over the session replace the list when the last batch arrives.

Members are stored as dicts of the destination's field names (``email``, ``phone``, ...), the
schema translated back. ``faults`` inject failures (see :class:`Fault`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.adobjects.lookalikespec import LookalikeSpec

import requests
import responses
from dealersync.testing import FakePlatform

TOKEN = "test-meta-token-9c1e77"
ACCOUNT = "act_1234567890"
VERSION = "v25.0"
MAX_ROWS = 10_000
FIELDS = {"EMAIL": "email", "PHONE": "phone", "FN": "fn", "LN": "ln", "CT": "ct", "ST": "st", "ZIP": "zip",
          "COUNTRY": "country"}
KNOWN_KEYS = {"EXTERN_ID", "EMAIL", "PHONE", "GEN", "DOBY", "DOBM", "DOBD", "LN", "FN", "FI", "CT", "ST", "ZIP",
              "MADID", "COUNTRY"}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: Meta's published examples of names it flags (Custom Audience reference, Sept 2025 notice).
FLAGGED_TERMS = ("credit score", "high income", "arthritis", "diabetes")
TOO_SMALL_MESSAGE = (
    "Audience Size too low: You cannot remove users from this audience because it will result in a low audience size."
)


def _sdk_params(request: Any) -> tuple[set[str], dict[str, set[str]]]:
    """The parameters and enum values the SDK's generated method declares."""
    checker = request._param_checker
    enums = {k: {v for v in vals if isinstance(v, str) and v.isupper()} for k, vals in checker._enum_data.items()}
    return set(checker._type_check_info), enums


CREATE_PARAMS, CREATE_ENUMS = _sdk_params(AdAccount("act_1").create_custom_audience(pending=True))
USERS_PARAMS, _ = _sdk_params(CustomAudience("1").delete_users(pending=True))
assert USERS_PARAMS == _sdk_params(CustomAudience("1").create_user(pending=True))[0]
LOOKALIKE_KEYS = set(LookalikeSpec._field_types)
PAYLOAD_KEYS = {"schema", "is_raw", "data", "app_ids", "page_ids", "ig_account_ids", "data_source"}
SESSION_KEYS = {"session_id", "batch_seq", "last_batch_flag", "estimated_num_total"}
LOST = "lost"  # a Fault.effect: the request is applied, then the answer never arrives


class LostAnswer(requests.ConnectionError):
    """The fake applied the request, then 'the connection dropped' before the answer."""


class SimulatedTimeout(requests.Timeout):
    """The fake 'timed out' before applying the request."""


@dataclass
class Req:
    method: str
    path: str  # after the version prefix, e.g. "/act_1/customaudiences"
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def params(self) -> dict[str, Any]:
        """The request's parameters where the SDK puts them: the query string for GET and DELETE
        (a DELETE body is ignored), else the form or JSON body; JSON-encoded values decoded."""
        if self.method in ("GET", "DELETE"):
            return {k: _json_or_text(v) for k, v in self.query.items()}
        if not self.body:
            return {}
        text = self.body.decode("utf-8")
        ctype = self.headers.get("content-type", "")
        if "json" in ctype or text[:1] == "{":
            return json.loads(text)
        return {k: _json_or_text(v[0]) for k, v in parse_qs(text, keep_blank_values=True).items()}


def _flagged(name: str) -> bool:
    words = " " + " ".join(re.findall(r"[^\W_]+", name.lower())) + " "
    return any(f" {t} " in words for t in FLAGGED_TERMS)


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


@dataclass
class Fault:
    """Make the ``nth`` call of ``op`` (and the ``times - 1`` calls after it) fail.

    ``op``: "add", "remove", "replace", "create", "list", "account", "audience" or "*".
    ``effect``: an HTTP ``(status, payload, headers)`` answered *instead of* applying, ``LOST`` (applied,
    then the connection drops: ``requests.ConnectionError``), or ``"timeout"`` (not applied,
    ``requests.Timeout``).
    """

    op: str
    effect: tuple[int, Any, dict[str, str]] | str
    nth: int = 1
    times: int = 1
    fired: int = 0


def meta_error(code: int, message: str, subcode: int | None = None, status: int = 400, **extra: Any) -> tuple[int, Any]:
    err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123"}
    if subcode is not None:
        err["error_subcode"] = subcode
    err.update(extra)
    return status, {"error": err}


class FakeMeta(FakePlatform):
    base_url = f"https://graph.facebook.com/{VERSION}"
    max_rows = MAX_ROWS

    #: Longest URL answered (bytes): about the most users report working (see the module doc).
    max_url_bytes = 146_000

    def __init__(self, token: str = TOKEN, account: str = ACCOUNT, page_size: int = 25) -> None:
        super().__init__()
        self.removal_floor: int | None = None  # refuse removals leaving fewer members (see module doc)
        self.requests: list[tuple[str, str, int]] = []  # (method, op, URL bytes) of every request
        self.token = token
        self.account = account
        self.page_size = page_size
        self.audiences: dict[str, dict[str, Any]] = {}  # id -> {"name", "subtype", ...}
        self.sessions: dict[tuple[str, str, int], dict[str, Any]] = {}  # (op, audience, session_id)
        self.faults: list[Fault] = []
        self.calls: dict[str, int] = {}
        self.applied: list[tuple[str, int, int]] = []  # (op, session_id, batch_seq) per applied upload
        self.lock = threading.RLock()
        self.on_applied: Callable[[str, int], None] | None = None  # (op, count of applied uploads)
        self._next_id = 23840000000000001

    # ------------------------------------------------------------------------- helpers
    def new_list(self, name: str = "", **attrs: Any) -> str:
        list_id = str(self._next_id)
        self._next_id += 1
        self.lists[list_id] = []
        self.list_names[list_id] = name
        self.audiences[list_id] = {"name": name, **attrs}
        return list_id

    def only_list(self) -> str:
        customs = [i for i, a in self.audiences.items() if a.get("subtype") == "CUSTOM"]
        assert len(customs) == 1, f"{len(customs)} custom audiences on the fake"
        return customs[0]

    # ------------------------------------------------------------------------- routing
    ROUTES: ClassVar[tuple[tuple[str, str, str, str], ...]] = (
        # method, path regex, op, handler
        ("GET", r"/(?P<account>act_\d+)", "account", "get_account"),
        ("GET", r"/(?P<account>act_\d+)/customaudiences", "list", "list_audiences"),
        ("POST", r"/(?P<account>act_\d+)/customaudiences", "create", "create_audience"),
        ("GET", r"/(?P<audience>\d+)", "audience", "get_audience"),
        ("POST", r"/(?P<audience>\d+)/users", "add", "users"),
        ("DELETE", r"/(?P<audience>\d+)/users", "remove", "users"),
        ("POST", r"/(?P<audience>\d+)/usersreplace", "replace", "users"),
    )

    def register(self, rsps: responses.RequestsMock) -> None:
        prefix = re.escape(self.base_url.rstrip("/"))
        for method, path, _op, _h in self.ROUTES:
            pattern = re.compile("^" + prefix + path + r"(\?.*)?$")

            def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
                parts = urlsplit(request.url or "")
                body = request.body or b""
                body = body.encode("utf-8") if isinstance(body, str) else body
                status, payload, headers = self.dispatch(
                    request.method or "GET",
                    parts.path.removeprefix(urlsplit(self.base_url).path),
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in request.headers.items()},
                    body,
                    url_bytes=len(request.url or ""),
                )
                if isinstance(payload, str):
                    return status, {"Content-Type": "text/html", **headers}, payload
                return status, {"Content-Type": "application/json", **headers}, json.dumps(payload)

            self._routes.append(rsps.add_callback(method, pattern, callback=callback))

    def dispatch(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes,
        url_bytes: int = 0,
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request; raises requests.ConnectionError / Timeout for injected network faults."""
        for m, regex, op, handler in self.ROUTES:
            match = re.fullmatch(regex, path)
            if m != method or not match:
                continue
            req = Req(method, path, query, headers, body)
            with self.lock:
                self.calls[op] = self.calls.get(op, 0) + 1
                self.requests.append((method, op, url_bytes))
                if url_bytes > self.max_url_bytes:
                    return 414, "<html><title>Facebook | Error</title><body>Sorry, something went wrong.</body></html>", {}
                fault = self._fault(op)
                if fault == "timeout":
                    raise SimulatedTimeout("simulated timeout")
                if isinstance(fault, tuple):
                    return fault
                denied = self._auth(req)
                if denied:
                    return (*denied, {})
                status, payload = getattr(self, handler)(req, op=op, **match.groupdict())
                if fault == LOST:
                    raise LostAnswer("simulated: the answer was lost")
                return status, payload, {}
        return (*meta_error(100, f"Unsupported {method} request."), {})

    def _fault(self, op: str) -> tuple[int, Any, dict[str, str]] | str | None:
        for f in self.faults:
            if f.op not in (op, "*"):
                continue
            if self.calls[op] >= f.nth and f.fired < f.times:
                f.fired += 1
                return f.effect
        return None

    def _auth(self, req: Req) -> tuple[int, Any] | None:
        if "access_token" in req.query:
            return meta_error(100, "the fake wants the token in the Authorization header, not the URL")
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return meta_error(190, "Error validating access token: The session has been invalidated.", 460)
        return None

    # ------------------------------------------------------------------------ handlers
    def get_account(self, req: Req, op: str, account: str) -> tuple[int, Any]:
        if account != self.account:
            return meta_error(100, "Unsupported get request. Object does not exist.", 33)
        return 200, {"id": account, "name": "Dealer ad account"}

    def list_audiences(self, req: Req, op: str, account: str) -> tuple[int, Any]:
        if account != self.account:
            return meta_error(100, "Unsupported get request. Object does not exist.", 33)
        limit = min(int(req.query.get("limit", 25)), self.page_size)
        ids = sorted(self.audiences)
        start = ids.index(req.query["after"]) + 1 if req.query.get("after") in ids else 0
        page = ids[start : start + limit]
        data = [self._public(i) for i in page]
        out: dict[str, Any] = {"data": data}
        if page:
            out["paging"] = {"cursors": {"before": page[0], "after": page[-1]}}
            if start + limit < len(ids):
                out["paging"]["next"] = f"{self.base_url}/{account}/customaudiences?after={page[-1]}"
        return 200, out

    def create_audience(self, req: Req, op: str, account: str) -> tuple[int, Any]:
        if req.query:
            return meta_error(100, "the fake wants parameters in the body")
        p = req.params()
        unknown = sorted(set(p) - CREATE_PARAMS)
        if unknown:
            return meta_error(100, f"(#100) Param {unknown[0]} is not a parameter of this edge")
        for key in ("subtype", "customer_file_source"):
            if key in p and p[key] not in CREATE_ENUMS[f"{key}_enum"]:
                return meta_error(100, f"(#100) {key} must be one of the enum values")
        if account != self.account:
            return meta_error(100, "Unsupported post request. Object does not exist.", 33)
        if not p.get("name"):
            return meta_error(100, "(#100) The parameter name is required")
        if p.get("subtype") == "CUSTOM":
            if p.get("customer_file_source") not in (
                "USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"
            ):
                return meta_error(100, "(#100) customer_file_source must be one of the enum values")
            flagged = _flagged(str(p["name"]))
            list_id = self.new_list(p["name"], subtype="CUSTOM", customer_file_source=p["customer_file_source"],
                                    description=p.get("description", ""), blocked=flagged)
        elif p.get("subtype") == "LOOKALIKE":
            spec = p.get("lookalike_spec")
            spec = json.loads(spec) if isinstance(spec, str) else spec
            origin = str(p.get("origin_audience_id", ""))
            if origin not in self.audiences:
                return meta_error(100, "(#100) origin_audience_id is not an audience of this account")
            if not isinstance(spec, dict) or set(spec) - LOOKALIKE_KEYS:
                return meta_error(100, "(#100) lookalike_spec has a key LookalikeSpec does not know")
            if spec.get("type") not in ("similarity", "reach", "custom_ratio"):
                return meta_error(100, "(#100) lookalike_spec.type is invalid")
            if (spec["type"] == "custom_ratio") != ("ratio" in spec):
                return meta_error(100, "(#100) lookalike_spec: a ratio goes with type custom_ratio only")
            if "ratio" in spec and not 0.01 <= float(spec["ratio"]) <= 0.20:
                return meta_error(100, "(#100) lookalike_spec ratio must be 0.01 to 0.20")
            if not re.fullmatch(r"[A-Z]{2}", str(spec.get("country"))):
                return meta_error(100, "(#100) lookalike_spec country is invalid")
            list_id = self.new_list(p["name"], subtype="LOOKALIKE", origin_audience_id=origin, lookalike_spec=spec)
        else:
            return meta_error(100, "(#100) subtype must be one of CUSTOM, LOOKALIKE, ...")
        return 200, {"id": list_id}

    def get_audience(self, req: Req, op: str, audience: str) -> tuple[int, Any]:
        if audience not in self.audiences:
            return meta_error(100, "Unsupported get request. Object does not exist.", 33)
        return 200, self._public(audience)

    def _public(self, audience: str) -> dict[str, Any]:
        """What Meta answers for an audience: id, name and, when flagged, operation_status 471."""
        out: dict[str, Any] = {"id": audience, "name": self.audiences[audience]["name"]}
        if self.audiences[audience].get("subtype") == "CUSTOM":  # Meta reports a range, not the count
            held = len(self.members(audience))
            out["approximate_count_lower_bound"] = held - held // 20
            out["approximate_count_upper_bound"] = held + held // 20
        out["operation_status"] = (
            {"code": 471, "description": "The custom audience or lookalike is blocked ..."}
            if self.audiences[audience].get("blocked") else {"code": 200, "description": "Normal"}
        )
        return out

    def users(self, req: Req, op: str, audience: str) -> tuple[int, Any]:
        if req.method == "POST" and ("payload" in req.query or "session" in req.query):
            return meta_error(100, "the fake wants a POST's payload in the body, not the URL")
        if audience not in self.audiences or self.audiences[audience].get("subtype") != "CUSTOM":
            return meta_error(100, "Unsupported request. Object does not exist.", 33)
        if self.audiences[audience].get("blocked"):
            return meta_error(100, "Audience Upload Blocked", 1713230)
        p = req.params()
        unknown = sorted(set(p) - USERS_PARAMS)
        if unknown:
            return meta_error(100, f"(#100) Param {unknown[0]} is not a parameter of this edge")
        payload, session = p.get("payload"), p.get("session")
        if not isinstance(payload, dict):
            return meta_error(100, "(#100) Missing required parameter: payload")
        if not isinstance(session, dict):
            return meta_error(100, "(#100) the fake wants a session (dealersync always sends one)")
        if set(payload) - PAYLOAD_KEYS or set(session) - SESSION_KEYS:
            return meta_error(100, "(#100) payload or session has a key the reference does not list")
        schema = payload.get("schema")
        schema = [schema] if isinstance(schema, str) else schema
        if not isinstance(schema, list) or not schema or any(k not in KNOWN_KEYS for k in schema):
            return meta_error(100, "(#100) Invalid schema")
        rows = payload.get("data")
        if not isinstance(rows, list):
            return meta_error(100, "(#100) data must be an array")
        if len(rows) > MAX_ROWS:
            return meta_error(100, f"(#100) Too many entries: at most {MAX_ROWS} per request")
        # sessions
        try:
            sid, seq = int(session["session_id"]), int(session["batch_seq"])
            last = bool(session["last_batch_flag"])
        except (KeyError, TypeError, ValueError):
            return meta_error(100, "(#100) session needs session_id, batch_seq, last_batch_flag")
        key = (op, audience, sid)
        known = self.sessions.get(key)
        if known is None:
            if seq != 1:
                return meta_error(2650, "Failed to update the custom audience: first batch_seq was not detected", 1870147)
            known = self.sessions[key] = {"seq": 0, "closed": False, "staged": []}
        elif known["closed"] and seq != known["seq"]:
            return meta_error(2650, "Failed to update the custom audience: the session has ended", 1870147)
        elif seq > known["seq"] + 1:
            return meta_error(2650, "Failed to update the custom audience: batch_seq out of order", 1870147)
        self.record_batch(len(rows))
        members, invalid = [], {}
        for row in rows:
            if not isinstance(row, list) or len(row) != len(schema) or not all(
                c == "" or (isinstance(c, str) and _HEX64.match(c)) for c in row
            ):
                invalid[json.dumps(row)[:80]] = "INVALID_FORMAT"
                continue
            m = {FIELDS.get(k, k.lower()): (c or None) for k, c in zip(schema, row, strict=True)}
            if not any(m.values()) or self.rejects(m):
                invalid[json.dumps(row)[:80]] = "INVALID_FORMAT"
                continue
            members.append(m)
        if op == "add":
            self.add_members(audience, members)
        elif op == "remove":
            if self.removal_floor is not None:
                keys = {json.dumps(m, sort_keys=True) for m in members}
                left = [m for m in self.lists[audience] if json.dumps(m, sort_keys=True) not in keys]
                if len(left) < self.removal_floor:
                    return meta_error(100, TOO_SMALL_MESSAGE, error_user_title="Audience Size too low")
            self.remove_members(audience, members)
        else:
            if seq != known["seq"]:  # a re-sent replace batch is not staged twice
                known["staged"] += members
            if last:
                self.lists[audience] = []
                self.add_members(audience, known["staged"])
        known["seq"] = max(known["seq"], seq)
        known["closed"] = known["closed"] or last
        self.applied.append((op, sid, seq))
        if self.on_applied is not None:
            self.on_applied(op, len(self.applied))
        return 200, {
            "audience_id": audience,
            "session_id": sid,
            "num_received": len(rows),
            "num_invalid_entries": len(invalid),
            "invalid_entry_samples": dict(list(invalid.items())[:10]),
        }


@contextmanager
def meta_http(fake: FakeMeta) -> Iterator[responses.RequestsMock]:
    """``responses`` serving ``fake``: like the kit's strict mocks (a request the fake does not
    model fails the test), but the fake's own injected network faults are allowed."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        yield rsps
        stray = [
            f"{c.request.method} {c.request.url}"
            for c in rsps.calls
            if isinstance(c.response, requests.RequestException)
            and not isinstance(c.response, LostAnswer | SimulatedTimeout)
        ]
        assert not stray, f"requests the Meta fake does not model: {stray}"


# ------------------------------------------------------------------------ real HTTP server
class FakeMetaServer:
    """``fake`` served over HTTP on 127.0.0.1 (a thread per request); stops itself after
    ``max_seconds`` whatever happens. ``gate(op)``: called before each upload is handled; it may
    block, and returning False drops the request unanswered without applying it."""

    def __init__(self, fake: FakeMeta, max_seconds: float = 120.0) -> None:
        self.fake = fake
        self.gate: Callable[[str], bool] | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = parts.path.removeprefix(f"/{VERSION}")
                op = next((o for m, rx, o, _ in FakeMeta.ROUTES if m == self.command and re.fullmatch(rx, path)), "")
                if outer.gate is not None and op in ("add", "remove", "replace") and not outer.gate(op):
                    self.close_connection = True  # dropped unanswered and not applied
                    return
                try:
                    status, payload, headers = outer.fake.dispatch(
                        self.command, path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                        {k.lower(): v for k, v in self.headers.items()}, body,
                        url_bytes=len(outer.url) + len(self.path),
                    )
                except (requests.ConnectionError, requests.Timeout):
                    self.close_connection = True
                    return
                text = isinstance(payload, str)
                data = payload.encode() if text else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._timer = threading.Timer(max_seconds, self.stop)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()


__all__ = ["ACCOUNT", "LOST", "TOKEN", "VERSION", "FakeMeta", "FakeMetaServer", "Fault", "LostAnswer", "meta_error", "meta_http"]
