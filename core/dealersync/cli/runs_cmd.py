"""``dealersync runs``: what each sync did, from the run history in the warehouse."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from dealersync.cli.options import config_option
from dealersync.config import load_config
from dealersync.delivery.readback import platform_view
from dealersync.run_history import RUNS_COLUMN_NAMES, decode_json_columns
from dealersync.store import Warehouse


def register(cli: click.Group) -> None:
    cli.add_command(runs)


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many deliveries.")
@click.option("--audience", help="Only this audience.")
def runs(config_path: Path, as_json: bool, limit: int, audience: str | None) -> None:
    """Recent deliveries, newest first: counts, what the platform says it holds (size, match
    rate, status, members waiting for confirmation), platform-reported counts, status, errors."""
    cfg = load_config(config_path)
    wh = cfg.settings.warehouse
    with Warehouse(cfg.resolve(wh.path), memory_limit=wh.memory_limit, threads=wh.threads) as store:
        where = "WHERE audience = ?" if audience else ""
        rows = store.con.execute(
            f"SELECT {', '.join(RUNS_COLUMN_NAMES)} FROM _runs {where} ORDER BY started_at DESC LIMIT {limit}",
            [audience] if audience else [],
        ).fetchall()
    records = [dict(zip(RUNS_COLUMN_NAMES, r, strict=True)) for r in rows]
    for rec in records:
        rec["started_at"] = rec["started_at"].replace(tzinfo=dt.UTC).isoformat(timespec="seconds")  # stored in UTC
        rec["as_of"] = rec["as_of"].isoformat()
        decode_json_columns(rec)
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    t = Table(title="Runs", title_justify="left")
    for col in ("started", "audience", "destination", "mode", "members", "sent", "platform says", "platform", "status"):
        t.add_column(col)
    for r in records:
        sent = f"{r['written']:,} rows" if r["written"] else f"+{r['added']:,} -{r['removed']:,} ({r['rejected']:,} rejected)"
        platform = ", ".join(f"{k} {v:,}" for k, v in r["platform_counts"].items())
        status = r["status"] + (f": {r['error']}" if r["error"] else "")
        t.add_row(r["started_at"], r["audience"], r["destination"], r["mode"], f"{r['members']:,}", sent,
                  platform_view(r), platform, status)
    Console(width=None if sys.stdout.isatty() else 160).print(t)
