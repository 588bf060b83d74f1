"""``dealersync new-plugin``: start a source or destination plugin from a working example."""

from __future__ import annotations

from pathlib import Path

import click

from dealersync.scaffold import new_plugin as scaffold


def register(cli: click.Group) -> None:
    cli.add_command(new_plugin)


@click.command("new-plugin")
@click.argument("name")
@click.option("--kind", type=click.Choice(["source", "destination"]), required=True, help="What the connector is.")
@click.option(
    "--style",
    type=click.Choice(["audience", "snapshot"]),
    default="audience",
    show_default=True,
    help="Destinations: an API list synced incrementally (audience) or a whole-list file (snapshot).",
)
@click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
    show_default=True, help="Where to create dealersync-NAME/.",
)
def new_plugin(name: str, kind: str, style: str, directory: Path) -> None:
    """Create the plugin distribution dealersync-NAME: connector, conformance tests, README.

    NAME is the connector name dealers write in connectors.toml, e.g. acme-crm.
    """
    root = scaffold(name, kind, directory, style)  # type: ignore[arg-type]
    click.echo(f"created {root}")
    click.echo(f"next: cd {root} && pip install -e '.[test]' && pytest   (then see README.md)")
