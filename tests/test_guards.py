"""Change guards through the CLI against the Meta fake, in mirror mode: a broken extract holds the
removals (the live audience is unchanged, the run is ``held``, exit 3, the message names the file
and the counts) until ``--accept-changes`` releases them."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from dealersync.cli import cli
from dealersync.delivery.guards import HELD_EXIT_CODE

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "dealersync-meta" / "tests"))
from meta_fake import TOKEN, FakeMeta, meta_http  # noqa: E402
from meta_world import TOKEN_ENV, World, customers, remote  # noqa: E402

N = 200


@pytest.fixture
def synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[World, FakeMeta]:
    """A dealer whose 200 customers are on Meta after one good run."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    world = World(tmp_path / "dealer", customers(N))
    fake = FakeMeta()
    done = sync(world, fake)
    assert done.exit_code == 0, done.output
    assert len(fake.members(fake.only_list())) == N
    return world, fake


def sync(world: World, fake: FakeMeta, *args: str) -> Result:
    """``dealersync sync`` on the world's files as they are on disk (not rewritten)."""
    with meta_http(fake):
        return CliRunner().invoke(cli, ["sync", "--config", str(world.config), *args])


def last_run(world: World) -> tuple[str, str | None]:
    con = duckdb.connect(str(world.root / "wh.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT status, error FROM _runs ORDER BY started_at DESC LIMIT 1").fetchone()
    finally:
        con.close()
    assert row is not None
    return row[0], row[1]


def assert_held(world: World, fake: FakeMeta, before: object, *expected: str) -> None:
    done = sync(world, fake)
    assert done.exit_code == HELD_EXIT_CODE, done.output
    assert remote(fake) == before  # nobody removed from the live audience
    status, error = last_run(world)
    assert status == "held"
    for text in expected:
        assert text in done.output and text in (error or ""), (text, done.output)
    assert "--accept-changes all" in done.output


def assert_release_applies(world: World, fake: FakeMeta, expected_members: int) -> None:
    done = sync(world, fake, "--accept-changes", "all")
    assert done.exit_code == 0, done.output
    assert len(fake.members(fake.only_list())) == expected_members
    assert last_run(world)[0] == "ok"
    again = sync(world, fake)  # the accepted counts are the new baseline: nothing held any more
    assert again.exit_code == 0, again.output


def customers_file(world: World) -> Path:
    return world.root / "dms" / "customers.csv"


def test_header_only_customers_file_is_held(synced: tuple[World, FakeMeta]) -> None:
    world, fake = synced
    before = remote(fake)
    path = customers_file(world)
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    assert_held(world, fake, before, f"customers.csv has 0 rows (table customers), the last good load had {N}",
                f"would remove {N} of the {N} members")
    assert_held(world, fake, before, "customers.csv has 0 rows")  # still held on the next run
    assert_release_applies(world, fake, 0)


def test_file_cut_at_a_tenth_of_its_bytes_is_held(synced: tuple[World, FakeMeta]) -> None:
    world, fake = synced
    before = remote(fake)
    path = customers_file(world)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 10])
    con_rows = data[: len(data) // 10].count(b"\n") - 1  # complete data lines kept (the last is cut)
    done = sync(world, fake)
    assert done.exit_code == HELD_EXIT_CODE, done.output
    assert remote(fake) == before
    assert last_run(world)[0] == "held"
    assert f"the last good load had {N}" in done.output and "customers.csv has " in done.output
    loaded = int(done.output.split("customers.csv has ")[1].split(" rows")[0])
    assert con_rows <= loaded <= con_rows + 1  # the cut line is loaded or quarantined
    assert_release_applies(world, fake, loaded)


def write_created_at(world: World, value: str) -> None:
    path = customers_file(world)
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines[0].split(",").index("created_at")
    rows = []
    for line in lines[1:]:
        cells = line.split(",")
        cells[at] = value
        rows.append(",".join(cells))
    path.write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")


def test_us_dates_without_date_format_never_empty_the_audience(synced: tuple[World, FakeMeta]) -> None:
    """``created_at`` written 11/23/2025 with no ``date_format``. Without detection the rows are
    quarantined and the guard holds; with date-format detection (issue 12) they load and nothing
    is removed. Either way the live audience keeps everyone."""
    world, fake = synced
    before = remote(fake)
    write_created_at(world, "11/23/2025")
    done = sync(world, fake)
    assert remote(fake) == before
    if done.exit_code == 0:  # detected: loaded as dates, nobody left
        assert last_run(world)[0] == "ok"
        return
    assert done.exit_code == HELD_EXIT_CODE, done.output
    assert last_run(world)[0] == "held"
    assert f"customers.csv has {N} of its {N} rows quarantined" in done.output
    assert_release_applies(world, fake, 0)


def test_dates_no_detection_can_read_are_held(synced: tuple[World, FakeMeta]) -> None:
    """A date column every row of which is unreadable whatever the format (``########``: a
    spreadsheet's too-narrow cell, exported as is): every row quarantined, the guard holds."""
    world, fake = synced
    before = remote(fake)
    write_created_at(world, "########")
    assert_held(world, fake, before, f"customers.csv has {N} of its {N} rows quarantined",
                f"customers.csv has 0 rows (table customers), the last good load had {N}")
    assert_release_applies(world, fake, 0)


def test_small_changes_and_adds_flow(synced: tuple[World, FakeMeta]) -> None:
    """Below the thresholds nothing is held; a held run still sends its additions."""
    world, fake = synced
    world.people = world.people[:190] + customers(5, start=9000)  # 10 leave (5%), 5 join
    world.write()
    done = sync(world, fake)
    assert done.exit_code == 0, done.output
    assert len(fake.members(fake.only_list())) == 195
    world.people = world.people[:100] + customers(7, start=9100)  # half leave, 7 join
    world.write()
    done = sync(world, fake)
    assert done.exit_code == HELD_EXIT_CODE, done.output
    assert "would remove 95 of the 195 members" in done.output
    assert len(fake.members(fake.only_list())) == 195 + 7  # the additions went out


def test_per_audience_override(synced: tuple[World, FakeMeta]) -> None:
    world, fake = synced
    world.people = world.people[:100]
    world.write()
    with world.config.open("a", encoding="utf-8") as fh:
        fh.write("[audiences.all.guards]\nmax_removed_share = 0.9\nmax_table_drop = 0.9\n")
    done = sync(world, fake)
    assert done.exit_code == 0, done.output  # 50% is under this audience's 90%
    assert len(fake.members(fake.only_list())) == 100
