"""``dealersync sample``: write a generated dealership extract in the generic layout."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from dealersync.cli.options import as_of_option, config_option
from dealersync.config import load_config


def register(cli: click.Group) -> None:
    cli.add_command(sample)


@click.command()
@click.option("--customers", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("sample/dms"), show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@as_of_option
@config_option
def sample(customers: int, out_dir: Path, seed: int, as_of: dt.date | None, config_path: Path) -> None:
    """Generate a sample dealership: byte-identical for the same arguments.

    Dates are relative to --as-of, else the config's as_of (when the config file exists), else today.
    """
    from dealersync.sample import generate

    if as_of is None:
        as_of = load_config(config_path).as_of() if config_path.exists() else dt.date.today()
    started = time.monotonic()
    counts = generate(out_dir, customers, seed=seed, as_of=as_of)
    total = sum(counts.values())
    click.echo(
        f"wrote {total:,} rows in {len(counts)} files to {out_dir} "
        f"({customers:,} customers, seed {seed}, as of {as_of}) in {time.monotonic() - started:.1f}s"
    )
