"""A base for stateful fakes of a platform's API, on top of ``responses``.

A fake is a small model of the platform: lists of members it holds, and route handlers that
change them the way the real API would. The conformance kit reads the remote audience back from
it, tells it which members to refuse, and checks the member counts it saw per request::

    class FakeAcme(FakePlatform):
        base_url = "https://api.acme.test/v1"
        max_rows = 500                              # the platform's documented limit

        def register(self, rsps):
            self.route(rsps, "POST", "/lists", self.create_list)
            self.route(rsps, "POST", "/lists/{list_id}/members", self.add)

        def create_list(self, request, body):
            list_id = self.new_list()
            return 200, {"id": list_id, "name": body["name"]}

        def add(self, request, body, list_id):
            self.record_batch(len(body["members"]))
            errors = [i for i, m in enumerate(body["members"]) if self.rejects(m)]
            self.add_members(list_id, [m for i, m in enumerate(body["members"]) if i not in errors])
            return 200, {"errors": [{"index": i, "code": "INVALID"} for i in errors]}

Stored members are dicts of the destination's identifier fields as the platform received them
(translate the platform's schema back to those names when it differs), so the kit can compare
what it sent with what arrived.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, ClassVar

import responses
from requests import PreparedRequest

#: ``handler(request, body, **path_params) -> (status, json_payload)``
Handler = Callable[..., tuple[int, Any]]


class FakePlatform:
    """State and helpers shared by platform fakes. Subclasses implement :meth:`register`."""

    base_url: ClassVar[str]
    #: The platform's documented maximum of members per request, when it has one.
    max_rows: ClassVar[int | None] = None
    #: The longest request body the platform takes (bytes), when it documents one: the kit's
    #: ``request-bytes`` check sends members as large as the platform allows and holds every
    #: request to it.
    max_body_bytes: ClassVar[int | None] = None
    #: The longest request URL the platform answers (bytes, scheme to the last query byte).
    max_url_bytes: ClassVar[int | None] = None

    def __init__(self) -> None:
        self.lists: dict[str, list[dict[str, Any]]] = {}
        self.list_names: dict[str, str] = {}
        #: Members holding any of these values are refused (set by the kit's rejection check).
        self.reject_values: set[Any] = set()
        #: Members per request, as recorded by :meth:`record_batch`.
        self.request_sizes: list[int] = []
        self._ids = itertools.count(1)
        self._routes: list[responses.BaseResponse] = []
        #: list id -> (the list object indexed, its members by key): see :meth:`_index`
        self._indexes: dict[str, tuple[list[dict[str, Any]], dict[Hashable, dict[str, Any]]]] = {}

    # ----------------------------------------------------------------------- to implement
    def register(self, rsps: responses.RequestsMock) -> None:
        """Register the platform's routes on ``rsps`` with :meth:`route`."""
        raise NotImplementedError(f"{type(self).__name__}.register(rsps) must register the routes")

    # ---------------------------------------------------------------------------- routing
    def route(self, rsps: responses.RequestsMock, method: str, path: str, handler: Handler) -> None:
        """Answer ``method base_url+path`` with ``handler``; ``{name}`` in ``path`` is a parameter.

        The handler gets the request, its JSON body (``None`` when there is none or it is not
        JSON) and the path parameters; it returns ``(status, payload)``, sent as JSON.
        """
        parts = re.split(r"\{(\w+)\}", path)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/?#]+)" for i, p in enumerate(parts))
        pattern = re.compile("^" + re.escape(self.base_url.rstrip("/")) + regex + r"(\?.*)?$")

        def callback(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
            match = pattern.match(request.url or "")
            assert match is not None  # responses only calls back for matching URLs
            status, payload = handler(request, _json_body(request), **match.groupdict())
            return status, {"Content-Type": "application/json"}, json.dumps(payload)

        self._routes.append(rsps.add_callback(method, pattern, callback=callback))

    def unused_routes(self) -> list[responses.BaseResponse]:
        """Routes no request reached (a fake models a whole API; a test uses part of it)."""
        return [r for r in self._routes if r.call_count == 0]

    # ------------------------------------------------------------------------------ state
    def new_list(self, name: str = "") -> str:
        list_id = f"list-{next(self._ids)}"
        self.lists[list_id] = []
        self.list_names[list_id] = name
        return list_id

    def find_list(self, name: str) -> str | None:
        return next((i for i, n in self.list_names.items() if n == name), None)

    def members(self, list_id: str) -> list[dict[str, Any]]:
        """The members the platform holds in a list."""
        return list(self.lists.get(list_id, []))

    def key(self, member: Mapping[str, Any]) -> Hashable:
        """What makes two stored members the same person (default: the same non-empty values)."""
        return frozenset((k, v) for k, v in member.items() if v not in (None, ""))

    def add_members(self, list_id: str, members: Iterable[Mapping[str, Any]]) -> None:
        """Add members, the platform way: one already there is not added again."""
        held = self.lists.setdefault(list_id, [])
        index = self._index(list_id)
        for m in members:
            k = self.key(m)
            if k not in index:
                index[k] = dict(m)
                held.append(index[k])

    def remove_members(self, list_id: str, members: Iterable[Mapping[str, Any]]) -> None:
        held, index = self.lists.setdefault(list_id, []), self._index(list_id)
        gone = {k for k in map(self.key, members) if k in index}
        if len(index) != len(held):  # a subclass stored the same member twice: filter the slow way
            held[:] = [m for m in held if self.key(m) not in gone]
        elif gone:
            for k in gone:
                del index[k]
            held[:] = index.values()

    def _index(self, list_id: str) -> dict[Hashable, dict[str, Any]]:
        """A list's members by :meth:`key`, kept beside the list so a removal does not compute the
        key of every held member (the kit removes tens of thousands, a few hundred a request).
        Rebuilt when a subclass replaced or resized the list itself; stored members are replaced,
        never changed in place."""
        held = self.lists.setdefault(list_id, [])
        cached = self._indexes.get(list_id)
        if cached is None or cached[0] is not held or len(cached[1]) != len(held):
            cached = self._indexes[list_id] = (held, {self.key(m): m for m in held})
        return cached[1]

    def rejects(self, member: Mapping[str, Any] | Iterable[Any]) -> bool:
        """Whether the platform refuses this member (any of its values is in ``reject_values``)."""
        if not self.reject_values:
            return False
        values = member.values() if isinstance(member, Mapping) else member
        return any(v in self.reject_values for v in values if isinstance(v, Hashable))

    def record_batch(self, size: int) -> None:
        """Note how many members one request carried (the kit checks the batch limits with it)."""
        self.request_sizes.append(size)


def _json_body(request: PreparedRequest) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except (ValueError, TypeError):
        return None
