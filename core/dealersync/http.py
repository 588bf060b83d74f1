"""HTTP for every API plugin: timeouts, retries with backoff, and error kinds, in one place.

A plugin builds one :class:`HttpSession` per connector and sends every request through it::

    self.http = HttpSession("Acme", base_url=self.config.base_url, headers={...},
                            classifier=acme_classifier)
    page = self.http.get("/customers", params={"page": 1}).json()

What the session does for each request:

* default timeouts (connect, read) unless the call passes its own;
* answers the plugin declared **normal** (:class:`NormalAnswer`: a status, optionally with a body
  shape, per session or per request) are returned as they are: SendGrid's contact search answers
  404 when no email matched, which is an answer, not an error;
* otherwise the plugin's ``classifier`` looks at the response first: it returns ``None`` (no
  opinion) or an error (an instance, or an error class such as :class:`~dealersync.AuthError`,
  which gets a standard message). Platforms that answer ``200`` with an error body are handled there;
* then the default rules: 2xx and 3xx are fine; 401/403 are :class:`~dealersync.AuthError` (the
  message says how to renew the credential); 408, 429 and 5xx are
  :class:`~dealersync.TransientError`; any other 4xx is :class:`~dealersync.FatalError`;
* connection errors and timeouts are transient too;
* a transient failure is retried with exponential backoff and full jitter, honouring
  ``Retry-After`` (seconds or an HTTP date), up to ``max_attempts``; then the last
  ``TransientError`` is raised, carrying ``retry_after`` when the platform gave one;
* **rate limits**: with a :class:`~dealersync.RateLimit` (per session or per request) every
  attempt, retries included, first takes a slot from the limiter of the limit's key, shared by the
  whole process (:mod:`dealersync.rate_limits`), so destinations spending one platform quota share it;
* **deadlines**: every attempt must be answered in full within the request deadline (default
  300 s: the connect and read timeouts bound each wait, but a server that sends a byte every
  20 s would hold a request forever without a total), and all requests of one destination in one
  run share the run's budget (:func:`deadlines`, set by the engine from ``[deadlines]``): a retry
  whose wait would pass the budget is not made, the last error is raised at once. The total is
  kept in any thread: the connect and read timeouts are cut to the time left, and the body is read
  as it arrives with the time checked between pieces (each wait on the socket bounded by the time
  left), so a dripping answer is cut at the deadline. The status line and headers are bounded per
  wait, not in total (a server would have to drip its headers to outlast that);
* :meth:`HttpSession.request_json` reads the answer as a JSON object or raises
  :class:`~dealersync.FatalError`: an HTML page or an empty body answered with ``200`` proves
  nothing was done.

Messages name the service, the method and the URL *without its query string*, and the status:
never a header, a body, or a query parameter (where tokens and PII travel).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import email.utils
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions

from dealersync.errors import (
    AuthError,
    DealersyncError,
    FatalError,
    RejectedRecords,
    TransientError,
)
from dealersync.rate_limits import RateLimit, RateLimiter, current_rate_limiters

#: What a classifier returns: no opinion, an error class (core writes the message), or an error.
Verdict = DealersyncError | type[DealersyncError] | None
Classifier = Callable[[requests.Response], Verdict]

DEFAULT_TIMEOUT = (5.0, 60.0)  # seconds: (connect, read)
DEFAULT_REQUEST_DEADLINE = 300.0  # seconds: one attempt, answer read in full


@dataclass(frozen=True)
class Deadlines:
    """The deadlines in force: ``request`` seconds per attempt, and the monotonic time ``until``
    which the current destination's requests may run (None: no budget)."""

    request: float = DEFAULT_REQUEST_DEADLINE
    until: float | None = None

    def remaining(self) -> float | None:
        return None if self.until is None else self.until - time.monotonic()


_DEADLINES: contextvars.ContextVar[Deadlines] = contextvars.ContextVar("dealersync_deadlines", default=Deadlines())


@contextmanager
def deadlines(request: float, until: float | None = None) -> Iterator[None]:
    """Within the block, every :class:`HttpSession` request uses these deadlines (the engine sets
    them around each delivery from ``[deadlines]``; ``until`` is a :func:`time.monotonic` time)."""
    token = _DEADLINES.set(Deadlines(request, until))
    try:
        yield
    finally:
        _DEADLINES.reset(token)


class _DeadlinePassed(Exception):
    """An attempt ran past its deadline."""


