"""Helpers for testing dealersync and its plugins (plugin authors use these too).

The conformance kit: :class:`SourceConformance` and :class:`DestinationConformance` (subclass one
in a ``Test...`` class, name the connector and a sample config), :class:`FakePlatform` (a
stateful fake of a platform's API on ``responses``) and :func:`strict_http`. The fixtures they
use come from :mod:`dealersync.testing.pytest_plugin`, which pytest loads by itself.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dealersync.model import TABLES
from dealersync.testing.conformance import ConnectorConformance
from dealersync.testing.dealership import write_dealership
from dealersync.testing.destination_kit import DestinationConformance
from dealersync.testing.fakes import FakePlatform
from dealersync.testing.faults import SimulatedCrash, crash_at, sync_clock
from dealersync.testing.kit_session import KitCheckFailed, KitSession
from dealersync.testing.mocks import every_request_answered, first_request_answered, strict_http
from dealersync.testing.people import SamplePeople, sample_people
from dealersync.testing.plugin_api import KIT_API_VERSION
from dealersync.testing.source_kit import SourceConformance

__all__ = [
    "ConnectorConformance",
    "DestinationConformance",
    "FakePlatform",
    "KitCheckFailed",
    "KitSession",
    "KIT_API_VERSION",
    "SamplePeople",
    "SimulatedCrash",
    "SourceConformance",
    "build_distribution",
    "crash_at",
    "every_request_answered",
    "first_request_answered",
    "install_offline",
    "run_sync",
    "sample_people",
    "strict_http",
    "sync_clock",
    "write_dealership",
    "write_extract",
]


def write_extract(directory: Path, tables: Mapping[str, Iterable[Mapping[str, Any]]]) -> Path:
    """Write a tiny generic-layout extract: one CSV per table, canonical header, missing cells blank."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        columns = TABLES[name].column_names
        with (directory / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=columns, extrasaction="raise")
            w.writeheader()
            for row in rows:
                w.writerow({k: _cell(v) for k, v in row.items()})
    return directory


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def build_distribution(root: Path, dist: str, module: str, entry_point: str, code: str) -> Path:
    """Write a real plugin distribution's sources (pyproject + one module) under ``root``."""
    src = root / dist
    src.mkdir(parents=True)
    (src / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools>=70.1"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "1.2.3"
            dependencies = ["dealersync"]

            [project.entry-points.dealersync]
            {entry_point} = "{module}"

            [tool.setuptools]
            py-modules = ["{module}"]
            """
        )
    )
    (src / f"{module}.py").write_text(textwrap.dedent(code))
    return src


def install_offline(src: Path | Iterable[Path], target: Path) -> None:
    """``pip install`` distributions into ``target`` without network, index or build isolation."""
    sources = [src] if isinstance(src, Path) else list(src)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-index",
         "--no-deps", "--target", str(target), *map(str, sources)],
        check=True,
        capture_output=True,
        text=True,
    )


def run_sync(
    config_path: Path,
    *,
    dry_run: bool = False,
    extra_plugins: Iterable[Any] = (),
    full_resync: bool = False,
    accept_changes: Iterable[str] = (),
) -> list[Any]:
    """Run the main job (load, facts, deliver) for a ``connectors.toml``; return its DeliveryResults.
    ``accept_changes``: audiences whose change guards are released (``--accept-changes``)."""
    from dealersync.config import load_config
    from dealersync.plugins import load_plugins
    from dealersync.sync import Runner

    runner = Runner(load_config(config_path), load_plugins(extra_plugins))
    try:
        names = runner.selected(None)
        runner.validate_all(names)
        runner.load()
        return runner.sync(names, dry_run=dry_run, full_resync=full_resync, accept_changes=accept_changes)
    finally:
        runner.close()
