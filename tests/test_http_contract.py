"""Core http's contract with plugins: answers a plugin declares normal, and rate limits shared by
key across the process (every session spending one platform quota draws on one budget)."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator

import pytest
import responses
from dealersync import FatalError, HttpSession, ManualClock, NormalAnswer, RateLimit, RateLimiters, TransientError
from dealersync.http import deadlines

URL = "https://api.acme.test/v1"
NOT_FOUND = {"errors": [{"message": "No contacts found"}]}


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def session(waits: list[float], **kwargs: object) -> HttpSession:
    return HttpSession("Acme", base_url=URL, sleep=waits.append, max_attempts=3, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ normal answers


def test_a_404_declared_normal_for_a_request_is_returned_to_the_plugin(
    rsps: responses.RequestsMock, waits: list[float]
) -> None:
    rsps.add("POST", f"{URL}/search", status=404, json=NOT_FOUND)
    answer = session(waits).post("/search", json={"emails": ["a@x.test"]}, normal=(404,))
    assert answer.status_code == 404 and answer.json() == NOT_FOUND
    assert waits == [] and len(rsps.calls) == 1  # an answer: not retried


def test_an_undeclared_404_still_errors_as_before(rsps: responses.RequestsMock, waits: list[float]) -> None:
    rsps.add("POST", f"{URL}/search", status=404, json=NOT_FOUND)
    http = session(waits)
    assert http.post("/search", normal=(404,)).status_code == 404
    with pytest.raises(FatalError) as caught:
        http.post("/search?api_key=tok-SECRET")  # declared on the request before, not on this one
    assert caught.value.message == "Acme: POST https://api.acme.test/v1/search: HTTP 404"
    assert waits == [] and len(rsps.calls) == 2


def test_a_declared_body_shape_tells_nothing_found_from_a_wrong_url(
    rsps: responses.RequestsMock, waits: list[float]
) -> None:
    none_matched = NormalAnswer(404, body=lambda body: isinstance(body, dict) and "errors" in body)
    rsps.add("POST", f"{URL}/search", status=404, json=NOT_FOUND)
    rsps.add("POST", f"{URL}/search", status=404, body="<html>Not Found</html>", content_type="text/html")
    rsps.add("POST", f"{URL}/search", status=404, json={"detail": "no such route"})
    http = session(waits)
    assert http.post("/search", normal=(none_matched,)).status_code == 404
    for _ in range(2):  # a proxy's HTML page, a JSON body of another shape
        with pytest.raises(FatalError, match="HTTP 404"):
            http.post("/search", normal=(none_matched,))


def test_normal_answers_declared_on_the_session_apply_to_each_request(
    rsps: responses.RequestsMock, waits: list[float]
) -> None:
    rsps.add("GET", f"{URL}/member", status=404, json=NOT_FOUND)
    rsps.add("GET", f"{URL}/member", status=410, json={})
    rsps.add("GET", f"{URL}/member", status=503)
    rsps.add("GET", f"{URL}/member", status=503)
    rsps.add("GET", f"{URL}/member", status=503)
    http = session(waits, normal=(404,))
    assert http.get("/member").status_code == 404
    assert http.get("/member", normal=(410,)).status_code == 410  # added to the session's
    with pytest.raises(TransientError):  # what was not declared keeps its kind and its retries
        http.get("/member")
    assert len(waits) == 2


def test_a_declared_normal_answer_is_not_handed_to_the_classifier(
    rsps: responses.RequestsMock, waits: list[float]
) -> None:
    seen: list[int] = []

    def classifier(response: object) -> None:
        seen.append(response.status_code)  # type: ignore[attr-defined]

    rsps.add("POST", f"{URL}/search", status=404, json=NOT_FOUND)
    rsps.add("POST", f"{URL}/search", status=404, json=NOT_FOUND)
    http = session(waits, classifier=classifier)
    http.post("/search", normal=(404,))
    assert seen == []
    with pytest.raises(FatalError):
        http.post("/search")
    assert seen == [404]


def test_only_4xx_and_5xx_can_be_declared() -> None:
    with pytest.raises(ValueError, match="normal already"):
        NormalAnswer(204)
    with pytest.raises(ValueError, match="normal already"):
        HttpSession("Acme", normal=(302,))


def test_a_compressed_answer_is_read_in_full_and_decoded(rsps: responses.RequestsMock, waits: list[float]) -> None:
    payload = {"members": [{"id": i} for i in range(5000)]}
    rsps.add("GET", f"{URL}/big", body=gzip.compress(json.dumps(payload).encode()),
             headers={"Content-Encoding": "gzip"}, content_type="application/json")
    assert session(waits).request_json("GET", "/big") == payload


# --------------------------------------------------------------------------------- rate limits


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    manual = ManualClock()
    with RateLimiters(clock=manual, sleep=manual.sleep).installed():
        yield manual


ACCOUNT_1 = RateLimit("acme:account:1", requests=2, per_seconds=60.0)


def test_sessions_sharing_a_key_share_one_budget(
    rsps: responses.RequestsMock, waits: list[float], clock: ManualClock
) -> None:
    rsps.add("GET", f"{URL}/x", json={})
    one, two = session(waits, rate_limit=ACCOUNT_1), session(waits, rate_limit=ACCOUNT_1)
    one.get("/x")
    two.get("/x")
    assert clock.slept == []
    clock.now = 15.0
    one.get("/x")  # the account's third request in a minute: waits until the first leaves it
    assert clock.slept == [45.0] and len(rsps.calls) == 3
    two.get("/x")  # the fourth: the second start left the window at t=60 too
    assert clock.slept == [45.0]
    one.get("/x")  # the fifth waits for the third
    assert clock.slept == [45.0, 60.0] and clock.now == 120.0


def test_different_keys_do_not_share(rsps: responses.RequestsMock, waits: list[float], clock: ManualClock) -> None:
    rsps.add("GET", f"{URL}/x", json={})
    one = session(waits, rate_limit=ACCOUNT_1)
    other = session(waits, rate_limit=RateLimit("acme:account:2", requests=2, per_seconds=60.0))
    for _ in range(2):
        one.get("/x")
        other.get("/x")
    assert clock.slept == [] and len(rsps.calls) == 4
    one.get("/x", rate_limit=RateLimit("acme:account:3", requests=1))  # a request's own limit
    assert clock.slept == []


def test_every_attempt_takes_a_slot_retries_included(
    rsps: responses.RequestsMock, waits: list[float], clock: ManualClock
) -> None:
    rsps.add("GET", f"{URL}/x", status=503)
    rsps.add("GET", f"{URL}/x", json={})
    session(waits, rate_limit=RateLimit("acme:account:1", requests=1, per_seconds=60.0)).get("/x")
    assert len(waits) == 1  # the backoff, slept by the session
    assert clock.slept == [60.0]  # and the retry's slot, by the limiter


def test_the_stricter_of_two_limits_for_one_key_applies(
    rsps: responses.RequestsMock, waits: list[float], clock: ManualClock
) -> None:
    rsps.add("GET", f"{URL}/x", json={})
    generous = session(waits, rate_limit=RateLimit("acme:account:1", requests=10, per_seconds=60.0))
    strict = session(waits, rate_limit=RateLimit("acme:account:1", requests=1, per_seconds=60.0))
    generous.get("/x")
    strict.get("/x")
    generous.get("/x")
    assert clock.slept == [60.0, 60.0]


def test_a_rate_limit_wait_past_the_destination_budget_is_not_made(
    rsps: responses.RequestsMock, waits: list[float], clock: ManualClock
) -> None:
    rsps.add("GET", f"{URL}/x", json={})
    http = session(waits, rate_limit=RateLimit("acme:account:1", requests=1, per_seconds=60.0))
    with deadlines(request=30.0, until=time.monotonic() + 20.0):
        http.get("/x")
        with pytest.raises(FatalError, match=r"rate limit 1 per 60 s \(acme:account:1\) would hold this request past"):
            http.get("/x")
    assert clock.slept == [] and len(rsps.calls) == 1


def test_threads_sharing_a_limiter_never_exceed_it(clock: ManualClock) -> None:
    """Forty reservations from eight threads at one instant: ten in each minute, none lost."""
    limiter = RateLimiters(clock=clock, sleep=clock.sleep).limiter(RateLimit("acme:account:1", 10, 60.0))
    waits: list[float] = []
    lock = threading.Lock()

    def reserve_five() -> None:
        for _ in range(5):
            wait = limiter.reserve()
            with lock:
                waits.append(wait)  # type: ignore[arg-type]

    threads = [threading.Thread(target=reserve_five) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [0.0] * 10 + [60.0] * 10 + [120.0] * 10 + [180.0] * 10


def test_a_rate_limit_says_what_is_wrong_with_it() -> None:
    with pytest.raises(ValueError, match="needs a key"):
        RateLimit("", 10)
    with pytest.raises(ValueError, match="at least 1"):
        RateLimit("k", 0)
    with pytest.raises(ValueError, match="positive"):
        RateLimit("k", 1, per_seconds=0)
