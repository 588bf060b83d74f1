"""``dealersync secrets``: store credentials in the OS keyring, never in connectors.toml."""

from __future__ import annotations

import sys

import click

from dealersync import secrets as store


def register(cli: click.Group) -> None:
    cli.add_command(secrets)


@click.group()
def secrets() -> None:
    """Store or delete a secret referenced as { keyring = "NAME" } in connectors.toml."""


@secrets.command("set")
@click.argument("name")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the secret from standard input instead of a prompt.")
def set_secret(name: str, from_stdin: bool) -> None:
    """Store the secret NAME (prompted for, not echoed)."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\n")
    else:
        value = click.prompt(f"secret for {name}", hide_input=True)
    if not value:
        raise click.UsageError("the secret is empty; nothing stored")
    store.store(name, value)
    click.echo(f"stored secret '{name}' in the keyring")


@secrets.command("delete")
@click.argument("name")
def delete_secret(name: str) -> None:
    """Delete the stored secret NAME."""
    if store.delete(name):
        click.echo(f"deleted secret '{name}'")
    else:
        click.echo(f"no secret '{name}' was stored")
