"""A warehouse and a state export written by commit 943486d (bookkeeping schema 2, the version
before this session's schemas 3-7; tests/fixtures/warehouse_943486d, built by its build.py):
opened with this code in one go to the current schema, its sync state, suppressions (scope all),
holdouts and run history survive and the next sync sends only the suppression; its export
imports into a new warehouse alike."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest

from dealersync.state_archive import import_state
from dealersync.store import SCHEMA_VERSION, Warehouse

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "dealersync-meta" / "tests"))
from meta_fake import TOKEN, FakeMeta  # noqa: E402
from meta_world import TOKEN_ENV, customers, sha  # noqa: E402
from test_state import NOT_IN_STATE, SUPPRESSED, HoldoutWorld, _old_warehouse, state_of  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "warehouse_943486d"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def platform_fake() -> FakeMeta:
    """The Meta fake holding the list the fixture's state describes."""
    platform = json.loads((FIXTURE / "remote.json").read_text(encoding="utf-8"))
    fake = FakeMeta()
    list_id = fake.new_list(platform["name"], subtype="CUSTOM", customer_file_source="USER_PROVIDED_ONLY")
    assert list_id == platform["id"]  # the id the old state is bound to
    fake.add_members(list_id, platform["members"])
    return fake


def sync_sends_only_the_suppression(world: HoldoutWorld) -> None:
    fake = platform_fake()
    res = world.run(fake)
    assert res.status == "ok", res.error
    assert (res.added, res.removed) == (0, 1)  # the person the old CLI suppressed, nobody else
    assert not any(NOT_IN_STATE in w for w in res.warnings)
    assert sha(SUPPRESSED) not in {m.get("email") for m in fake.members(fake.only_list())}
    again = world.run(fake)
    assert (again.added, again.removed) == (0, 0)


def current_extras(path: Path) -> tuple[set[str], int, int]:
    """(suppression scopes, synced rows without confirmed_at, quarantine entries marked loaded)."""
    with Warehouse(path) as wh:
        assert wh.con.execute("SELECT max(version) FROM _schema").fetchone() == (SCHEMA_VERSION,)
        scopes = {r[0] for r in wh.con.execute("SELECT scope FROM _suppressions").fetchall()}
        (unconfirmed,) = wh.con.execute(
            "SELECT count(*) FROM _sync_state WHERE status = 'synced' AND confirmed_at IS NULL"
        ).fetchone() or (None,)
        (loaded,) = wh.con.execute("SELECT count(*) FROM _quarantine WHERE row_loaded").fetchone() or (None,)
    return scopes, unconfirmed, loaded


def test_a_schema_2_warehouse_of_943486d_opens_with_its_state_intact(tmp_path: Path) -> None:
    target = _old_warehouse(tmp_path, FIXTURE)
    con = duckdb.connect(str(target))
    assert con.execute("SELECT max(version) FROM _schema").fetchone() == (2,)  # really the old layout
    assert "scope" not in {r[0] for r in con.execute("DESCRIBE _suppressions").fetchall()}
    con.close()
    world = HoldoutWorld(tmp_path / "dealer", customers(60))
    before = state_of(world)
    assert len(before["_suppressions"]) == 1 and before["_sync_state"] and before["_holdouts"] and before["_runs"]

    assert current_extras(target) == ({"all"}, 0, 0)  # opened: scope all, synced rows confirmed
    assert state_of(world) == before  # the migration alone changes none of it

    sync_sends_only_the_suppression(world)
    after = state_of(world)
    assert after["_suppressions"] == before["_suppressions"]
    assert before["_holdouts"] <= after["_holdouts"] and before["_runs"] < after["_runs"]
    assert len(after["_sync_state"]) == len(before["_sync_state"]) - 1


def test_a_state_export_of_943486d_imports_into_a_new_warehouse(tmp_path: Path) -> None:
    old = _old_warehouse(tmp_path / "old", FIXTURE)
    world = HoldoutWorld(tmp_path / "dealer", customers(60))
    with Warehouse(world.root / "wh.duckdb") as wh:
        summary = import_state(wh.con, FIXTURE / "state.zip")
    assert summary.schema_version == 2
    assert state_of(world) == state_of(HoldoutWorld(old.parent, customers(60)))  # the same rows as its warehouse
    assert current_extras(world.root / "wh.duckdb") == ({"all"}, 0, 0)
    sync_sends_only_the_suppression(world)
