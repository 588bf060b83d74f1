"""``dealersync plugins``: what is installed, what each plugin provides, what is broken."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dealersync.plugin_api import PLUGIN_API_VERSION
from dealersync.plugins import ConnectorInfo, PluginInfo, load_plugins


def register(cli: click.Group) -> None:
    cli.add_command(plugins)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List installed plugins, what each provides, their plugin API range, and any that failed to load."""
    registry = load_plugins()
    clashes = registry.clashes()
    if as_json:
        data = {
            "plugin_api": PLUGIN_API_VERSION,
            "plugins": [p.as_dict() for p in registry.plugins],
            "clashes": {n: sorted(c.distribution for c in cs) for n, cs in clashes.items()},
        }
        click.echo(json.dumps(data, indent=2))
        return
    t = Table(title=f"Plugins (this dealersync provides plugin API {PLUGIN_API_VERSION})", title_justify="left")
    for col in ("plugin", "distribution", "version", "plugin API", "provides", "status"):
        t.add_column(col)
    for p in registry.plugins:
        t.add_row(p.name, p.distribution, p.version, p.api or "-", _provides(p), _status(p))
    console = Console()
    console.print(t)
    for name, cs in clashes.items():
        console.print(f"[red]clash:[/red] connector '{name}' is provided by {' and '.join(sorted(c.distribution for c in cs))}")


def _provides(p: PluginInfo) -> str:
    """Connectors with their kind and optional capabilities, then facts and segment templates."""
    parts = [_connector(c) for c in p.connectors]
    parts += [f"fact {f.name}" for f in p.facts]
    parts += [f"template {t.name}" for t in p.segment_templates]
    return ", ".join(parts)


def _connector(c: ConnectorInfo) -> str:
    capabilities = f"; {', '.join(c.capabilities)}" if c.capabilities else ""
    return f"{c.name} ({c.kind}{capabilities})"


def _status(p: PluginInfo) -> str:
    if p.status != "ok":
        return f"[red]broken: {escape(p.error or '')}[/red]"
    return "\n".join(["ok", *(f"[yellow]warning: {escape(w)}[/yellow]" for w in p.warnings)])
