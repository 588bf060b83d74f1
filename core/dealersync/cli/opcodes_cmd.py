"""``dealersync opcodes``: every op code in the warehouse, what it carries and how it is categorized.

Categorized with the config as it is now (edit it and run again to see the effect before a sync).
Uncategorized op codes come first, by the revenue they carry. ``--csv FILE`` writes the table as
a file the dealer edits (the ``set_category`` column) and names in ``[service_categories]
opcodes_file``: see :mod:`dealersync.service_categories.overrides`. Op codes and descriptions are
the dealer's own words; no customer is named.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from dealersync.cli.options import config_option
from dealersync.config import load_config
from dealersync.service_categories import config_rules
from dealersync.service_categories.overrides import SET_COLUMN, write_overrides_file
from dealersync.service_categories.sql import categorize_warehouse
from dealersync.service_categories.usage import OpcodeUsage, opcode_usage
from dealersync.store import Warehouse

_PAIRS = "_opcodes_report"


def register(cli: click.Group) -> None:
    cli.add_command(opcodes)


@click.command()
@config_option
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Also write the table to this CSV file; fill its {SET_COLUMN} column and name the file"
    " in [service_categories] opcodes_file to set those op codes' categories.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Print only the first N op codes (the file has all).")
def opcodes(config_path: Path, csv_path: Path | None, limit: int | None) -> None:
    """Every op code in the warehouse: lines, customers, revenue, last seen, and its categories
    with the rule that gave each. Uncategorized op codes first, by revenue."""
    cfg = load_config(config_path)
    rules = config_rules(cfg)
    wh = cfg.settings.warehouse
    with Warehouse(cfg.resolve(wh.path), memory_limit=wh.memory_limit, threads=wh.threads) as store:
        categorize_warehouse(store.con, rules, _PAIRS)
        usage = opcode_usage(store.con, _PAIRS)
    out = Console(width=None if sys.stdout.isatty() else 200)
    out.print(_table(usage[:limit] if limit else usage))
    click.echo(summary(usage))
    if csv_path is not None:
        n = write_overrides_file(csv_path, (_csv_row(u) for u in usage))
        click.echo(
            f"wrote {n:,} op codes to {csv_path}: fill {SET_COLUMN} (a category, several separated"
            f" by ';', or 'none') and set [service_categories] opcodes_file = \"{csv_path.name}\""
        )


def decided_text(u: OpcodeUsage) -> str:
    """``tires (keyword tires); alignment (dealer pattern 4TIRE*)``, the uncategorized lines."""
    parts = [f"{c or 'none'} ({rule})" for c, rule in u.decided]
    if u.uncategorized_lines:
        parts.append(f"uncategorized: {u.uncategorized_lines:,} of {_lines(u.lines)}")
    return "; ".join(parts)


def summary(usage: list[OpcodeUsage]) -> str:
    revenue = sum(u.revenue for u in usage)
    uncategorized = sum(u.uncategorized_revenue for u in usage)
    lines = sum(u.lines for u in usage)
    missing = sum(u.uncategorized_lines for u in usage)
    share = f"{uncategorized / revenue:.1%}" if revenue else "0%"
    return (
        f"{len(usage):,} op codes, {_lines(lines)}; uncategorized: {_lines(missing)} carrying"
        f" {share} of the revenue of performed lines"
    )


def _lines(n: int) -> str:
    return f"{n:,} line" + ("" if n == 1 else "s")


def _table(usage: list[OpcodeUsage]) -> Table:
    t = Table(title="Op codes", title_justify="left")
    for col in ("op code", "description", "lines", "customers", "revenue", "last seen", "categories (decided by)"):
        t.add_column(col, justify="right" if col in ("lines", "customers", "revenue") else "left")
    for u in usage:
        t.add_row(
            u.op_code or "(none)",
            _short(u.description or ""),
            f"{u.lines:,}",
            f"{u.customers:,}",
            f"{u.revenue:,.2f}",
            u.last_seen.isoformat() if u.last_seen else "",
            decided_text(u),
        )
    return t


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _csv_row(u: OpcodeUsage) -> dict[str, object]:
    return {
        "op_code": u.op_code,
        "description": u.description or "",
        "lines": u.lines,
        "customers": u.customers,
        "revenue": f"{u.revenue:.2f}",
        "uncategorized_lines": u.uncategorized_lines,
        "last_seen": u.last_seen.isoformat() if u.last_seen else "",
        "categories": "; ".join(u.categories),
        "decided_by": decided_text(u),
    }
