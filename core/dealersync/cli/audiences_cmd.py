"""``dealersync audiences preview``: who an audience would reach, and who policy drops, per destination."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from rich.console import Console

from dealersync.cli.options import as_of_option, config_option
from dealersync.cli.sync_cmd import print_warnings, result_table
from dealersync.config import load_config
from dealersync.plugins import load_plugins
from dealersync.sync import Runner


def register(cli: click.Group) -> None:
    cli.add_command(audiences)


@click.group()
def audiences() -> None:
    """Inspect audiences."""


@audiences.command()
@click.argument("name")
@config_option
@as_of_option
def preview(name: str, config_path: Path, as_of: dt.date | None) -> None:
    """Load the sources and show, per destination, the members and the drops (writes nothing)."""
    runner = Runner(load_config(config_path), load_plugins(), as_of=as_of)
    err = Console(stderr=True)
    try:
        names = runner.selected([name])
        runner.validate_all(names)
        with err.status("loading") as status:
            runner.progress = lambda msg: status.update(msg)
            runner.load()
            results = runner.sync(names, dry_run=True)
    finally:
        runner.close()
    Console(width=None if sys.stdout.isatty() else 160).print(
        result_table(results, f"Audience {name} as of {runner.as_of} (preview: nothing written)")
    )
    print_warnings(err, results)
