"""The ``meta`` connector against the Meta fake: audiences, uploads, sessions, lookalikes, errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dealersync import (
    AuthError,
    BatchInfo,
    ConfigError,
    ConnectorContext,
    FatalError,
    RemoteAudience,
    TransientError,
)
from dealersync.testing import sample_people
from dealersync_meta import MetaCustomAudiences
from dealersync_meta.destination import MetaConfig
from dealersync_meta.wire import DELETE_URL_BYTES, encode_params, query_string, quoted_length
from meta_fake import ACCOUNT, LOST, TOKEN, FakeMeta, Fault, meta_error, meta_http


def h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def context(tmp_path: Path) -> ConnectorContext:
    return ConnectorContext("meta_main", tmp_path, dt.date(2026, 11, 23), tmp_path / "out", logging.getLogger("dealersync.meta-test"))


@pytest.fixture
def fake() -> Iterator[FakeMeta]:
    f = FakeMeta()
    with meta_http(f):
        yield f


def make(context: ConnectorContext, **cfg: Any) -> MetaCustomAudiences:
    return MetaCustomAudiences(MetaConfig(**{"ad_account_id": ACCOUNT, "access_token": TOKEN, **cfg}), context)


@pytest.fixture
def members() -> list[dict[str, Any]]:
    with sample_people(MetaCustomAudiences.identifiers) as people:
        return people.members(30)


# ------------------------------------------------------------------------------- config
def test_config_normalizes_and_validates() -> None:
    assert MetaConfig(ad_account_id="1234", access_token="t").ad_account_id == "act_1234"
    for bad in ({"ad_account_id": "acct-1"}, {"api_version": "25"}, {"batch_rows": 10_001}, {"batch_rows": 0},
                {"audience_name": "{nope}"}, {"base_url": "ftp://x"}, {"audience_id": "abc"},
                {"customer_file_source": "SOMETIMES"}):
        with pytest.raises(ValueError):
            MetaConfig(**{"ad_account_id": ACCOUNT, "access_token": "t", **bad})


def test_batch_rows_sets_the_limits(context: ConnectorContext) -> None:
    assert make(context).limits.rows == 10_000
    assert make(context, batch_rows=50).limits.rows == 50
    assert MetaCustomAudiences.limits.rows == 10_000


# ---------------------------------------------------------------------------- audiences
def test_ensure_audience_creates_once_then_finds(context: ConnectorContext, fake: FakeMeta) -> None:
    fake.page_size = 2
    for i in range(5):
        fake.new_list(f"other {i}", subtype="CUSTOM")
    dest = make(context, audience_name="dealersync {audience} ({destination})")
    first = dest.ensure_audience("winback", "service defectors")
    assert first.name == "dealersync winback (meta_main)"
    meta = fake.audiences[first.id]
    assert meta["subtype"] == "CUSTOM" and meta["customer_file_source"] == "USER_PROVIDED_ONLY"
    assert meta["description"] == "service defectors"
    again = make(context, audience_name="dealersync {audience} ({destination})").ensure_audience("winback")
    assert again.id == first.id and len(fake.audiences) == 6


def test_two_audiences_with_the_name_is_a_clear_error(context: ConnectorContext, fake: FakeMeta) -> None:
    fake.new_list("winback", subtype="CUSTOM")
    fake.new_list("winback", subtype="CUSTOM")
    with pytest.raises(FatalError, match="set audience_id"):
        make(context).ensure_audience("winback")


def test_configured_audience_id_is_used(context: ConnectorContext, fake: FakeMeta) -> None:
    aid = fake.new_list("made by hand", subtype="CUSTOM")
    got = make(context, audience_id=aid).ensure_audience("winback")
    assert got.id == aid and len(fake.audiences) == 1
    with pytest.raises(FatalError, match="Meta error 100/33"):
        make(context, audience_id="999").ensure_audience("winback")


def test_lost_create_answer_does_not_make_a_twin(context: ConnectorContext, fake: FakeMeta, dealersync_waits: list[float]) -> None:
    fake.faults.append(Fault("create", LOST))
    got = make(context).ensure_audience("winback")
    assert list(fake.audiences) == [got.id]
    assert fake.calls["create"] == 1  # never re-posted blindly


# ------------------------------------------------------------------------------ uploads
def test_add_remove_send_the_multikey_schema(context: ConnectorContext, fake: FakeMeta, members: list[dict[str, Any]]) -> None:
    dest = make(context)
    aud = dest.ensure_audience("a")
    out = dest.add(aud, members[:10], BatchInfo(session_id=42, seq=1, last=True, estimated_total=10))
    assert len(out) == 10 and all(o.accepted for o in out)
    held = fake.members(aud.id)
    assert {m["email"] for m in held} == {m["email"] for m in members[:10]}
    assert all(m["country"] == h("us") for m in held)
    dest.remove(aud, [{k: m[k] for k in ("member_key", *MetaCustomAudiences.state_fields)} for m in members[:4]])
    assert len(fake.members(aud.id)) == 6
    assert dest.platform_counts() == {"add_received": 10, "remove_received": 4, "num_received": 14, "num_invalid_entries": 0,
                                      "remove_requests": 1}
    # the SDK's shapes (facebook_business/api.py FacebookAdsApi.call): POST a form, DELETE a query string
    assert [(m, op) for m, op, _ in fake.requests if op in ("add", "remove")] == [("POST", "add"), ("DELETE", "remove")]


def test_removals_travel_in_the_query_string_cut_to_fit_the_url(
    context: ConnectorContext, fake: FakeMeta, members: list[dict[str, Any]]
) -> None:
    """The SDK sends DELETE parameters in the URL (facebook_business/api.py, FacebookAdsApi.call);
    Meta documents no URL limit and users report failures past ~150 KB (facebook-python-business-sdk
    #367, #717), so one core batch of removals goes out as several requests of at most
    DELETE_URL_BYTES, numbered on in the session, the last flag only on the very last piece."""
    with sample_people(MetaCustomAudiences.identifiers) as people:
        many = people.members(1000)
    dest = make(context)
    aud = dest.ensure_audience("a")
    dest.add(aud, many, BatchInfo(1, 1, True, 1000))
    keep = [{k: m[k] for k in ("member_key", *MetaCustomAudiences.state_fields)} for m in many]
    out = dest.remove(aud, keep[:600], BatchInfo(77, 1, False, 1000))
    out += dest.remove(aud, keep[600:900], BatchInfo(77, 2, True, 1000))
    assert len(out) == 900 and all(o.accepted for o in out)
    assert len(fake.members(aud.id)) == 100
    deletes = [b for m, op, b in fake.requests if op == "remove"]
    assert len(deletes) >= 900 * 500 // DELETE_URL_BYTES and max(deletes) <= DELETE_URL_BYTES
    assert len(deletes) == dest.platform_counts()["remove_requests"]
    removals = [a for a in fake.applied if a[0] == "remove"]
    assert [seq for _, _, seq in removals] == list(range(1, len(deletes) + 1))  # one session, in order
    assert fake.sessions[("remove", aud.id, 77)]["closed"]
    # the SDK's own shape, one request for the 600: the fake answers Meta's HTML error page
    assert 600 * 500 > FakeMeta.max_url_bytes


def test_small_audience_refusal_keeps_the_removals_and_warns(
    context: ConnectorContext, fake: FakeMeta, members: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    """Meta refuses removals that would leave the audience too small; no documented code, the
    message users report (grouparoo/grouparoo#1108). The refused members are reported refused
    (kept in the sync state, tried next run), never a silent stall and never a failed run."""
    dest = make(context)
    aud = dest.ensure_audience("a")
    dest.add(aud, members)
    fake.removal_floor = 28
    keys = [{k: m[k] for k in ("member_key", *MetaCustomAudiences.state_fields)} for m in members[:5]]
    with caplog.at_level(logging.WARNING):
        out = dest.remove(aud, keys, BatchInfo(3, 1, True, 5))
    assert [o.code for o in out] == ["meta:audience_too_small"] * 5
    assert len(fake.members(aud.id)) == 30
    assert "minimum size" in caplog.text and "5 removal(s) are kept" in caplog.text
    assert dest.platform_counts()["remove_refused_too_small"] == 5


@pytest.mark.parametrize("name", ["Credit Score 700+", "high-income conquest", "DIABETES clinic"])
def test_flagged_name_is_stopped_before_anything_is_sent(context: ConnectorContext, fake: FakeMeta, name: str) -> None:
    """Meta flags names suggesting a financial status or health condition; the defaults are the
    examples Meta published (Custom Audience reference, Sept 2025 notice)."""
    with pytest.raises(FatalError, match="contains") as err:
        make(context).ensure_audience(name)
    assert "nothing was sent" in str(err.value)
    assert fake.calls == {} and fake.audiences == {}


def test_a_flagged_audience_name_is_a_configuration_error_before_any_data_moves(
    context: ConnectorContext, fake: FakeMeta
) -> None:
    """check_config (the preflight of sync and check) names the key: audience names such as
    high_income_buyers read as the words Meta flags."""
    make(context).check_config(("winback", "lease_end"))
    with pytest.raises(ConfigError) as err:
        make(context).check_config(("winback", "high_income_buyers"))
    assert err.value.message.startswith(
        f"destinations.{context.instance}.audience_name: the Meta name 'high_income_buyers' of audience"
        " high_income_buyers contains 'high income'"
    )
    make(context, audience_id="120330000000000001").check_config(("high_income_buyers",))  # Meta's name
    assert fake.calls == {}


def test_flagged_terms_are_configurable_and_dealer_words_pass(context: ConnectorContext, fake: FakeMeta) -> None:
    """lease / payoff / equity are not in Meta's published examples: not stopped by default."""
    for name in ("Lease ending 2027", "Payoff soon", "Equity mining", "Discredit scores"):
        assert make(context).ensure_audience(name).name == name
    strict = make(context, flagged_name_terms=["negative equity"])
    with pytest.raises(FatalError, match="negative equity"):
        strict.ensure_audience("Negative-Equity trade-ins")


def test_an_audience_meta_flagged_is_stopped(context: ConnectorContext, fake: FakeMeta) -> None:
    """operation_status 471 (Custom Audience reference): uploads would fail with 1713230."""
    aid = fake.new_list("Winback", subtype="CUSTOM", blocked=True)
    with pytest.raises(FatalError, match="operation_status 471"):
        make(context).ensure_audience("Winback")
    with pytest.raises(FatalError, match="operation_status 471"):
        make(context, audience_id=aid).ensure_audience("Winback")
    assert "add" not in fake.calls


def test_sessions_follow_core_batch_info(context: ConnectorContext, fake: FakeMeta, members: list[dict[str, Any]]) -> None:
    dest = make(context)
    aud = dest.ensure_audience("a")
    dest.add(aud, members[:10], BatchInfo(5, 1, False, 30))
    dest.add(aud, members[10:20], BatchInfo(5, 2, False, 30))
    dest.add(aud, members[10:20], BatchInfo(5, 2, False, 30))  # a re-sent batch
    dest.add(aud, members[20:], BatchInfo(5, 3, True, 30))
    assert [a[1:] for a in fake.applied] == [(5, 1), (5, 2), (5, 2), (5, 3)]
    assert len(fake.members(aud.id)) == 30
    with pytest.raises(FatalError, match="2650/1870147"):  # a session must start at 1
        dest.add(aud, members[:1], BatchInfo(6, 2, True, 1))


def test_replace_swaps_the_audience(context: ConnectorContext, fake: FakeMeta, members: list[dict[str, Any]]) -> None:
    dest = make(context)
    aud = dest.ensure_audience("a")
    dest.add(aud, members[:20])
    dest.replace(aud, members[15:25], BatchInfo(9, 1, False, 15))
    dest.replace(aud, members[25:], BatchInfo(9, 2, True, 15))
    assert {m["email"] for m in fake.members(aud.id)} == {m["email"] for m in members[15:]}


def test_invalid_entries_are_counted_not_guessed(
    context: ConnectorContext, fake: FakeMeta, members: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    dest = make(context)
    aud = dest.ensure_audience("a")
    fake.reject_values = {members[3]["email"], members[7]["email"]}
    with caplog.at_level(logging.WARNING):
        out = dest.add(aud, members[:10], BatchInfo(1, 1, True, 10))
    assert all(o.accepted for o in out) and len(out) == 10
    assert dest.platform_counts()["num_invalid_entries"] == 2
    assert "2 of 10 entries" in caplog.text
    assert members[3]["email"] not in caplog.text and "invalid_entry_samples" not in caplog.text


def test_lookalike(context: ConnectorContext, fake: FakeMeta, caplog: pytest.LogCaptureFixture) -> None:
    """The SDK's spec (examples/AdAccountCustomAudiencesPostValueBasedLookalikeCustomAudience.py:
    type custom_ratio, ratio, country), form-encoded; the fake refuses any other LookalikeSpec key
    and a ratio with type similarity/reach. The special ad category warning is logged."""
    dest = make(context)
    seed = dest.ensure_audience("loyal")
    with caplog.at_level(logging.WARNING):
        look = dest.create_lookalike(seed, country="us", ratio=0.01)
    assert "special ad category" in caplog.text and "FINANCIAL_PRODUCTS_SERVICES" in caplog.text
    spec = fake.audiences[look.id]
    assert spec["subtype"] == "LOOKALIKE" and spec["origin_audience_id"] == seed.id
    assert spec["lookalike_spec"] == {"type": "custom_ratio", "ratio": 0.01, "country": "US"}
    assert look.name == "loyal lookalike US 1%"
    named = dest.create_lookalike(seed, country="CA", ratio=0.05, name="CA 5%")
    assert named.name == fake.audiences[named.id]["name"] == "CA 5%"
    with pytest.raises(ConfigError, match="ratio"):
        dest.create_lookalike(seed, country="US", ratio=0.5)
    with pytest.raises(ConfigError, match="country"):
        dest.create_lookalike(seed, country="USA", ratio=0.02)
    with pytest.raises(FatalError, match="origin_audience_id"):
        dest.create_lookalike(RemoteAudience("777", "gone"), country="US", ratio=0.02)


# ------------------------------------------------------------------------------- errors
THROTTLES = [
    (400, meta_error(17, "User request limit reached", 2446079)[1], {}),
    (400, meta_error(4, "Application request limit reached")[1], {}),
    (400, meta_error(613, "Calls to this api have exceeded the rate limit.", 1487742)[1], {}),
    (400, meta_error(80003, "There have been too many calls to this ad-account.")[1],
     {"X-Business-Use-Case-Usage": json.dumps({"1234567890": [{"type": "custom_audience", "call_count": 100,
                                                               "estimated_time_to_regain_access": 2}]})}),
    (429, {"error": {"code": 17, "message": "slow down"}}, {"Retry-After": "7"}),
    (400, meta_error(2650, "Failed to update the custom audience")[1], {}),
    (500, {"error": {"code": 1, "message": "An unknown error occurred", "is_transient": True}}, {}),
    (503, "upstream unavailable", {}),
]


@pytest.mark.parametrize("effect", THROTTLES, ids=["17", "4", "613", "80003", "429", "2650", "500", "503"])
def test_throttles_and_server_errors_are_retried(
    context: ConnectorContext, fake: FakeMeta, members: list[dict[str, Any]], effect: Any, dealersync_waits: list[float]
) -> None:
    dest = make(context)
    aud = dest.ensure_audience("a")
    fake.faults.append(Fault("add", effect, times=2))
    out = dest.add(aud, members[:5])
    assert all(o.accepted for o in out) and len(fake.members(aud.id)) == 5
    assert len(dealersync_waits) == 2
    if "Retry-After" in effect[2]:
        assert dealersync_waits == [7.0, 7.0]
    if "X-Business-Use-Case-Usage" in effect[2]:
        assert dealersync_waits == [120.0, 120.0]


def test_throttling_that_lasts_ends_transient(context: ConnectorContext, fake: FakeMeta, members: list[dict[str, Any]], dealersync_waits: list[float]) -> None:
    dest = make(context)
    aud = dest.ensure_audience("a")
    fake.faults.append(Fault("add", (400, meta_error(80003, "too many calls")[1], {}), times=99))
    with pytest.raises(TransientError, match="80003.*throttling") as caught:
        dest.add(aud, members[:5])
    assert members[0]["email"] not in caught.value.message


def test_timeouts_are_retried(context: ConnectorContext, fake: FakeMeta, members: list[dict[str, Any]], dealersync_waits: list[float]) -> None:
    dest = make(context)
    aud = dest.ensure_audience("a")
    fake.faults.append(Fault("add", "timeout", times=2))
    assert all(o.accepted for o in dest.add(aud, members[:5]))


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (meta_error(190, "Error validating access token: Session has expired", 463), AuthError, "dealersync secrets set"),
        (meta_error(200, "(#200) Requires ads_management permission"), AuthError, "ads_management"),
        (meta_error(10, "(#10) Application does not have permission for this action"), AuthError, "ads_management"),
        (meta_error(100, "Audience Upload Blocked", 1713230), FatalError, "flagged"),
        (meta_error(2650, "Failed to update the custom audience", 1870147), FatalError, "first batch"),
        (meta_error(2635, "You are calling a deprecated version of the Ads API."), FatalError, "2635"),
        (meta_error(100, "Invalid parameter for jane.doe@example.org 18005550100 EAAGm0PX4ZCpsBAKZCZAiHY"), FatalError, r"\*\*\*"),
    ],
)
def test_meta_error_codes(
    context: ConnectorContext, fake: FakeMeta, members: list[dict[str, Any]], error: Any, kind: type, text: str,
    dealersync_waits: list[float],
) -> None:
    dest = make(context)
    aud = dest.ensure_audience("a")
    fake.faults.append(Fault("add", (*error, {}), times=1))
    with pytest.raises(kind, match=text) as caught:
        dest.add(aud, members[:5])
    assert type(caught.value) is kind and not dealersync_waits
    msg = caught.value.message
    assert TOKEN not in msg and "jane.doe" not in msg and "18005550100" not in msg and len(msg) < 600


def test_revoked_token_is_auth_error_saying_how_to_fix(context: ConnectorContext, fake: FakeMeta) -> None:
    fake.token = "rotated"
    with pytest.raises(AuthError) as caught:
        make(context).check()
    assert "create a new system-user token" in caught.value.message
    assert "dealersync secrets set" in caught.value.message and TOKEN not in caught.value.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("text", [
    "", "abc_.-~XYZ09", "a b+c", "100%", '{"schema":["EMAIL"],"data":[["ab"]]}', "ü€ 😀", "&=?/#:;,@$", " %+ ",
])
def test_the_fast_query_encoding_is_exactly_what_requests_sends(text: str) -> None:
    """``query_string`` / ``quoted_length`` stand in for ``urlencode`` / ``len(quote_plus())``
    (the encoding ``requests`` gives ``params=`` and ``data=``; the URL cap is measured with
    them): they must agree byte for byte, non-ASCII, ``%``, ``+`` and spaces included."""
    from urllib.parse import quote_plus, urlencode

    assert quoted_length(text) == len(quote_plus(text))
    params = {"payload": {"schema": ["EMAIL"], "data": [[text]]}, "note": text, "flag": True, "n": 3}
    assert query_string(params) == urlencode(encode_params(params))
