"""Options shared by several commands."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import click

from dealersync.config import load_config
from dealersync.store import Warehouse

DEFAULT_CONFIG = "connectors.toml"

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("DEALERSYNC_CONFIG", DEFAULT_CONFIG),
    show_default="connectors.toml or $DEALERSYNC_CONFIG",
    help="The dealership's connectors.toml.",
)


def _parse_date(_ctx: Any, _param: Any, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"found {value!r}, expected a date YYYY-MM-DD") from None


as_of_option = click.option(
    "--as-of",
    callback=_parse_date,
    metavar="YYYY-MM-DD",
    help="Evaluate relative rules against this day (default: as_of in the config, else today).",
)

since_option = click.option(
    "--since",
    callback=_parse_date,
    metavar="YYYY-MM-DD",
    help="Only runs started on or after this day (default: all).",
)


def open_warehouse(config_path: Path) -> Warehouse:
    """The warehouse of the dealership's config, opened with its settings."""
    config = load_config(config_path)
    wh = config.settings.warehouse
    return Warehouse(config.resolve(wh.path), memory_limit=wh.memory_limit, threads=wh.threads)
