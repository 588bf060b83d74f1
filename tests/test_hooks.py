"""Every hook is documented in the plugin guide and exercised by a test; the observer hook works."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pluggy
from dealersync import hookimpl, hookspecs
from dealersync.testing import run_sync, write_extract

ROOT = Path(__file__).parents[1]


def hook_names() -> list[str]:
    marker = f"{hookspecs.PROJECT}_spec"
    return sorted(n for n in dir(hookspecs) if n.startswith("dealersync_") and hasattr(getattr(hookspecs, n), marker))


def test_every_hook_is_documented_and_exercised_by_a_test() -> None:
    names = hook_names()
    assert "dealersync_register_sources" in names and "dealersync_sync_finished" in names
    guide = (ROOT / "docs" / "plugins.md").read_text()
    assert [n for n in names if f"`{n}" not in guide] == [], "hooks missing from docs/plugins.md"
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    untested = [
        n for n in names
        if not re.search(rf"def {n}\s*\(|\.{n}\s*=|\.{n}\s*\(", tests)  # an implementation or a call
    ]
    assert untested == [], "hooks no test under tests/ implements or calls"


def test_hookspec_marker_is_the_one_plugins_use() -> None:
    assert isinstance(hookimpl, pluggy.HookimplMarker) and hookimpl.project_name == hookspecs.PROJECT


def test_sync_finished_sees_each_delivery_and_cannot_fail_it(tmp_path: Path) -> None:
    write_extract(tmp_path / "dms", {"customers": [{"customer_id": "C1", "email": "ann@example.com"}]})
    (tmp_path / "connectors.toml").write_text(
        """
as_of = "2026-11-23"
[warehouse]
path = "wh.duckdb"
[sources.dms]
connector = "dms-csv"
path = "dms"
[destinations.meta]
connector = "meta-file"
[destinations.google]
connector = "google-file"
[segments.everyone]
rule = { fact = "customer_id", op = "is_null", value = false }
[audiences.all]
segment = "everyone"
destinations = ["meta", "google"]
"""
    )
    seen: list[tuple[str, str, str]] = []
    watcher = ModuleType("watcher")

    @hookimpl
    def dealersync_sync_finished(result: object) -> None:
        seen.append((result.audience, result.destination, result.status))  # type: ignore[attr-defined]

    watcher.dealersync_sync_finished = dealersync_sync_finished  # type: ignore[attr-defined]
    broken = ModuleType("broken_watcher")

    @hookimpl
    def failing(result: object) -> None:
        raise RuntimeError("observer bug")

    broken.dealersync_sync_finished = failing  # type: ignore[attr-defined]
    told: list[str] = []
    bare = ModuleType("bare_watcher")  # names no argument: told that a delivery finished
    bare.dealersync_sync_finished = hookimpl(lambda: told.append("told"))  # type: ignore[attr-defined]
    run_sync(tmp_path / "connectors.toml", extra_plugins=[watcher])
    assert sorted(seen) == [("all", "google", "ok"), ("all", "meta", "ok")]
    seen.clear()
    results = run_sync(tmp_path / "connectors.toml", extra_plugins=[broken, bare, watcher])
    assert {r.status for r in results} == {"ok"}
    assert sorted(seen) == [("all", "google", "ok"), ("all", "meta", "ok")]  # the failing one silenced no one
    assert told == ["told", "told"]
