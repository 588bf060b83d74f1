"""HTTP for every API plugin: timeouts, retries with backoff, and error kinds, in one place.

A plugin builds one :class:`HttpSession` per connector and sends every request through it::

    self.http = HttpSession("Acme", base_url=self.config.base_url, headers={...},
                            classifier=acme_classifier)
    page = self.http.get("/customers", params={"page": 1}).json()

What the session does for each request:

* default timeouts (connect, read) unless the call passes its own;
* the plugin's ``classifier`` looks at the response first: it returns ``None`` (no opinion) or an
  error (an instance, or an error class such as :class:`~dealersync.AuthError`, which gets a
  standard message). Platforms that answer ``200`` with an error body are handled there;
* then the default rules: 2xx and 3xx are fine; 401/403 are :class:`~dealersync.AuthError` (the
  message says how to renew the credential); 408, 429 and 5xx are
  :class:`~dealersync.TransientError`; any other 4xx is :class:`~dealersync.FatalError`;
* connection errors and timeouts are transient too;
* a transient failure is retried with exponential backoff and full jitter, honouring
  ``Retry-After`` (seconds or an HTTP date), up to ``max_attempts``; then the last
  ``TransientError`` is raised, carrying ``retry_after`` when the platform gave one;
* **deadlines**: every attempt must be answered in full within the request deadline (default
  300 s: the connect and read timeouts bound each wait, but a server that sends a byte every
  20 s would hold a request forever without a total), and all requests of one destination in one
  run share the run's budget (:func:`deadlines`, set by the engine from ``[deadlines]``): a retry
  whose wait would pass the budget is not made, the last error is raised at once. The total
  deadline uses ``SIGALRM``, so it applies where the engine runs, in the main thread; elsewhere
  only the per-read timeouts apply;
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
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from dealersync.errors import (
    AuthError,
    DealersyncError,
    FatalError,
    RejectedRecords,
    TransientError,
)

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


class _DeadlinePassed(BaseException):
    """Raised by the alarm inside a request that ran past its deadline. A BaseException, so no
    library's ``except Exception`` swallows it on the way out."""


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`_DeadlinePassed` in the block after ``seconds`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def ring(_signum: int, _frame: object) -> None:
        raise _DeadlinePassed

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

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

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send with retries; return the successful response or raise an error kind.

        Requests are retried as they are: a plugin sends only requests the platform treats
        idempotently (adding a member twice leaves it once), which the destination contract
        requires anyway.
        """
        full = urljoin(self.base_url, url.lstrip("/")) if self.base_url else url
        kwargs.setdefault("timeout", self.timeout)
        where = f"{self.service}: {method.upper()} {_public_url(full)}"
        limits = _DEADLINES.get()
        for attempt in range(1, self.max_attempts + 1):
            budget = limits.remaining()
            if budget is not None and budget <= 0:
                raise FatalError(f"{where}: this destination's time for the run ([deadlines] destination_seconds) is used up")
            allowed = limits.request if budget is None else min(limits.request, budget)
            try:
                with _alarm(allowed):
                    response = self.session.request(method, full, **kwargs)
            except _DeadlinePassed:
                self.session.close()  # the half-read connection is not reused
                error: DealersyncError = TransientError(f"{where}: no complete answer within {allowed:.0f} s (deadline)")
            except (requests.ConnectionError, requests.Timeout) as exc:
                error = TransientError(f"{where}: {_network_problem(exc)}")
            else:
                found = self._classify(response, where)
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
