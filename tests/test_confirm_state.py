"""The confirmed sync state (bookkeeping schema 3): a warehouse of the release before it
(tests/fixtures/warehouse_e2e7d72) gains the new columns, its synced members confirmed when they
were written; the state export carries the new columns and the pending requests."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from dealersync.delivery.state import SyncState
from dealersync.state_archive import export_state, import_state
from dealersync.store import SCHEMA_VERSION, Warehouse

sys.path.insert(0, str(Path(__file__).parent))
from test_state import _old_warehouse  # noqa: E402

NEW_COLUMNS = {"request_id", "confirmed_at", "fingerprint", "platform_id"}


def columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}


def test_an_old_warehouse_gains_the_confirmed_state(tmp_path: Path) -> None:
    target = _old_warehouse(tmp_path)
    con = duckdb.connect(str(target))
    assert not NEW_COLUMNS & columns(con, "_sync_state")  # really the old layout
    before = con.execute("SELECT member_key, payload, status, updated_at FROM _sync_state ORDER BY member_key").fetchall()
    con.close()
    assert before and any(r[2] == "synced" for r in before)

    with Warehouse(target) as wh:
        assert wh.con.execute("SELECT max(version) FROM _schema").fetchone() == (SCHEMA_VERSION,)
        assert NEW_COLUMNS <= columns(wh.con, "_sync_state")
        after = wh.con.execute(
            "SELECT member_key, payload, status, updated_at, confirmed_at, request_id, fingerprint, platform_id"
            " FROM _sync_state ORDER BY member_key"
        ).fetchall()
    assert [r[:4] for r in after] == before  # nothing lost or changed
    for r in after:
        # synced before confirmations existed: delivered when written; nothing pending
        assert r[4] == (r[3] if r[2] == "synced" else None)
        assert r[5:] == (None, None, None)


def test_the_state_export_carries_the_new_columns_and_pending_requests(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "a.duckdb") as wh:
        SyncState(wh.con, "buyers", "google")
        wh.con.execute(
            "INSERT INTO _sync_state (audience, destination, member_key, payload, status, attempts, final,"
            " updated_at, request_id, confirmed_at, fingerprint, platform_id) VALUES"
            " ('buyers', 'google', 'k1', '{}', 'pending', 0, false, now(), 'req-7', NULL, 'f1', NULL),"
            " ('buyers', 'google', 'k2', '{}', 'synced', 0, false, now(), NULL, TIMESTAMP '2026-01-02 03:04:05', 'f2', 'p2')"
        )
        wh.con.execute("INSERT INTO _requests VALUES ('buyers', 'google', 'req-7', 'add', 1, now(), 'pending', NULL, NULL)")
        want = wh.con.execute("SELECT * EXCLUDE (updated_at) FROM _sync_state ORDER BY member_key").fetchall()
        summary = export_state(wh.con, tmp_path / "state.zip")
    assert summary.rows["_requests"] == 1
    with Warehouse(tmp_path / "b.duckdb") as wh:
        import_state(wh.con, tmp_path / "state.zip")
        assert wh.con.execute("SELECT * EXCLUDE (updated_at) FROM _sync_state ORDER BY member_key").fetchall() == want
        assert SyncState(wh.con, "buyers", "google").pending_requests() == [("req-7", "add", 1)]
