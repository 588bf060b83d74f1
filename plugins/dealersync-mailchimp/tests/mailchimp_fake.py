"""A stateful fake of the Mailchimp Marketing API (the parts the ``mailchimp`` connector uses).

It holds lists of contacts (email, status, merge fields) and static segments (tags) of contact
hashes, and enforces what the real API documents:

* at most 500 members per batch upsert (``POST /lists/{id}``) and per static-segment change
  (``members_to_add`` / ``members_to_remove``): more is a 400;
* ``status`` is required on each upsert member; with ``update_existing: false`` an existing
  contact is an ``ERROR_CONTACT_EXISTS`` row and keeps its status; with ``update_existing: true``
  a contact that unsubscribed or was cleaned is a compliance error row and keeps its status
  (Mailchimp never lets an API resubscribe it); permanently deleted ("forgotten") addresses
  cannot be re-imported; 200 even when rows fail;
* at most 10 simultaneous connections: an 11th request in flight is answered 429;
* HTTP Basic auth with the configured key (anything else: 401);
* member ``status`` one of the documented values (subscribed, unsubscribed, cleaned, pending,
  transactional: Marketing API reference, "Batch subscribe or unsubscribe", ``members[].status``);
  merge field keys must be the list's merge tags (``merge_tags``, default FNAME/LNAME as a new
  Mailchimp audience has) unless ``skip_merge_validation`` is true; a value is kept as sent;
* batch operations (Marketing API reference, "Batch operations": ``POST /batches`` with
  ``operations[]`` of ``method``, ``path``, ``params``, ``body``, ``operation_id``; anything else in
  an operation is a 400): the batch answers ``pending`` and runs asynchronously, ``GET
  /batches/{id}`` reports ``started`` for ``batch_polls_until_finished`` polls, then ``finished``
  with ``total_operations``, ``finished_operations``, ``errored_operations`` and a
  ``response_body_url``: a gzipped tar of JSON arrays of ``{status_code, operation_id,
  response}``, downloaded without the API key. Only the connector's own operation (taking a tag
  off: ``DELETE /lists/{id}/segments/{seg}/members/{hash}``) is executed; another path is a 400
  in the results.

Fault injection: :meth:`fail` answers the next N matching requests with a status (and
headers / no body), :meth:`lose_answers` lets ``after`` matching requests through, then applies
the next N and raises ``requests.ConnectionError`` (the answer was lost), :meth:`time_out` raises
``requests.Timeout`` before applying. Use :meth:`running` (not ``strict_http``, which counts an
injected network error as an unmocked request) when injecting network errors.

:meth:`members` gives a segment's (tag's) members as the connector's identifier fields
(``email``, ``subscriber_hash``, ``first_name``/``last_name`` from FNAME/LNAME), which is what
the conformance kit compares with what it sent.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import itertools
import json
import tarfile
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from dealersync.testing import FakePlatform
from requests import PreparedRequest

STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
BATCH_OP_KEYS = {"method", "path", "params", "body", "operation_id"}
RESULTS_URL = "https://mailchimp-api-batch.fake.test/results"
MAX = 500
MAX_CONNECTIONS = 10
API_KEY = "0123456789abcdef0123456789abcdef-us21"
LIST_ID = "abc123"


def md5(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "fake",
    }


@dataclass
class Fault:
    method: str
    path: str  # regex searched in the URL path
    times: int
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # None: no body at all
    kind: str = "status"  # status | lose | timeout | pass (answered normally)


class FakeMailchimp(FakePlatform):
    base_url = "https://us21.api.mailchimp.com/3.0"
    max_rows = MAX

    def __init__(
        self, api_key: str = API_KEY, base_url: str | None = None, latency: float = 0.0,
        lists: Iterable[str] = (LIST_ID,),
    ) -> None:
        super().__init__()
        if base_url:
            self.base_url = base_url  # type: ignore[misc]
        self.api_key = api_key
        self.latency = latency
        self.patches: list[Any] = []  # bodies of member PATCH requests
        self.calls: list[str] = []  # "METHOD /path template" of every request that reached a handler
        #: list id -> subscriber hash -> {"email", "status", "merge_fields"}
        self.contacts: dict[str, dict[str, dict[str, Any]]] = {}
        #: list id -> segment id -> {"name", "members": set of hashes}
        self.segments: dict[str, dict[str, dict[str, Any]]] = {}
        #: list id -> hashes of permanently deleted contacts (cannot be re-imported)
        self.forgotten: dict[str, set[str]] = {}
        self.faults: list[Fault] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.refused_for_concurrency = 0
        self.upsert_bodies: list[dict[str, Any]] = []
        self.injected_exceptions = 0
        self._flight_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._seg_ids = itertools.count(1001)
        self.merge_tags = {"FNAME", "LNAME"}
        #: batch id -> {"results": [...], "polls": int}; GET answers "started" until polls run out
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_polls_until_finished = 0
        self._batch_ids = itertools.count(1)
        for list_id in lists:
            self.add_list(list_id)

    # ------------------------------------------------------------------------ test set-up
    def add_list(self, list_id: str = LIST_ID, name: str = "Dealer") -> str:
        self.contacts.setdefault(list_id, {})
        self.segments.setdefault(list_id, {})
        self.forgotten.setdefault(list_id, set())
        self.list_names[list_id] = name
        return list_id

    def put_contact(self, list_id: str, email: str, status: str, **merge: str) -> str:
        h = md5(email)
        self.contacts[list_id][h] = {"email": email, "status": status, "merge_fields": dict(merge)}
        return h

    def add_segment(self, list_id: str, name: str, emails: Iterable[str] = ()) -> str:
        seg_id = str(next(self._seg_ids))
        self.segments[list_id][seg_id] = {"name": name, "members": {md5(e) for e in emails}}
        return seg_id

    def segment_id(self, list_id: str, name: str) -> str | None:
        return next((s for s, seg in self.segments.get(list_id, {}).items() if seg["name"] == name), None)

    def status(self, list_id: str, email: str) -> str | None:
        c = self.contacts.get(list_id, {}).get(md5(email))
        return c["status"] if c else None

    def tagged(self, list_id: str, name: str) -> set[str]:
        """Emails carrying the tag ``name`` (lowercase)."""
        seg = self.segment_id(list_id, name)
        if seg is None:
            return set()
        held = self.contacts[list_id]
        return {held[h]["email"].lower() for h in self.segments[list_id][seg]["members"]}

    def fail(self, method: str, path: str, status: int, times: int = 1, headers: dict[str, str] | None = None,
             body: Any = "problem") -> None:
        """Answer the next ``times`` requests matching ``method`` and ``path`` (regex) with ``status``."""
        if body == "problem":
            body = problem(status, {429: "Too Many Requests", 500: "Internal Server Error"}.get(status, "Error"), "fake")
        self.faults.append(Fault(method, path, times, status, dict(headers or {}), body))

    def lose_answers(self, method: str, path: str, times: int, after: int = 0) -> None:
        """Let ``after`` matching requests through, then apply the next ``times`` ones and lose
        their answers (``requests.ConnectionError``)."""
        if after:
            self.faults.append(Fault(method, path, after, kind="pass"))
        self.faults.append(Fault(method, path, times, kind="lose"))

    def time_out(self, method: str, path: str, times: int) -> None:
        self.faults.append(Fault(method, path, times, kind="timeout"))

    @contextmanager
    def running(self) -> Iterator[responses.RequestsMock]:
        """The fake answering HTTP. Unlike ``strict_http`` it tolerates injected network errors,
        but still fails on a request no route answers."""
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            self.register(rsps)
            yield rsps
            failed = [c for c in rsps.calls if isinstance(c.response, Exception)]
            stray = [f"{c.request.method} {c.request.url}" for c in failed if "fake:" not in str(c.response)]
            assert not stray, f"requests the fake does not answer: {stray}"

    # ------------------------------------------------------------------- FakePlatform API
    def members(self, list_id: str) -> list[dict[str, Any]]:
        """A segment's members (``list_id`` is the segment id the connector's audience carries)."""
        for lid, segs in self.segments.items():
            if list_id in segs:
                out = []
                for h in sorted(segs[list_id]["members"]):
                    c = self.contacts[lid][h]
                    m = {"email": c["email"], "subscriber_hash": h}
                    if c["merge_fields"].get("FNAME"):
                        m["first_name"] = c["merge_fields"]["FNAME"]
                    if c["merge_fields"].get("LNAME"):
                        m["last_name"] = c["merge_fields"]["LNAME"]
                    out.append(m)
                return out
        return []

    def register(self, rsps: responses.RequestsMock) -> None:
        self.route(rsps, "GET", "/lists/{list_id}", self.get_list)
        self.route(rsps, "POST", "/lists/{list_id}", self.batch_upsert)
        self.route(rsps, "GET", "/lists/{list_id}/members/{hash}", self.get_member)
        self.route(rsps, "GET", "/lists/{list_id}/segments", self.list_segments)
        self.route(rsps, "GET", "/lists/{list_id}/segments/{seg_id}", self.get_segment)
        self.route(rsps, "PATCH", "/lists/{list_id}/members/{hash}", self.patch_member)
        self.route(rsps, "POST", "/lists/{list_id}/segments", self.create_segment)
        self.route(rsps, "POST", "/lists/{list_id}/segments/{seg_id}", self.change_segment)
        self.route(rsps, "DELETE", "/lists/{list_id}/segments/{seg_id}/members/{hash}", self.untag_one)
        self.route(rsps, "POST", "/batches", self.start_batch)
        self.route(rsps, "GET", "/batches/{batch_id}", self.get_batch)
        results = re.compile("^" + re.escape(RESULTS_URL) + r"/(\w+)\.tar\.gz$")
        self._routes.append(rsps.add_callback("GET", results, callback=self._results))

    def route(self, rsps: responses.RequestsMock, method: str, path: str, handler: Callable[..., Any]) -> None:
        """Like :meth:`FakePlatform.route`, plus auth, the connection cap, faults, bodiless answers."""
        parts = re.split(r"\{(\w+)\}", path)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/?#]+)" for i, p in enumerate(parts))
        pattern = re.compile("^" + re.escape(self.base_url.rstrip("/")) + regex + r"(\?.*)?$")

        def callback(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
            with self._flight_lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                crowded = self.in_flight > MAX_CONNECTIONS
            try:
                if self.latency:
                    time.sleep(self.latency)
                if crowded:
                    self.refused_for_concurrency += 1
                    return _answer(429, problem(429, "Too Many Requests", "too many simultaneous connections"))
                if not self._authorized(request):
                    return _answer(401, problem(401, "API Key Invalid", "Your API key may be invalid."))
                fault = self._take_fault(method, request)
                if fault is not None and fault.kind == "status":
                    return _answer(fault.status, fault.body, fault.headers)
                if fault is not None and fault.kind == "timeout":
                    self.injected_exceptions += 1
                    raise requests.Timeout("fake: read timed out")
                match = pattern.match(request.url or "")
                assert match is not None
                with self._state_lock:
                    self.calls.append(f"{method} {path}")
                    status, payload = handler(request, _body(request), **match.groupdict())
                if fault is not None and fault.kind == "lose":
                    self.injected_exceptions += 1
                    raise requests.ConnectionError("fake: connection reset after the request was applied")
                return _answer(status, payload)
            finally:
                with self._flight_lock:
                    self.in_flight -= 1

        self._routes.append(rsps.add_callback(method, pattern, callback=callback))

    def _authorized(self, request: PreparedRequest) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            _, _, key = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return key == self.api_key

    def _take_fault(self, method: str, request: PreparedRequest) -> Fault | None:
        path = urlsplit(request.url or "").path
        with self._flight_lock:
            for f in self.faults:
                if f.times > 0 and f.method == method and re.search(f.path, path):
                    f.times -= 1
                    return f
        return None

    # ----------------------------------------------------------------------------- routes
    def _no_list(self, list_id: str) -> tuple[int, Any] | None:
        if list_id not in self.contacts:
            return 404, problem(404, "Resource Not Found", "The requested resource could not be found.")
        return None

    def get_list(self, request: PreparedRequest, body: Any, list_id: str) -> tuple[int, Any]:
        if missing := self._no_list(list_id):
            return missing
        return 200, {"id": list_id, "name": self.list_names.get(list_id, "")}

    def batch_upsert(self, request: PreparedRequest, body: Any, list_id: str) -> tuple[int, Any]:
        if missing := self._no_list(list_id):
            return missing
        if not isinstance(body, dict) or not isinstance(body.get("members"), list):
            return 400, problem(400, "Invalid Resource", "members is required")
        members = body["members"]
        if len(members) > MAX:
            return 400, problem(400, "Invalid Resource", f"{len(members)} members: at most {MAX} per call")
        self.record_batch(len(members))
        self.upsert_bodies.append(body)
        update = bool(body.get("update_existing"))
        held = self.contacts[list_id]
        new, updated, errors = [], [], []
        for item in members:
            email = str(item.get("email_address") or "")
            status = item.get("status")
            if status not in STATUSES:
                return 400, problem(400, "Invalid Resource", "each member needs a status")
            h = md5(email)
            unknown_tags = set(item.get("merge_fields") or {}) - self.merge_tags
            if unknown_tags:
                errors.append(_row(email, f"Your merge fields were invalid: {sorted(unknown_tags)[0]} is not a"
                                   " merge field of this audience.", "ERROR_GENERIC"))
                continue
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) or self.rejects(item):
                errors.append(_row(email, f"{email} looks fake or invalid, please enter a real email address.",
                                   "ERROR_GENERIC"))
                continue
            if h in self.forgotten[list_id]:
                errors.append(_row(email, f"{email} was permanently deleted and cannot be re-imported as a"
                                   " contact. Please use a different email address.", "ERROR_GENERIC"))
                continue
            contact = held.get(h)
            if contact is None or contact["status"] == "archived":
                held[h] = {"email": email, "status": status, "merge_fields": dict(item.get("merge_fields") or {})}
                new.append({"email_address": email, "id": h, "status": status})
            elif not update:
                errors.append(_row(email, f"{email} is already a list member. Use PUT to insert or update list"
                                   " members.", "ERROR_CONTACT_EXISTS"))
            elif contact["status"] in ("unsubscribed", "cleaned"):  # never resubscribed through the API
                errors.append(_row(email, f"{email} is in a compliance state due to unsubscribe, bounce, or"
                                   " compliance review and cannot be subscribed.", "ERROR_GENERIC"))
            else:
                contact["status"] = status
                contact["merge_fields"].update(item.get("merge_fields") or {})
                updated.append({"email_address": email, "id": h, "status": status})
        return 200, {
            "new_members": new,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(new),
            "total_updated": len(updated),
            "error_count": len(errors),
        }

    def get_member(self, request: PreparedRequest, body: Any, list_id: str, hash: str) -> tuple[int, Any]:
        if missing := self._no_list(list_id):
            return missing
        c = self.contacts[list_id].get(hash)
        if c is None:
            return 404, problem(404, "Resource Not Found", "The requested resource could not be found.")
        full = {"id": hash, "email_address": c["email"], "status": c["status"], "merge_fields": c["merge_fields"]}
        return 200, _only_fields(request, full)

    def patch_member(self, request: PreparedRequest, body: Any, list_id: str, hash: str) -> tuple[int, Any]:
        """Update a list member (Marketing API reference, Lists > Members > "Update list member",
        ``PATCH /lists/{list_id}/members/{subscriber_hash}``): only the fields sent change; merge
        tags the audience lacks are refused; an unknown member is 404."""
        if missing := self._no_list(list_id):
            return missing
        self.patches.append(body)
        contact = self.contacts[list_id].get(hash)
        if contact is None:
            return 404, problem(404, "Resource Not Found", "The requested resource could not be found.")
        if not isinstance(body, dict) or set(body) - PATCH_FIELDS:
            return 400, problem(400, "Invalid Resource", "The resource submitted could not be validated.")
        unknown_tags = set(body.get("merge_fields") or {}) - self.merge_tags
        if unknown_tags:
            return 400, problem(400, "Invalid Resource", f"Your merge fields were invalid: {sorted(unknown_tags)[0]}")
        contact["merge_fields"].update(body.get("merge_fields") or {})
        return 200, {"id": hash, "email_address": contact["email"], "status": contact["status"],
                     "merge_fields": contact["merge_fields"]}

    def list_segments(self, request: PreparedRequest, body: Any, list_id: str) -> tuple[int, Any]:
        if missing := self._no_list(list_id):
            return missing
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}
        count, offset = min(int(q.get("count", 10)), 1000), int(q.get("offset", 0))
        segs = [
            {"id": int(s), "name": seg["name"], "member_count": len(seg["members"]), "type": "static"}
            for s, seg in self.segments[list_id].items()
        ]
        return 200, {"segments": segs[offset : offset + count], "total_items": len(segs)}

    def get_segment(self, request: PreparedRequest, body: Any, list_id: str, seg_id: str) -> tuple[int, Any]:
        """Get segment info (``member_count``); 404 for a deleted segment, as Mailchimp answers."""
        if missing := self._no_list(list_id):
            return missing
        seg = self.segments[list_id].get(seg_id)
        if seg is None:
            return 404, problem(404, "Resource Not Found", "The requested resource could not be found.")
        full = {"id": int(seg_id), "name": seg["name"], "member_count": len(seg["members"]), "type": "static"}
        return 200, _only_fields(request, full)

    def create_segment(self, request: PreparedRequest, body: Any, list_id: str) -> tuple[int, Any]:
        if missing := self._no_list(list_id):
            return missing
        name = (body or {}).get("name")
        if not name or "static_segment" not in body:
            return 400, problem(400, "Invalid Resource", "name and static_segment are required")
        if self.segment_id(list_id, name) is not None:
            return 400, problem(400, "Invalid Resource", "A tag with this name already exists.")
        emails = body["static_segment"]
        seg_id = self.add_segment(list_id, name, [e for e in emails if md5(e) in self.contacts[list_id]])
        return 200, {"id": int(seg_id), "name": name, "member_count": len(emails), "type": "static"}

    def change_segment(self, request: PreparedRequest, body: Any, list_id: str, seg_id: str) -> tuple[int, Any]:
        if missing := self._no_list(list_id):
            return missing
        seg = self.segments[list_id].get(seg_id)
        if seg is None:
            return 404, problem(404, "Resource Not Found", "The requested segment could not be found.")
        add = list((body or {}).get("members_to_add") or [])
        rem = list((body or {}).get("members_to_remove") or [])
        if len(add) > MAX or len(rem) > MAX:
            return 400, problem(400, "Invalid Resource", f"at most {MAX} members_to_add / members_to_remove")
        self.record_batch(len(add) + len(rem))
        held = self.contacts[list_id]
        added, removed, missing_emails = [], [], []
        for e in add:
            h = md5(e)
            if h not in held or held[h]["status"] == "archived":
                missing_emails.append(e)
            elif h not in seg["members"]:
                seg["members"].add(h)
                added.append({"id": h, "email_address": held[h]["email"]})
        for e in rem:
            h = md5(e)
            if h in seg["members"]:
                seg["members"].discard(h)
                removed.append({"id": h, "email_address": held[h]["email"]})
        errors = [{"email_addresses": missing_emails, "error": "Email addresses are not subscribed to the list"}] \
            if missing_emails else []
        return 200, {
            "members_added": added,
            "members_removed": removed,
            "errors": errors,
            "total_added": len(added),
            "total_removed": len(removed),
            "error_count": len(missing_emails),
        }

    def untag_one(self, request: PreparedRequest, body: Any, list_id: str, seg_id: str, hash: str) -> tuple[int, Any]:
        """``DELETE`` of one member's tag: a request of one member."""
        self.record_batch(1)
        return self.untag(request, body, list_id, seg_id, hash)

    def untag(self, request: PreparedRequest, body: Any, list_id: str, seg_id: str, hash: str) -> tuple[int, Any]:
        if missing := self._no_list(list_id):
            return missing
        seg = self.segments[list_id].get(seg_id)
        if seg is None or hash not in seg["members"]:
            return 404, problem(404, "Resource Not Found", "The requested resource could not be found.")
        seg["members"].discard(hash)
        return 204, None


    # ------------------------------------------------------------------- batch operations
    _UNTAG = re.compile(r"^/lists/(?P<list_id>[^/]+)/segments/(?P<seg_id>[^/]+)/members/(?P<hash>[^/]+)$")

    def start_batch(self, request: PreparedRequest, body: Any, **_: str) -> tuple[int, Any]:
        ops = body.get("operations") if isinstance(body, dict) else None
        if not isinstance(ops, list) or set(body) - {"operations"}:
            return 400, problem(400, "Invalid Resource", "operations: an array is required")
        for i, op in enumerate(ops):
            if not isinstance(op, dict) or set(op) - BATCH_OP_KEYS or op.get("method") not in (
                "GET", "POST", "PUT", "PATCH", "DELETE"
            ) or not isinstance(op.get("path"), str):
                return 400, problem(400, "Invalid Resource", f"operations item {i} is not a valid operation")
        results = []
        # Mailchimp documents no limit on operations per batch ("As long as the request fits this
        # format, you'll receive a 200": developer guide "Run Async Requests with the Batch
        # Endpoint"), so the fake refuses none; the connector's own 500 a batch is checked by the
        # conformance kit through record_batch.
        self.record_batch(len(ops))  # one request carrying every operation's member
        for op in ops:
            m = self._UNTAG.match(op["path"])
            if op["method"] == "DELETE" and m:
                status, payload = self.untag(request, None, **m.groupdict())
            else:
                status, payload = 400, problem(400, "Invalid Resource", "the fake runs only tag removals")
            results.append({"status_code": status, "operation_id": op.get("operation_id"),
                            "response": json.dumps(payload) if payload is not None else ""})
        batch_id = f"b{next(self._batch_ids):06d}"
        self.batches[batch_id] = {"results": results, "polls": self.batch_polls_until_finished}
        return 200, self._batch_view(batch_id, "pending")

    def get_batch(self, request: PreparedRequest, body: Any, batch_id: str) -> tuple[int, Any]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, problem(404, "Resource Not Found", "The requested resource could not be found.")
        if batch["polls"] > 0:
            batch["polls"] -= 1
            return 200, self._batch_view(batch_id, "started")
        return 200, self._batch_view(batch_id, "finished")

    def _batch_view(self, batch_id: str, status: str) -> dict[str, Any]:
        results = self.batches[batch_id]["results"]
        done = status == "finished"
        return {
            "id": batch_id,
            "status": status,
            "total_operations": len(results),
            "finished_operations": len(results) if done else 0,
            "errored_operations": sum(r["status_code"] >= 400 for r in results) if done else 0,
            "response_body_url": f"{RESULTS_URL}/{batch_id}.tar.gz" if done else "",
        }

    def _results(self, request: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        assert "Authorization" not in request.headers, "the results URL must be fetched without the API key"
        batch_id = (request.url or "").rsplit("/", 1)[-1].removesuffix(".tar.gz")
        data = json.dumps(self.batches[batch_id]["results"]).encode()
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo(f"{batch_id}/response.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        return 200, {"Content-Type": "application/x-gzip"}, gzip.compress(raw.getvalue())


def _row(email: str, error: str, code: str) -> dict[str, Any]:
    return {"email_address": email, "error": error, "error_code": code, "field": "", "field_message": ""}


def _answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    if payload is None:
        return status, dict(headers or {}), ""
    kind = "application/problem+json" if status >= 400 else "application/json"
    return status, {"Content-Type": kind, **(headers or {})}, json.dumps(payload)


def _body(request: PreparedRequest) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except (ValueError, TypeError):
        return None


#: Body fields of "Update list member" (a subset of the reference's: what a sync could send).
PATCH_FIELDS = {"email_address", "email_type", "status", "merge_fields", "interests", "language", "vip", "location",
                "marketing_permissions", "ip_signup", "timestamp_signup", "ip_opt", "timestamp_opt"}


def _only_fields(request: PreparedRequest, full: dict[str, Any]) -> dict[str, Any]:
    """The answer cut to the ``fields`` query parameter, as Mailchimp does."""
    fields = parse_qs(urlsplit(request.url or "").query).get("fields")
    return {k: v for k, v in full.items() if k in set(fields[0].split(","))} if fields else full