@dataclass(frozen=True)
class NormalAnswer:
    """A non-2xx answer that is an answer, not an error, where it is declared (on a session, or on
    one request: ``http.post(url, json=..., normal=(NormalAnswer(404, ...),))``; a bare status
    ``404`` means ``NormalAnswer(404)``). Such a response is returned to the plugin as it is, not
    classified and not retried.

    ``body``, when given, must hold for the answer's JSON body (a body that is not JSON does not
    match): it tells the platform's "nothing found" from a wrong URL that also answers 404, such
    as a proxy's HTML page.
    """

    status: int
    body: Callable[[Any], bool] | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"NormalAnswer({self.status}): only 4xx and 5xx need declaring; 2xx and 3xx are normal already")

    def matches(self, response: requests.Response) -> bool:
        if response.status_code != self.status:
            return False
        if self.body is None:
            return True
        try:
            parsed = response.json()
        except ValueError:
            return False
        return bool(self.body(parsed))


def normal_answers(declared: Iterable[int | NormalAnswer]) -> tuple[NormalAnswer, ...]:
    """Statuses and :class:`NormalAnswer` s as :class:`NormalAnswer` s."""
    return tuple(d if isinstance(d, NormalAnswer) else NormalAnswer(d) for d in declared)


#: Replaced by tests (the conformance kit does) to retry without waiting; read at each wait.
sleep: Callable[[float], None] = time.sleep


