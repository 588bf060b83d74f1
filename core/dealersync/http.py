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
  ``TransientError`` is raised, carrying ``retry_after`` when the platform gave one.

Messages name the service, the method and the URL *without its query string*, and the status:
never a header, a body, or a query parameter (where tokens and PII travel).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import time
from collections.abc import Callable, Mapping
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
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self.session.request(method, full, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                error: DealersyncError = TransientError(f"{where}: {_network_problem(exc)}")
            else:
                found = self._classify(response, where)
                if found is None:
                    return response
                error = found
            if not isinstance(error, TransientError) or attempt == self.max_attempts:
                raise error from None
            self._wait(attempt, error.retry_after)
        raise AssertionError("unreachable")  # the loop returns or raises

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

    def _wait(self, attempt: int, retry_after_s: float | None) -> None:
        if retry_after_s is not None:
            delay = min(retry_after_s, self.max_retry_after)
        else:  # "full jitter": uniform in [0, cap], the cap doubling each attempt
            delay = random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
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
