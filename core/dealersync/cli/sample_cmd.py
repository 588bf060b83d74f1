"""``dealersync sample``: write a generated dealership extract in the generic layout."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from dealersync.cli.options import as_of_option, config_option
from dealersync.config import load_config
from dealersync.sample.dialect import DIALECTS
from dealersync.sample.generator import ENCODINGS


def register(cli: click.Group) -> None:
    cli.add_command(sample)


@click.command()
@click.option("--customers", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("sample/dms"), show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--dialect",
    type=click.Choice(sorted(DIALECTS)),
    default="dealer",
    show_default=True,
    help="dealer: the sample dealer's own op codes and descriptions, DMS letters for line"
    " statuses and pay types, totals as $1,234.56; plain: built-in op codes, canonical values.",
)
@click.option(
    "--encoding",
    type=click.Choice(ENCODINGS),
    default="cp1252",
    show_default=True,
    help="Encoding of customers.csv; cp1252 is written with CRLF line ends, as Windows report"
    " writers do. The other files are always UTF-8.",
)
@as_of_option
@config_option
def sample(
    customers: int,
    out_dir: Path,
    seed: int,
    dialect: str,
    encoding: str,
    as_of: dt.date | None,
    config_path: Path,
) -> None:
    """Generate a sample dealership: byte-identical for the same arguments.

    Written as the fictional dealer's DMS exports it (docs/sample.md); --dialect plain
    --encoding utf-8 writes the canonical extract the benchmark uses. Dates are relative to
    --as-of, else the config's as_of (when the config file exists), else today.
    """
    from dealersync.sample import generate

    if as_of is None:
        as_of = load_config(config_path).as_of() if config_path.exists() else dt.date.today()
    started = time.monotonic()
    counts = generate(
        out_dir, customers, seed=seed, as_of=as_of, dialect=DIALECTS[dialect], encoding=encoding
    )
    total = sum(counts.values())
    click.echo(
        f"wrote {total:,} rows in {len(counts)} files to {out_dir} ({customers:,} customers,"
        f" seed {seed}, {dialect} dialect, as of {as_of}) in {time.monotonic() - started:.1f}s"
    )
