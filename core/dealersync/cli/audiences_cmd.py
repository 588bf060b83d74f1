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
from dealersync.connectors import LookalikeCapable, RemoteAudience
from dealersync.delivery import SyncState
from dealersync.errors import ConfigError
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
            through = _removed_through_another_record(runner, name)
    finally:
        runner.close()
    Console(width=None if sys.stdout.isatty() else 160).print(
        result_table(results, f"Audience {name} as of {runner.as_of} (preview: nothing written)")
    )
    print_warnings(err, results)
    for line in through:
        click.echo(line)


def _removed_through_another_record(runner: Runner, name: str) -> list[str]:
    """Lines naming the records policy dropped because another record of the same person was
    excluded or suppressed: customer ids and rooftops only (never a name, email or phone)."""
    removed = runner.removed_through_another_record.get(name, [])
    if not removed:
        return []
    sources = dict(runner.warehouse.con.execute("SELECT customer_id, any_value(_source) FROM customers GROUP BY ALL").fetchall())

    def record(cid: str) -> str:
        return f"customer {cid} (rooftop {runner.rooftops.of_source(sources.get(cid, '')) or '-'})"

    return [f"Removed through another record of the same person ({len(removed)}):"] + [
        f"  {record(cid)}: {step} through {record(other)}" for cid, step, other in removed
    ]


@audiences.command()
@click.argument("name")
@click.option("--country", required=True, help="ISO country the lookalike targets, e.g. US.")
@click.option("--ratio", type=click.FloatRange(0.01, 0.20), default=0.01, show_default=True, help="Share of the country's population.")
@click.option("--destination", "dest_name", help="Which of the audience's destinations (default: the one that supports lookalikes).")
@config_option
def lookalike(name: str, country: str, ratio: float, dest_name: str | None, config_path: Path) -> None:
    """Create a lookalike audience on the platform from a synced audience (the seed)."""
    config = load_config(config_path)
    runner = Runner(config, load_plugins())
    try:
        [audience] = [config.settings.audiences[n] for n in runner.selected([name])]
        candidates = [d for d in audience.destinations if dest_name in (None, d)]
        dests = [(d, runner.destination(d)) for d in candidates]
        able = [(d, dest) for d, dest in dests if isinstance(dest, LookalikeCapable)]
        if not able:
            raise ConfigError(f"audiences.{name}: none of its destinations ({', '.join(candidates)}) can create lookalikes")
        d, dest = able[0]
        remote_id = SyncState(runner.warehouse.con, name, d).remote_id()
        if remote_id is None:
            raise ConfigError(f"audiences.{name}: not synced to {d} yet; run `dealersync sync --audience {name}` first")
        made = dest.create_lookalike(RemoteAudience(remote_id, name), country=country.upper(), ratio=ratio)
    finally:
        runner.close()
    click.echo(f"created lookalike '{made.name}' ({made.id}) from {name} on {d}: {country.upper()}, ratio {ratio}")