class HttpSession:
    """A :class:`requests.Session` with dealersync's timeouts, retries and error kinds."""

    def __init__(
        self,
        service: str,
        *,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        classifier: Classifier | None = None,
        normal: Iterable[int | NormalAnswer] = (),
        rate_limit: RateLimit | None = None,
        credential_hint: str = "renew it and store it again with `dealersync secrets set NAME`",
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 300.0,
        sleep: Callable[[float], None] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.service = service
        self.base_url = base_url.rstrip("/") + "/" if base_url else ""
        self.classifier = classifier
        self.normal = normal_answers(normal)
        self.rate_limit = rate_limit
        self.credential_hint = credential_hint
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update(headers or {})

    # ------------------------------------------------------------------------------- verbs
    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        *,
        normal: Iterable[int | NormalAnswer] = (),
        rate_limit: RateLimit | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with retries; return the successful response or raise an error kind.

        ``normal`` declares, for this request, answers returned as they are (added to the
        session's); ``rate_limit`` replaces the session's for this request (a platform that counts
        reads and writes apart). ``kwargs`` go to :meth:`requests.Session.request`; the answer is
        always read in full before it is returned (``stream`` is the session's business).

        Requests are retried as they are: a plugin sends only requests the platform treats
        idempotently (adding a member twice leaves it once), which the destination contract
        requires anyway.
        """
        full = urljoin(self.base_url, url.lstrip("/")) if self.base_url else url
        kwargs.setdefault("timeout", self.timeout)
        kwargs.pop("stream", None)
        where = f"{self.service}: {method.upper()} {_public_url(full)}"
        answers = self.normal + normal_answers(normal)
        limit = rate_limit or self.rate_limit
        limiter = current_rate_limiters().limiter(limit) if limit else None
        limits = _DEADLINES.get()
        for attempt in range(1, self.max_attempts + 1):
            budget = limits.remaining()
            if limiter is not None and (budget is None or budget > 0):
                self._take_slot(limiter, budget, where)
                budget = limits.remaining()
            if budget is not None and budget <= 0:
                raise FatalError(f"{where}: this destination's time for the run ([deadlines] destination_seconds) is used up")
            allowed = limits.request if budget is None else min(limits.request, budget)
            try:
                response = self._attempt(method, full, allowed, kwargs)
            except _DeadlinePassed:
                error: DealersyncError = TransientError(f"{where}: no complete answer within {allowed:.0f} s (deadline)")
            except (requests.ConnectionError, requests.Timeout) as exc:
                error = TransientError(f"{where}: {_network_problem(exc)}")
            except (urllib3.exceptions.HTTPError, OSError):
                error = TransientError(f"{where}: the answer could not be read in full (connection dropped or body malformed)")
            else:
                found = None if any(a.matches(response) for a in answers) else self._classify(response, where)
                if found is None:
                    return response
                error = found
            if not isinstance(error, TransientError) or attempt == self.max_attempts:
                raise error from None
            self._wait(attempt, error.retry_after, limits, error)
        raise AssertionError("unreachable")  # the loop returns or raises

    def request_json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """:meth:`request`, then the answer as a JSON object; anything else (an HTML page, an
        empty body, a list) raises :class:`~dealersync.FatalError`: it proves nothing was done."""
        response = self.request(method, url, **kwargs)
        where = f"{self.service}: {method.upper()} {_public_url(response.url or url)}"
        try:
            data = response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise FatalError(
                f"{where}: HTTP {response.status_code} with an answer that is not JSON ({kind});"
                " nothing in it is counted as done"
            ) from None
        if not isinstance(data, dict):
            raise FatalError(f"{where}: HTTP {response.status_code} with a JSON {type(data).__name__}, not an object;"
                             " nothing in it is counted as done")
        return data

    # ---------------------------------------------------------------------------- internals
    def _take_slot(self, limiter: RateLimiter, budget: float | None, where: str) -> None:
        """Wait for the rate limit, unless the wait would outlast the destination's budget."""
        if limiter.acquire(max_wait=budget) is None:
            raise FatalError(
                f"{where}: the rate limit {limiter.limit.requests} per {limiter.limit.per_seconds:g} s"
                f" ({limiter.limit.key}) would hold this request past this destination's time for the run"
                " ([deadlines] destination_seconds)"
            )

    def _attempt(self, method: str, url: str, allowed: float, kwargs: dict[str, Any]) -> requests.Response:
        """One request, answered in full within ``allowed`` seconds, whatever the thread: the
        timeouts are cut to the time left and the body is read as it arrives, the time checked
        between pieces."""
        end = time.monotonic() + allowed
        connect, read = _timeouts(kwargs["timeout"], allowed)
        try:
            response = self.session.request(method, url, **{**kwargs, "timeout": (connect, read), "stream": True})
        except requests.Timeout:
            if time.monotonic() >= end:
                raise _DeadlinePassed from None
            raise
        try:
            response._content = _read_until(response.raw, end, read)  # what Response.content would read
            response._content_consumed = True
        except BaseException:
            response.close()  # the half-read connection is not reused
            raise
        response.close()  # back to the pool
        return response

    def _classify(self, response: requests.Response, where: str) -> DealersyncError | None:
        verdict = self.classifier(response) if self.classifier else None
        if verdict is None:
            verdict = default_verdict(response)
        if verdict is None:
            return None
        if isinstance(verdict, DealersyncError):
            return verdict
        return self._standard_error(verdict, response, where)

    def _standard_error(
        self, kind: type[DealersyncError], response: requests.Response, where: str
    ) -> DealersyncError:
        status = f"HTTP {response.status_code}"
        if issubclass(kind, AuthError):
            return AuthError(f"{where}: the credential was refused ({status}); {self.credential_hint}")
        if issubclass(kind, TransientError):
            return TransientError(f"{where}: {status}, worth retrying", retry_after(response))
        if issubclass(kind, RejectedRecords):
            return RejectedRecords(f"{where}: {status}, the platform refused the batch", {})
        if issubclass(kind, FatalError):
            return FatalError(f"{where}: {status}")
        return kind(f"{where}: {status}")

    def _wait(self, attempt: int, retry_after_s: float | None, limits: Deadlines, error: DealersyncError) -> None:
        if retry_after_s is not None:
            delay = min(retry_after_s, self.max_retry_after)
        else:  # "full jitter": uniform in [0, cap], the cap doubling each attempt
            delay = random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
        budget = limits.remaining()
        if budget is not None and delay >= budget:  # the retry could not finish in time
            raise error from None
        (self._sleep or sleep)(delay)


def default_verdict(response: requests.Response) -> type[DealersyncError] | None:
    """The rules every platform shares; a plugin's classifier runs before these."""
    code = response.status_code
    if code < 400:
        return None
    if code in (401, 403):
        return AuthError
    if code in (408, 429) or code >= 500:
        return TransientError
    return FatalError


def retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _timeouts(timeout: float | tuple[float, float] | None, allowed: float) -> tuple[float, float]:
    """(connect, read) timeouts, neither longer than the ``allowed`` seconds left."""
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return (
        allowed if connect is None else min(connect, allowed),
        allowed if read is None else min(read, allowed),
    )


_PIECE = 64 * 1024  # bytes asked of the socket at a time; read1 returns what has arrived


def _read_until(raw: Any, end: float, read_timeout: float) -> bytes:
    """The whole body of a streamed answer (decoded as ``Response.content`` would be), or
    :class:`_DeadlinePassed` once the :func:`time.monotonic` time ``end`` is reached. Each wait on
    the socket is bounded by the time left (urllib3 kept the connection: ``raw.connection.sock``)."""
    body = bytearray()
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise _DeadlinePassed
        if sock is not None:
            sock.settimeout(min(read_timeout, left))
        try:
            piece = raw.read1(_PIECE, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError:
            if time.monotonic() >= end:
                raise _DeadlinePassed from None
            raise requests.ReadTimeout() from None
        if not piece:
            return bytes(body)
        body += piece


def _public_url(url: str) -> str:
    """The URL without query string, fragment or credentials: safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _network_problem(exc: BaseException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return "could not connect"
