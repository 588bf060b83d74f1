"""Sources as configured: a renamed source leaves no rows under its old name at the next load, its
people are not doubled, and an opt-out in the renamed source's extract removes the person."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import duckdb
import pytest

from dealersync.model import TABLES

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "dealersync-meta" / "tests"))
from meta_fake import TOKEN, FakeMeta, meta_http  # noqa: E402
from meta_world import TOKEN_ENV, World, customers, remote, sha  # noqa: E402

from dealersync.testing import run_sync  # noqa: E402


class RenamedWorld(World):
    """The Meta world whose source is called ``source_name``."""

    source_name = "dms"

    def write(self) -> None:
        super().write()
        text = self.config.read_text(encoding="utf-8")
        self.config.write_text(text.replace("[sources.dms]", f"[sources.{self.source_name}]"), encoding="utf-8")


def rows_by_source(world: World) -> dict[str, int]:
    con = duckdb.connect(str(world.root / "wh.duckdb"), read_only=True)
    try:
        union = " UNION ALL ".join(f'SELECT _source FROM "{t}"' for t in TABLES)
        return {s: int(n) for s, n in con.execute(f"SELECT _source, count(*) FROM ({union}) GROUP BY ALL").fetchall()}
    finally:
        con.close()


def sync(world: World, fake: FakeMeta) -> object:
    world.write()
    with meta_http(fake):
        [res] = run_sync(world.config)
    return res


def test_a_renamed_source_replaces_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    world = RenamedWorld(tmp_path, customers(60))
    fake = FakeMeta()
    assert sync(world, fake).status == "ok"  # type: ignore[attr-defined]
    before = remote(fake)
    assert rows_by_source(world) == {"dms": 60}

    world.source_name = "store_dms"
    with caplog.at_level(logging.WARNING, logger="dealersync"):
        res = sync(world, fake)
    assert res.status == "ok" and (res.added, res.removed) == (0, 0)  # type: ignore[attr-defined]
    assert rows_by_source(world) == {"store_dms": 60}  # nothing left under the old name, nobody twice
    assert remote(fake) == before
    assert "source dms is no longer in connectors.toml: its 60 rows were removed" in caplog.text

    opted_out = world.people[7]
    world.people[7] = {**opted_out, "do_not_market": True}  # the opt-out arrives in the new source
    res = sync(world, fake)
    assert res.status == "ok" and res.removed == 1  # type: ignore[attr-defined]
    emails = {v for m in remote(fake) for k, v in m if k == "email"}
    assert sha(opted_out["email"].strip().lower()) not in emails and len(emails) == 59
