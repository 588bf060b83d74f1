"""``dealersync check``: the preflight of ``dealersync sync`` alone.

Reads ``connectors.toml``, builds every connector and runs every check that needs neither the
data nor the network (:mod:`dealersync.preflight`). Nothing is loaded, written or sent; the
warehouse is not opened.
"""

from __future__ import annotations

from pathlib import Path

import click

from dealersync.cli.options import config_option
from dealersync.config import load_config
from dealersync.plugins import load_plugins
from dealersync.preflight import preflight
from dealersync.sync import Runner


def register(cli: click.Group) -> None:
    cli.add_command(check)


@click.command()
@config_option
def check(config_path: Path) -> None:
    """Check connectors.toml and every connector's settings, with no data and no network.

    Every source and destination is built and checked (paths, file names, settings each audience
    needs), every audience's segments compile; all problems are listed at once. Credentials and
    platform lists are not tried (that needs the network: the first sync does it).

    Exit status: 0 the configuration is usable, 2 a configuration error (each line names its key).
    """
    config = load_config(config_path)
    runner = Runner(config, load_plugins())
    report = preflight(runner, list(config.settings.audiences))
    click.echo(
        f"{config.path.name}: ok: {_count(report.sources, 'source')}, {_count(report.destinations, 'destination')},"
        f" {_count(report.segments, 'segment')}, {_count(report.audiences, 'audience')} checked"
        " (headers read, no rows loaded, no network)"
    )


def _count(names: list[str], noun: str) -> str:
    return f"{len(names)} {noun}" + ("" if len(names) == 1 else "s")
