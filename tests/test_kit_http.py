"""Core http: timeouts, retries with backoff and Retry-After, error kinds, no secret in messages."""

from __future__ import annotations

import pytest
import requests
import responses
from dealersync import AuthError, FatalError, RejectedRecords, TransientError
from dealersync.http import DEFAULT_TIMEOUT, HttpSession, retry_after

URL = "https://api.acme.test/v1"


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def acme(waits: list[float]) -> HttpSession:
    return HttpSession("Acme", base_url=URL, headers={"Authorization": "Bearer tok-SECRET"}, sleep=waits.append,
                       max_attempts=4)


@responses.activate
def test_success_uses_base_url_and_default_timeouts(acme: HttpSession) -> None:
    responses.add("GET", f"{URL}/lists", json={"ok": 1})
    assert acme.get("/lists").json() == {"ok": 1}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer tok-SECRET"
    assert responses.calls[0].request.req_kwargs["timeout"] == DEFAULT_TIMEOUT


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_refused_credential_is_auth_error_saying_how_to_fix(acme: HttpSession, waits: list[float], status: int) -> None:
    responses.add("POST", f"{URL}/lists", status=status, json={"error": "bad token tok-SECRET"})
    with pytest.raises(AuthError) as e:
        acme.post("/lists?access_token=tok-SECRET", json={"email": "ann@example.com"})
    assert e.value.message == (
        f"Acme: POST https://api.acme.test/v1/lists: the credential was refused (HTTP {status});"
        " renew it and store it again with `dealersync secrets set NAME`"
    )
    assert waits == [] and len(responses.calls) == 1


@responses.activate
def test_transient_failures_are_retried_with_growing_jittered_backoff(acme: HttpSession, waits: list[float]) -> None:
    responses.add("GET", f"{URL}/x", status=503)
    responses.add("GET", f"{URL}/x", body=requests.ConnectionError("refused"))
    responses.add("GET", f"{URL}/x", body=requests.Timeout("slow"))
    responses.add("GET", f"{URL}/x", json={"ok": True})
    assert acme.get("/x").json() == {"ok": True}
    assert len(waits) == 3
    for attempt, w in enumerate(waits, 1):
        assert 0 <= w <= 2 ** (attempt - 1)


@responses.activate
def test_429_honours_retry_after_then_gives_up_with_it(acme: HttpSession, waits: list[float]) -> None:
    responses.add("GET", f"{URL}/x", status=429, headers={"Retry-After": "7"})
    with pytest.raises(TransientError) as e:
        acme.get("/x")
    assert waits == [7.0, 7.0, 7.0]  # four attempts, three waits
    assert e.value.retry_after == 7.0
    assert len(responses.calls) == 4


def test_retry_after_as_http_date() -> None:
    r = requests.Response()
    r.headers["Retry-After"] = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after(r) == 0.0  # in the past
    r.headers["Retry-After"] = "soon"
    assert retry_after(r) is None


@responses.activate
def test_other_4xx_is_fatal_without_body_or_query(acme: HttpSession) -> None:
    responses.add("PUT", f"{URL}/m", status=422, json={"email": "ann@example.com"})
    with pytest.raises(FatalError) as e:
        acme.put("/m?email=ann@example.com", json={"email": "ann@example.com"})
    assert e.value.message == "Acme: PUT https://api.acme.test/v1/m: HTTP 422"


@responses.activate
def test_classifier_runs_first_and_may_return_a_kind_or_an_error(waits: list[float]) -> None:
    def classify(r: requests.Response) -> object:
        body = r.json()
        if body.get("code") == 190:
            return AuthError("Acme: the token expired; run `dealersync secrets set acme`")
        if body.get("code") == 17:
            return TransientError
        if body.get("errors"):
            return RejectedRecords
        return None

    s = HttpSession("Acme", base_url=URL, classifier=classify, sleep=waits.append, max_attempts=2)
    responses.add("GET", f"{URL}/a", status=200, json={"code": 190})
    with pytest.raises(AuthError, match="token expired"):
        s.get("/a")
    responses.add("GET", f"{URL}/b", status=400, json={"code": 17})
    with pytest.raises(TransientError, match=r"Acme: GET https://api.acme.test/v1/b: HTTP 400, worth retrying"):
        s.get("/b")
    assert len(waits) == 1
    responses.add("GET", f"{URL}/c", status=200, json={"errors": ["x"]})
    with pytest.raises(RejectedRecords):
        s.get("/c")


@responses.activate
def test_connection_failure_message_names_no_secret(waits: list[float]) -> None:
    s = HttpSession("Acme", sleep=waits.append, max_attempts=2)
    responses.add("GET", "https://user:pw@api.acme.test/x", body=requests.ConnectionError("pw in here"))
    with pytest.raises(TransientError) as e:
        s.get("https://user:pw@api.acme.test/x?token=abc")
    assert e.value.message == "Acme: GET https://api.acme.test/x: could not connect"


def test_module_sleep_is_used_when_none_injected(monkeypatch: pytest.MonkeyPatch) -> None:
    import dealersync.http

    seen: list[float] = []
    monkeypatch.setattr(dealersync.http, "sleep", seen.append)
    s = HttpSession("Acme", max_attempts=2)
    with responses.RequestsMock() as rsps:
        rsps.add("GET", "https://api.acme.test/x", status=500)
        with pytest.raises(TransientError):
            s.get("https://api.acme.test/x")
    assert len(seen) == 1
