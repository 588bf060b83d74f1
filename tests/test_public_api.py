"""Bundled plugins use exactly what a third-party vendor would: the top-level ``dealersync`` API."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import dealersync
from dealersync import Fact, hookimpl
from dealersync.testing import run_sync, write_extract

from tests.support.configs import audience, dealership, destination, table

PLUGINS = Path(__file__).parents[1] / "plugins"


def _core_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dealersync."):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("dealersync.")]
    return found


def test_bundled_plugins_import_only_the_public_api() -> None:
    sources = [p for p in PLUGINS.glob("*/*/*.py") if "tests" not in p.parts]
    assert len(sources) >= 4
    offenders = {str(p.relative_to(PLUGINS)): _core_imports(p) for p in sources if _core_imports(p)}
    assert offenders == {}
    tests = list(PLUGINS.glob("*/tests/*.py"))
    assert len(tests) >= 5 and all(m in ("dealersync.testing",) for t in tests for m in _core_imports(t))


def test_public_names_resolve() -> None:
    for name in dealersync.__all__:
        assert getattr(dealersync, name) is not None, name


def test_plugin_fact_is_usable_in_segments(tmp_path: Path) -> None:
    plugin = types.ModuleType("fleet_facts")
    plugin.dealersync_register_features = hookimpl(  # type: ignore[attr-defined]
        lambda: [Fact("is_fleet", "boolean", "c.last_name ILIKE '%fleet%'", "a fleet account")]
    )
    write_extract(
        tmp_path / "dms",
        {"customers": [
            {"customer_id": "C1", "last_name": "Acme Fleet", "email": "f@acme.com"},
            {"customer_id": "C2", "last_name": "Jones", "email": "j@x.com"},
        ]},
    )
    (tmp_path / "c.toml").write_text(dealership(
        destination("m", "meta-file"),
        table("segments.fleet", rule={"fact": "is_fleet", "op": "=", "value": True}),
        audience("fleet", "fleet", ["m"]),
        as_of=None,
    ))
    [result] = run_sync(tmp_path / "c.toml", extra_plugins=[plugin])
    assert (result.status, result.segment_size, result.members) == ("ok", 1, 1)


def test_plugin_template_is_usable_in_a_sync(tmp_path: Path) -> None:
    from pydantic import BaseModel, Field

    from dealersync import SegmentTemplate

    class Params(BaseModel):
        surname: str = Field("Smith", description="last name to match")

    plugin = types.ModuleType("surname_templates")
    plugin.dealersync_register_segment_templates = hookimpl(  # type: ignore[attr-defined]
        lambda: [SegmentTemplate("surname_is", "customers with this last name", Params,
                                 lambda p: {"fact": "last_name", "op": "=", "value": p.surname})]
    )
    write_extract(tmp_path / "dms", {"customers": [
        {"customer_id": "C1", "last_name": "Jones", "email": "j@x.com"},
        {"customer_id": "C2", "last_name": "Smith", "email": "s@x.com"},
    ]})
    (tmp_path / "c.toml").write_text(dealership(
        destination("m", "meta-file"),
        table("segments.joneses", template="surname_is", params={"surname": "Jones"}),
        audience("joneses", "joneses", ["m"]),
        as_of=None,
    ))
    [result] = run_sync(tmp_path / "c.toml", extra_plugins=[plugin])
    assert (result.status, result.segment_size, result.members) == ("ok", 1, 1)
