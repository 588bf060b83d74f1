"""``dealersync suppress``: keep people out of every audience, on every channel."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from dealersync.cli.options import config_option, open_warehouse
from dealersync.config import load_config
from dealersync.rooftops import Rooftops
from dealersync.store import Warehouse
from dealersync.suppressions import SCOPES, Scope, SuppressionList


def register(cli: click.Group) -> None:
    cli.add_command(suppress)


def _identifiers(f):  # type: ignore[no-untyped-def]
    f = click.option(
        "--rooftop", help="The store whose DMS the customer id is from (required when there are several)."
    )(f)
    f = click.option("--customer-id", help="A DMS customer id.")(f)
    f = click.option("--phone", help="A phone number, in any format.")(f)
    f = click.option("--email", help="An email address.")(f)
    return config_option(f)


def _open(config_path: Path) -> Warehouse:
    return open_warehouse(config_path)


def _warehouse_id(config_path: Path, customer_id: str | None, rooftop: str | None) -> str | None:
    """The customer id as the warehouse holds it: qualified by its rooftop (:mod:`dealersync.rooftops`)."""
    if customer_id is None:
        return None
    return Rooftops.of(load_config(config_path).settings).qualify(customer_id, rooftop)


@click.group()
def suppress() -> None:
    """Add, remove or count suppressions. Values are stored hashed, never printed."""


@suppress.command()
@_identifiers
@click.option("--reason", required=True, help="Why: complaint, legal, unsubscribe, ...")
@click.option(
    "--scope", type=click.Choice(SCOPES), default="all", show_default=True,
    help="The channels: every one (all), or only ads, email or sms.",
)
def add(
    config_path: Path, email: str | None, phone: str | None, customer_id: str | None, rooftop: str | None,
    reason: str, scope: Scope,
) -> None:
    """Suppress a person by email, phone and/or customer id, on every channel or one."""
    customer_id = _warehouse_id(config_path, customer_id, rooftop)
    with _open(config_path) as wh:
        n = SuppressionList(wh.con).add(
            email=email, phone=phone, customer_id=customer_id, reason=reason, source="cli", scope=scope
        )
    click.echo(f"added {n} suppression entr{'y' if n == 1 else 'ies'}")


@suppress.command()
@_identifiers
@click.option("--scope", type=click.Choice(SCOPES), help="Lift only the entries of this scope (default: every scope).")
def remove(
    config_path: Path, email: str | None, phone: str | None, customer_id: str | None, rooftop: str | None,
    scope: Scope | None,
) -> None:
    """Lift suppressions added with `suppress add` or by a destination."""
    customer_id = _warehouse_id(config_path, customer_id, rooftop)
    with _open(config_path) as wh:
        n = SuppressionList(wh.con).remove(email=email, phone=phone, customer_id=customer_id, scope=scope)
    click.echo(f"removed {n} suppression entr{'y' if n == 1 else 'ies'}")


@suppress.command("list")
@config_option
def list_(config_path: Path) -> None:
    """Count suppression entries by source, reason and kind."""
    with _open(config_path) as wh:
        counts = SuppressionList(wh.con).counts()
    t = Table(title="Suppressions", title_justify="left")
    for col in ("source", "reason", "kind", "scope", "entries"):
        t.add_column(col, justify="right" if col == "entries" else "left")
    for c in counts:
        t.add_row(c.source, c.reason, c.kind, c.scope, f"{c.entries:,}")
    Console().print(t)
