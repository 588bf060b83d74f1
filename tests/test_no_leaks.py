"""Planted secrets and raw PII appear nowhere they must not: output (with --debug), logs, run
history, sync state, quarantine, rejection records, exception messages, dry-run output."""

from __future__ import annotations

import logging
import types
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from pydantic import Field, SecretStr

import dealersync.cli.sync_cmd as sync_cmd
from dealersync import (
    AudienceDestination,
    BatchLimits,
    ConnectorConfig,
    FatalError,
    MemberOutcome,
    RemoteAudience,
    hookimpl,
)
from dealersync.cli import cli
from dealersync.plugins import load_plugins
from dealersync.testing import write_extract

from tests.support import configs as toml

SECRET = "sk-planted-SECRET-9f8e7d"
PII = ["planted.person@leak-test.example", "3125550199", "312) 555-0199", "Zebulon", "Plantedname", "LEAKYBADVALUE"]
BOOKKEEPING = [
    "_runs", "_sync_state", "_quarantine", "_loads", "_holdouts", "_suppressions", "_remote_audiences",
    "_load_files", "_changes", "_derived", "_snapshot_writes", "_customer_match_keys",
]


class Leaky(AudienceDestination):
    """A platform that rejects one member and, when asked, fails the whole call."""

    name = "leak-probe"
    identifiers = {"email": "meta.email", "phone": "meta.phone", "fn": "meta.fn"}
    limits = BatchLimits(rows=2)
    fail = False

    class Config(ConnectorConfig):
        api_token: SecretStr = Field(description="token")

    def ensure_audience(self, name: str, description: str = "") -> RemoteAudience:
        return RemoteAudience("remote-1", name)

    def add(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: Any = None) -> list[MemberOutcome]:
        if Leaky.fail:
            raise FatalError("the platform refused the request (HTTP 400)")
        return [MemberOutcome(m["member_key"], i != 0, None if i else "invalid_entry", None if i else "refused by platform")
                for i, m in enumerate(members)]

    def remove(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: Any = None) -> list[MemberOutcome]:
        return [MemberOutcome(m["member_key"], True) for m in members]


plugin = types.ModuleType("leak_probe")
plugin.dealersync_register_destinations = hookimpl(lambda: [Leaky])  # type: ignore[attr-defined]


@pytest.fixture
def dealership(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROBE_TOKEN", SECRET)
    monkeypatch.setattr(sync_cmd, "load_plugins", lambda: load_plugins([plugin]))
    write_extract(tmp_path / "dms", {
        "customers": [
            {"customer_id": "C1", "first_name": "Zebulon", "last_name": "Plantedname",
             "email": "planted.person@leak-test.example", "phone_mobile": "(312) 555-0199"},
            {"customer_id": "C2", "first_name": "Ann", "email": "ann@example.com"},
            {"customer_id": "C3", "first_name": "Bo", "email": "bo@example.com", "created_at": "LEAKYBADVALUE"},
        ],
        "suppressions": [{"email": "planted.person@leak-test.example", "reason": "complaint"}],
    })
    (tmp_path / "c.toml").write_text(
        toml.dealership(
            toml.destination("probe", "leak-probe", api_token={"env": "PROBE_TOKEN"}), toml.everyone_to("probe", holdout=0.3)
        )
    )
    return tmp_path


def _assert_clean(text: str, where: str) -> None:
    for planted in [SECRET, *PII]:
        assert planted.lower() not in text.lower(), f"{planted!r} leaked into {where}"


def _bookkeeping(d: Path) -> str:
    con = duckdb.connect(str(d / "wh.duckdb"), read_only=True)
    try:
        have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        return "\n".join(f"{t}: {con.execute(f'SELECT * FROM {t}').fetchall()}" for t in BOOKKEEPING if t in have)
    finally:
        con.close()


def test_nothing_leaks_through_a_whole_run(dealership: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    cfg = str(dealership / "c.toml")
    outputs = {}
    # the planted person is suppressed in this first pass; then lifted, so they are sent (and rejected)
    outputs["dry run"] = runner.invoke(cli, ["--debug", "sync", "--config", cfg, "--dry-run"])
    outputs["sync"] = runner.invoke(cli, ["--debug", "sync", "--config", cfg])
    (dealership / "dms" / "suppressions.csv").write_text("email,phone,customer_id,reason,since\n")
    outputs["sync after lifting"] = runner.invoke(cli, ["--debug", "sync", "--config", cfg, "--timings"])
    Leaky.fail = True
    try:
        outputs["failing sync"] = runner.invoke(cli, ["--debug", "sync", "--config", cfg, "--full-resync"])
    finally:
        Leaky.fail = False
    outputs["runs"] = runner.invoke(cli, ["runs", "--config", cfg, "--json"])
    outputs["suppress"] = runner.invoke(
        cli, ["suppress", "add", "--config", cfg, "--email", "planted.person@leak-test.example", "--reason", "x"]
    )
    outputs["suppress list"] = runner.invoke(cli, ["suppress", "list", "--config", cfg])
    for name, res in outputs.items():
        _assert_clean(res.output + (res.stderr or ""), name)
        if res.exception and not isinstance(res.exception, SystemExit):
            _assert_clean(repr(res.exception), f"{name} exception")
    assert outputs["sync after lifting"].exit_code == 0
    assert outputs["failing sync"].exit_code == 1
    assert "refused the request" in outputs["failing sync"].output
    _assert_clean("\n".join(r.getMessage() for r in caplog.records), "logs")
    book = _bookkeeping(dealership)
    # the checks looked at real rows: a rejection and the bad created_at cell were recorded
    assert "invalid_entry" in book and "'created_at', 'not a timestamp" in book
    _assert_clean(book, "warehouse bookkeeping tables")
