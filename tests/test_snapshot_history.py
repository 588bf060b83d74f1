"""The last-write tables of snapshot destinations (:mod:`dealersync.delivery.snapshots`): one per
(audience, destination), never shared, and dropped once the pair is no longer configured."""

from __future__ import annotations

import duckdb
import pytest

from dealersync.delivery.snapshots import DELIVERED_PREFIX, SnapshotHistory, drop_stale_deliveries
from dealersync.store import pair_table, persisted_tables


def test_pairs_whose_names_join_alike_keep_separate_baselines() -> None:
    con = duckdb.connect()
    a, b = SnapshotHistory(con, "a_b", "c", "m"), SnapshotHistory(con, "a", "b_c", "m")
    assert a.delivered != b.delivered
    assert a.delivered.startswith("_delivered_a_b_c_") and b.delivered.startswith("_delivered_a_b_c_")


def test_drop_stale_deliveries_drops_unlisted_and_legacy_tables_only() -> None:
    con = duckdb.connect()
    kept, gone = pair_table(DELIVERED_PREFIX, "a", "d"), pair_table(DELIVERED_PREFIX, "b", "d")
    for name in (kept, gone, "_delivered_a_d", "customers", "_members_x"):
        con.execute(f'CREATE TABLE "{name}" (x INTEGER)')
    assert drop_stale_deliveries(con, {("a", "d"), ("z", "nowhere")}) == sorted([gone, "_delivered_a_d"])
    assert persisted_tables(con) == {kept, "customers", "_members_x"}
    assert drop_stale_deliveries(con, {("a", "d")}) == []


def test_a_table_named_before_the_pair_hash_becomes_its_pairs_table() -> None:
    """An upgraded warehouse keeps its baseline: removals still pending are not lost."""
    con = duckdb.connect()
    con.execute('CREATE TABLE "_delivered_a_d" AS SELECT 1 AS x')
    assert drop_stale_deliveries(con, {("a", "d")}) == []
    new = pair_table(DELIVERED_PREFIX, "a", "d")
    assert persisted_tables(con) == {new}
    assert con.execute(f'SELECT x FROM "{new}"').fetchall() == [(1,)]


def test_an_old_table_two_pairs_shared_is_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    con = duckdb.connect()
    con.execute('CREATE TABLE "_delivered_a_b_c" (x INTEGER)')
    assert drop_stale_deliveries(con, {("a_b", "c"), ("a", "b_c")}) == ["_delivered_a_b_c"]
    assert persisted_tables(con) == set()
    assert "a/b_c and a_b/c" in caplog.text and "--full-resync" in caplog.text
