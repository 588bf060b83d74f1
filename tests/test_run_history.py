"""The run history (``_runs``): its columns are the delivery result's fields, its start times are
UTC, and a warehouse or state export written with local start times is converted on upgrade."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dealersync.delivery.result import DeliveryResult
from dealersync.run_history import RUN_COLUMNS, RUNS_COLUMNS
from dealersync.state_archive import export_state, import_state
from dealersync.store import RUNS_IN_UTC_SINCE, SCHEMA_VERSION, Warehouse

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "dealersync-meta" / "tests"))
from meta_fake import TOKEN, FakeMeta  # noqa: E402
from meta_world import TOKEN_ENV, World, customers  # noqa: E402
from test_state import _old_warehouse  # noqa: E402

ZONE = "America/Chicago"  # UTC-6 in winter, UTC-5 in summer
WINTER, SUMMER = dt.datetime(2026, 12, 5, 23, 57, 52), dt.datetime(2026, 7, 1, 12, 0, 0)


@pytest.fixture
def chicago() -> Iterator[None]:
    """The machine's local time zone is Chicago for the test (Python's local time follows TZ)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = ZONE
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_every_history_column_is_the_run_or_a_result_field() -> None:
    fields = {f.name for f in dataclasses.fields(DeliveryResult)}
    names = [name for name, _ in RUNS_COLUMNS]
    assert len(names) == len(set(names))
    assert set(RUN_COLUMNS) <= set(names)
    assert [n for n in names if n not in RUN_COLUMNS and n not in fields] == []
    assert fields - set(names) == {"samples", "invalid"}  # the only fields not kept


def test_a_new_warehouse_has_the_history_table_with_every_column(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        have = wh.con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '_runs'").fetchall()
    assert [(n, t) for n, t in have] == list(RUNS_COLUMNS)


def test_a_delivery_is_recorded_with_its_start_in_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chicago: None) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    world = World(tmp_path / "dealer", customers(20))
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    res = world.run(FakeMeta())
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert res.status in ("ok", "held"), res.error
    con = duckdb.connect(str(world.root / "wh.duckdb"), read_only=True)
    try:
        (started,) = con.execute("SELECT started_at FROM _runs").fetchone() or (None,)
    finally:
        con.close()
    assert started is not None and before - dt.timedelta(seconds=1) <= started <= after  # UTC, not Chicago's time
    assert dt.datetime.now() < before  # not vacuous: local time really is hours behind


def test_an_old_warehouse_has_its_local_start_times_converted_to_utc(tmp_path: Path, chicago: None) -> None:
    target = _old_warehouse(tmp_path)
    con = duckdb.connect(str(target))
    assert con.execute("SELECT started_at FROM _runs").fetchall() == [(WINTER + dt.timedelta(microseconds=496710),)]
    con.execute("INSERT INTO _runs (run_id, started_at, audience, destination, status) VALUES ('summer', ?, 'all', 'main', 'ok')", [SUMMER])
    con.close()

    with Warehouse(target) as wh:
        assert wh.con.execute("SELECT max(version) FROM _schema").fetchone() == (SCHEMA_VERSION,)
        after = dict(wh.con.execute("SELECT run_id, started_at FROM _runs").fetchall())
    assert after == {
        "a674a02a65d7": WINTER + dt.timedelta(hours=6, microseconds=496710),  # CST: UTC-6
        "summer": SUMMER + dt.timedelta(hours=5),  # CDT: UTC-5
    }
    with Warehouse(target) as wh:  # converted once: opening again changes nothing
        assert dict(wh.con.execute("SELECT run_id, started_at FROM _runs").fetchall()) == after


def test_a_state_export_of_an_older_schema_has_its_start_times_converted(tmp_path: Path, chicago: None) -> None:
    with Warehouse(tmp_path / "old.duckdb") as old:
        old.con.execute("INSERT INTO _runs (run_id, started_at, audience, destination, status) VALUES ('r', ?, 'a', 'd', 'ok')", [SUMMER])
        current = export_state(old.con, tmp_path / "current.zip").path
    older = tmp_path / "older.zip"  # the same rows, as a release that wrote local times exported them
    with zipfile.ZipFile(current) as src, zipfile.ZipFile(older, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "manifest.json":
                data = json.dumps({**json.loads(data), "schema_version": RUNS_IN_UTC_SINCE - 1}).encode()
            dst.writestr(item, data)
    with Warehouse(tmp_path / "new.duckdb") as new:
        import_state(new.con, older)
        assert new.con.execute("SELECT started_at FROM _runs").fetchall() == [(SUMMER + dt.timedelta(hours=5),)]
        import_state(new.con, current)  # an export of this schema is UTC already
        assert new.con.execute("SELECT started_at FROM _runs").fetchall() == [(SUMMER,)]
