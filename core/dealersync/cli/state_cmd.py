"""``dealersync state export|import``: the backup of what a warehouse cannot rebuild from the
extracts (suppressions, sync state, holdouts, run history; see :mod:`dealersync.state_archive`)."""

from __future__ import annotations

from pathlib import Path

import click

from dealersync.cli.options import config_option, open_warehouse
from dealersync.state_archive import ArchiveSummary, export_state, import_state


def register(cli: click.Group) -> None:
    cli.add_command(state)


@click.group()
def state() -> None:
    """Back up and restore the warehouse's state (keep the export: it is what a rebuild cannot recover)."""


@state.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@config_option
def export_cmd(file: Path, config_path: Path) -> None:
    """Write suppressions, sync state, holdouts, run history and guard baselines to FILE."""
    with open_warehouse(config_path) as wh:
        _report("exported to", export_state(wh.con, file))


@state.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@config_option
def import_cmd(file: Path, config_path: Path) -> None:
    """Restore an export into this config's warehouse (suppressions are added; the rest replaced)."""
    with open_warehouse(config_path) as wh:
        _report("imported from", import_state(wh.con, file))


def _report(verb: str, summary: ArchiveSummary) -> None:
    counts = ", ".join(f"{table} {n:,}" for table, n in summary.rows.items() if n)
    click.echo(f"state {verb} {summary.path} (bookkeeping schema {summary.schema_version}): {counts or 'no rows'}")
