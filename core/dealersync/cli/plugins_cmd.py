"""``dealersync plugins``: what is installed, what each plugin provides, what is broken."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from dealersync.plugins import load_plugins


def register(cli: click.Group) -> None:
    cli.add_command(plugins)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their connectors, and any that failed to load."""
    registry = load_plugins()
    clashes = registry.clashes()
    if as_json:
        data = {
            "plugins": [p.as_dict() for p in registry.plugins],
            "clashes": {n: sorted(c.distribution for c in cs) for n, cs in clashes.items()},
        }
        click.echo(json.dumps(data, indent=2))
        return
    t = Table(title="Plugins", title_justify="left")
    for col in ("plugin", "distribution", "version", "connectors", "status"):
        t.add_column(col)
    for p in registry.plugins:
        conns = ", ".join(f"{c.name} ({c.kind})" for c in p.connectors)
        status = "ok" if p.status == "ok" else f"[red]broken: {p.error}[/red]"
        t.add_row(p.name, p.distribution, p.version, conns, status)
    console = Console()
    console.print(t)
    for name, cs in clashes.items():
        console.print(f"[red]clash:[/red] connector '{name}' is provided by {' and '.join(sorted(c.distribution for c in cs))}")
