"""``dealersync report``: one self-contained HTML page of the audiences, their history and the data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from dealersync.cli.options import config_option, since_option
from dealersync.config import load_config
from dealersync.plugins import load_plugins
from dealersync.report.build import build_report


def register(cli: click.Group) -> None:
    cli.add_command(report)


@click.command()
@config_option
@since_option
@click.option("--audience", "audiences", multiple=True, metavar="NAME", help="Only this audience (repeatable; default: all).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the page (default: report.html in the output directory).",
)
def report(config_path: Path, since: dt.date | None, audiences: tuple[str, ...], out: Path | None) -> None:
    """Write the audience report: one HTML file, no network needed to open it, no customer data in it."""
    built = build_report(load_config(config_path), load_plugins(), since=since, audiences=audiences, out=out)
    click.echo(f"report written to {built.path} ({built.size:,} bytes, {built.deliveries:,} deliveries, {built.seconds:.2f} s)")
