"""Durable state: export / delete / import brings suppressions, sync state and holdouts back (the
next sync sends nothing); a warehouse written by the release before issue 13 opens with its state
intact; a platform list without state is never touched destructively; a newer schema is refused."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from dealersync.cli import cli
from dealersync.errors import FatalError
from dealersync.store import SCHEMA_VERSION, Warehouse

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "dealersync-meta" / "tests"))
from meta_fake import TOKEN, FakeMeta  # noqa: E402
from meta_world import TOKEN_ENV, World, customers, remote, sha  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "warehouse_e2e7d72"
SUPPRESSED = "person.3@example.org"
NOT_IN_STATE = "is not in this warehouse's sync state"
STATE = {
    "_suppressions": "SELECT kind, key_sha256, reason FROM _suppressions",
    "_sync_state": "SELECT audience, destination, member_key, payload, status FROM _sync_state",
    "_remote_audiences": "SELECT audience, destination, remote_id FROM _remote_audiences",
    "_holdouts": "SELECT run_id, audience, salt, share, customer_id FROM _holdouts",
    "_runs": "SELECT run_id, audience, destination, status, added, removed FROM _runs",
}


class HoldoutWorld(World):
    """The Meta test world with a 10% holdout (the audience is the config's last table)."""

    def write(self) -> None:
        super().write()
        self.config.write_text(self.config.read_text(encoding="utf-8") + "holdout = 0.1\n", encoding="utf-8")


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    yield


def state_of(world: World) -> dict[str, set[tuple[Any, ...]]]:
    con = duckdb.connect(str(world.root / "wh.duckdb"), read_only=True)
    try:
        return {t: set(con.execute(sql).fetchall()) for t, sql in STATE.items()}
    finally:
        con.close()


def cli_ok(*args: str) -> str:
    done = CliRunner().invoke(cli, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def test_export_delete_import_then_nothing_to_send(tmp_path: Path) -> None:
    world = HoldoutWorld(tmp_path / "dealer", customers(80))
    fake = FakeMeta()
    assert world.run(fake).status == "ok"
    cli_ok("suppress", "add", "--email", SUPPRESSED, "--reason", "complaint", "--config", str(world.config))
    res = world.run(fake)
    assert res.status == "ok" and res.removed == 1
    before, held = state_of(world), remote(fake)
    export = tmp_path / "backup" / "state.zip"
    export.parent.mkdir()
    out = cli_ok("state", "export", str(export), "--config", str(world.config))
    assert "_sync_state" in out and "_suppressions 1" in out

    (world.root / "wh.duckdb").unlink()
    cli_ok("state", "import", str(export), "--config", str(world.config))
    assert state_of(world) == before  # suppressions, sync state, remote lists, holdouts, history

    res = world.run(fake)
    assert res.status == "ok" and (res.added, res.removed) == (0, 0), (res.added, res.removed)
    assert not any(NOT_IN_STATE in w for w in res.warnings)
    assert remote(fake) == held
    assert len(state_of(world)["_holdouts"]) > len(before["_holdouts"])  # the same salt: same people held out
    salts = {row[2] for row in state_of(world)["_holdouts"]}
    assert salts == {"all"}


def test_a_list_without_state_is_not_touched_destructively(tmp_path: Path) -> None:
    """A deleted warehouse and no import: the sync warns, adds, removes nobody, replaces nothing."""
    world = World(tmp_path / "dealer", customers(60), mode="replace")
    fake = FakeMeta()
    assert world.run(fake).status == "ok"
    by_hand = {"email": sha("walk-in@example.org")}
    fake.add_members(fake.only_list(), [by_hand])  # someone added by hand: a replace would drop them
    (world.root / "wh.duckdb").unlink()
    world.people = world.people[:50]  # and ten left the audience meanwhile
    res = world.run(fake)
    assert res.status == "ok", res.error
    assert any(NOT_IN_STATE in w and "not replaced" in w for w in res.warnings), res.warnings
    assert len(fake.members(fake.only_list())) == 61  # nobody removed, nothing replaced


def _old_warehouse(tmp_path: Path, fixture: Path = FIXTURE) -> Path:
    """A warehouse as an older release wrote it (by default the release before issue 13:
    tests/fixtures/warehouse_e2e7d72)."""
    copy = tmp_path / "export"
    shutil.copytree(fixture / "warehouse", copy)
    load = copy / "load.sql"
    load.write_text(load.read_text(encoding="utf-8").replace("@FIXTURE@", str(copy)), encoding="utf-8")
    target = tmp_path / "dealer" / "wh.duckdb"
    target.parent.mkdir(parents=True)
    con = duckdb.connect(str(target))
    con.execute(f"IMPORT DATABASE '{copy}'")
    con.close()
    return target


def test_a_warehouse_of_the_previous_release_keeps_its_state(tmp_path: Path) -> None:
    target = _old_warehouse(tmp_path)
    con = duckdb.connect(str(target))
    old_tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert "_schema" not in old_tables and "_guard_baseline" not in old_tables  # really the old layout
    world = HoldoutWorld(tmp_path / "dealer", customers(60))
    before = state_of(world)
    platform = json.loads((FIXTURE / "remote.json").read_text(encoding="utf-8"))
    fake = FakeMeta()
    list_id = fake.new_list(platform["name"], subtype="CUSTOM", customer_file_source="USER_PROVIDED_ONLY")
    assert list_id == platform["id"]  # the id the old state is bound to
    fake.add_members(list_id, platform["members"])

    res = world.run(fake)
    assert res.status == "ok", res.error
    was_there = sha(SUPPRESSED) in {m.get("email") for m in platform["members"]}
    assert (res.added, res.removed) == (0, int(was_there))  # only the suppression the old CLI added
    assert not any(NOT_IN_STATE in w for w in res.warnings)
    after = state_of(world)
    assert after["_suppressions"] == before["_suppressions"] and len(before["_suppressions"]) == 1
    assert before["_holdouts"] <= after["_holdouts"] and before["_runs"] <= after["_runs"]
    assert len(after["_sync_state"]) == len(before["_sync_state"]) - int(was_there)
    with Warehouse(target) as wh:
        assert wh.con.execute("SELECT max(version) FROM _schema").fetchone() == (SCHEMA_VERSION,)
    again = world.run(fake)
    assert (again.added, again.removed) == (0, 0)


def test_a_warehouse_of_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    with Warehouse(path) as wh:
        wh.con.execute("INSERT INTO _schema VALUES (?, now())", [SCHEMA_VERSION + 1])
    with pytest.raises(FatalError, match="newer dealersync"):
        Warehouse(path)
