"""Planted secrets and planted raw PII appear nowhere: output, logs, run history, sync state,
rejection records, error messages, requests."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pytest
from dealersync.testing import run_sync
from meta_fake import LOST, FakeMeta, Fault, meta_error, meta_http
from meta_world import TOKEN_ENV, World, customers, sha

SECRET = "EAAPLANTEDs3cretTOKEN0a9b8c7d"
PII = {
    "email": "Zebulon.Quartermaine@Planted-PII.example",
    "phone_mobile": "(512) 867-5309",
    "first_name": "Zebulon",
    "last_name": "Quartermaine",
    "city": "Xylophoneville",
}
NEEDLES = [SECRET, "zebulon", "quartermaine", "planted-pii", "8675309", "867-5309", "xylophoneville"]


def _scan(text: str, where: str) -> None:
    low = text.lower()
    found = [n for n in NEEDLES if n.lower() in low]
    assert not found, f"{found} leaked into {where}"


@pytest.mark.slow
def test_nothing_leaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                       capsys: pytest.CaptureFixture[str], dealersync_waits: list[float]) -> None:
    people = customers(140)
    people[3].update(PII)
    people.append({"customer_id": "C99999", **PII, "email": "not an email Zebulon", "phone_mobile": "Quartermaine"})
    fake = FakeMeta(token=SECRET)
    monkeypatch.setenv(TOKEN_ENV, SECRET)
    world = World(tmp_path, people, batch_rows=40)
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []

    def run() -> None:
        res = world.run(fake)
        errors.extend([res.error or "", *res.warnings, json.dumps(res.as_dict(), default=str)])

    # invalid entries, a throttle, a lost answer that fails the run, a revoked token
    fake.reject_values = {sha(PII["email"].lower())}  # an invalid entry Meta reports by count
    fake.faults += [
        Fault("add", (*meta_error(80003, f"too many calls {SECRET}"), {}), nth=1, times=2),
        Fault("add", LOST, nth=4, times=5),
    ]
    run()
    run()
    fake.faults = [Fault("remove", (*meta_error(100, "Invalid parameter zebulon.quartermaine@planted-pii.example"), {}))]
    world.people = world.people[:60]
    run()
    fake.token = "rotated"
    world.people = world.people[:50]
    run()
    # the raw values never travel: every request body and URL holds hashes only
    with meta_http(fake) as rsps:
        fake.token = SECRET
        run_sync(world.config, full_resync=True)
        sent = "\n".join(f"{c.request.url}\n{c.request.body!r}" for c in rsps.calls)
    _scan(sent.replace(SECRET, ""), "requests")
    assert f"Bearer {SECRET}" not in sent and "access_token" not in sent

    out = capsys.readouterr()
    _scan(out.out + out.err, "stdout/stderr")
    _scan(caplog.text, "logs")
    _scan("\n".join(errors), "results and error messages")
    assert any("throttling" in e or "could not connect" in e for e in errors)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        for table in ("_runs", "_sync_state", "_remote_audiences"):
            rows = con.execute(f"SELECT * FROM {table}").fetchall()
            assert rows, table
            _scan(json.dumps(rows, default=str), table)
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        for table in [t for t in tables if "reject" in t]:
            _scan(json.dumps(con.execute(f'SELECT * FROM "{table}"').fetchall(), default=str), table)
    finally:
        con.close()


def test_config_errors_do_not_echo_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, SECRET)
    world = World(tmp_path, customers(5), extra='batch_rows_typo = 1')
    from dealersync import ConfigError

    with pytest.raises(ConfigError) as caught:
        run_sync(world.config)
    assert SECRET not in str(caught.value) and "batch_rows_typo" in caught.value.message
