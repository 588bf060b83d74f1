"""Platform ids in the state (issue 16, deliver 5): a destination may return the platform's id of
each member it added (SendGrid's contact id: not PII); core keeps it and hands it back for the
removal, which SendGrid takes only by id. The example plugin is tests/examples/sendgrid_like.py."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import duckdb
import pytest
import responses

from dealersync import hookimpl
from dealersync.testing import run_sync, write_extract

from tests.support.configs import dealership, destination, everyone_to

sys.path.insert(0, str(Path(__file__).parent / "examples"))
from sendgrid_like import API_KEY, FakeSendGrid, SendGridLike  # noqa: E402

PLUGIN = types.ModuleType("sendgrid_like_plugin")
PLUGIN.dealersync_register_destinations = hookimpl(lambda: [SendGridLike])  # type: ignore[attr-defined]


def write(root: Path, emails: list[str]) -> Path:
    rows = [{"customer_id": f"C{i}", "email": e, "email_opt_in": True, "do_not_email": False} for i, e in enumerate(emails)]
    write_extract(root / "dms", {"customers": rows})
    config = root / "connectors.toml"
    config.write_text(
        dealership(
            destination("sg", "sendgrid-like", api_key={"env": "SG_TEST_KEY"}, list_id="list-1"),
            everyone_to("sg", mode="mirror"),
        ),
        encoding="utf-8",
    )
    return config


def sync(config: Path, fake: FakeSendGrid) -> object:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        [res] = run_sync(config, extra_plugins=[PLUGIN])
    return res


def test_removal_by_the_platform_id_kept_in_the_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SG_TEST_KEY", API_KEY)
    fake = FakeSendGrid()
    emails = [f"person{i}@example.org" for i in range(150)]  # two id searches (at most 100 each)
    res = sync(write(tmp_path, emails), fake)
    assert (res.status, res.added) == ("ok", 150), res.error
    assert fake.held() == set(emails)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        ids = dict(con.execute("SELECT payload, platform_id FROM _sync_state").fetchall())
        text = str(con.execute("SELECT * FROM _sync_state").fetchall())
    finally:
        con.close()
    assert sorted(ids.values()) == sorted(fake.contacts.values())  # every member's contact id
    assert "example.org" not in text  # no raw email in the state

    res = sync(write(tmp_path, emails[:148]), fake)
    assert (res.status, res.removed) == ("ok", 2), res.error
    assert fake.deletes[-1] == [fake.contacts[emails[148]], fake.contacts[emails[149]]]
    assert fake.held() == set(emails[:148])


def test_a_contact_not_indexed_yet_is_not_delivered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upsert is asynchronous; a search that does not find the contact (all missing: 404)
    leaves it undelivered, and the next run sends it and finds its id."""
    monkeypatch.setenv("SG_TEST_KEY", API_KEY)
    fake = FakeSendGrid()
    fake.unindexed = {"late@example.org"}
    res = sync(write(tmp_path, ["late@example.org"]), fake)
    assert (res.added, res.rejected) == (0, 1)
    res = sync(write(tmp_path, ["late@example.org"]), fake)
    assert res.added == 1
