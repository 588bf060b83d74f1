"""Read-back into the run history (issue 16, deliver 6): after each delivery the platform's own
view (Meta approximate_count_lower_bound / _upper_bound and operation_status) is in ``_runs``
and ``dealersync runs``; a drop and an audience deleted on the platform are warnings, and a
deleted one is created again and fully resynced."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from dealersync.cli import cli

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "dealersync-meta" / "tests"))
from meta_fake import TOKEN, FakeMeta  # noqa: E402
from meta_world import TOKEN_ENV, World, assert_remote_is, customers  # noqa: E402


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    yield


def history(world: World) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(world.root / "wh.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT platform_size_lower, platform_size_upper, platform_status FROM _runs ORDER BY started_at"
        ).fetchall()
    finally:
        con.close()


def test_meta_size_bounds_and_status_reach_the_history_and_dealersync_runs(tmp_path: Path) -> None:
    world, fake = World(tmp_path, customers(200)), FakeMeta()
    res = world.run(fake)
    assert res.status == "ok", res.error
    assert (res.platform_size_lower, res.platform_size_upper, res.platform_status) == (190, 210, "200 Normal")
    assert history(world) == [(190, 210, "200 Normal")]
    out = CliRunner().invoke(cli, ["runs", "--config", str(world.config)])
    assert out.exit_code == 0, out.output
    assert "platform says" in out.output and "190-210" in out.output and "Normal" in out.output
    out = CliRunner().invoke(cli, ["runs", "--json", "--config", str(world.config)])
    assert '"platform_size_upper": 210' in out.output


def test_a_drop_is_a_warning(tmp_path: Path) -> None:
    world, fake = World(tmp_path, customers(200)), FakeMeta()
    world.run(fake)
    audience = fake.only_list()
    fake.remove_members(audience, fake.members(audience)[:100])  # half emptied by hand on the platform
    res = world.run(fake)
    assert res.status == "ok", res.error
    assert any("audience size fell from 210 to 105" in w for w in res.warnings), res.warnings


def test_an_audience_deleted_on_the_platform_is_recreated_and_fully_resynced(tmp_path: Path) -> None:
    world, fake = World(tmp_path, customers(150)), FakeMeta()
    world.run(fake)
    gone = fake.only_list()
    del fake.audiences[gone]
    fake.lists.pop(gone, None)
    res = world.run(fake)  # Meta finds no audience of that name: it is created again, and filled
    assert res.status == "ok", res.error
    assert any("platform list changed" in w and "every member is sent again" in w for w in res.warnings), res.warnings
    assert res.added == 150 and fake.only_list() != gone
    assert_remote_is(fake, world)


def test_a_list_deleted_after_the_delivery_loses_its_state(tmp_path: Path) -> None:
    """Read back finds the list gone (Meta error 100/33): the state is dropped, said so."""
    world, fake = World(tmp_path, customers(120)), FakeMeta()
    world.run(fake)
    gone = fake.only_list()
    real_get = fake.get_audience

    def deleted_after_upload(req, op, audience):  # type: ignore[no-untyped-def]
        fake.audiences.pop(gone, None)
        return real_get(req, op, audience)

    fake.get_audience = deleted_after_upload  # type: ignore[method-assign]
    world.people = world.people[:110]  # something to send, so the run reaches the list
    res = world.run(fake)
    assert any("was deleted on the platform" in w and "sends every member" in w for w in res.warnings), res.warnings
    con = duckdb.connect(str(world.root / "wh.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM _sync_state").fetchone() == (0,)
    finally:
        con.close()
