"""A dealership on disk for a destination's end-to-end tests: an extract and its connectors.toml.

A vendor's sync test writes one with :func:`write_dealership`, runs it with
:func:`dealersync.testing.run_sync` (or ``dealersync sync --config``) and compares the fake
platform with the customers it wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: The day a test dealership's relative rules are evaluated against.
AS_OF = "2026-11-23"


def write_dealership(
    root: Path,
    customers: Iterable[Mapping[str, Any]],
    destination: Mapping[str, Any],
    *,
    mode: str = "mirror",
    audience: str = "all",
) -> Path:
    """Write ``root/dms`` (the customers, as a ``dms-csv`` extract) and ``root/connectors.toml``:
    the warehouse ``root/wh.duckdb``, the day :data:`AS_OF`, and one audience ``audience`` of
    every customer synced in ``mode`` to the destination ``main``. ``destination`` holds its keys
    as Python values: ``connector`` and the connector's settings (a secret as ``{"env": "NAME"}``).
    Returns the path of connectors.toml; call again to change the extract or the settings."""
    from dealersync.testing import write_extract  # defined beside the package's other helpers

    write_extract(root / "dms", {"customers": customers})
    settings = "".join(f"{key} = {_toml(value)}\n" for key, value in destination.items())
    config = root / "connectors.toml"
    config.write_text(
        f'as_of = "{AS_OF}"\n'
        '[warehouse]\npath = "wh.duckdb"\n'
        '[sources.dms]\nconnector = "dms-csv"\ndir = "dms"\n'
        f"[destinations.main]\n{settings}"
        '[segments.everyone]\nrule = { fact = "customer_id", op = "is_null", value = false }\n'
        f'[audiences.{audience}]\nsegment = "everyone"\ndestinations = ["main"]\nmode = {_toml(mode)}\n',
        encoding="utf-8",
    )
    return config


def _toml(value: Any) -> str:
    """A TOML value: strings, numbers and booleans as JSON writes them (TOML reads those the
    same), tables inline, arrays of those."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str | int | float | bool):
        return json.dumps(value)
    raise TypeError(f"write_dealership: no TOML for a {type(value).__name__}")
