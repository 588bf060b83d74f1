"""``dealersync sync``: load the sources, select the audiences, deliver them."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dealersync.cli.options import as_of_option, config_option
from dealersync.config import load_config
from dealersync.delivery.guards import HELD_EXIT_CODE
from dealersync.delivery.readback import platform_view
from dealersync.loading import LoadReport
from dealersync.plugins import load_plugins
from dealersync.preflight import preflight
from dealersync.sync import DeliveryResult, Runner
from dealersync.timing import Timings


def register(cli: click.Group) -> None:
    cli.add_command(sync)


@click.command()
@config_option
@click.option("--audience", "audiences", multiple=True, metavar="NAME", help="Sync only this audience (repeatable).")
@as_of_option
@click.option("--dry-run", is_flag=True, help="Compute the plan; write no output file, no state, no destination.")
@click.option(
    "--full-resync",
    is_flag=True,
    help="Send every current member to API destinations again, whatever the sync state says "
    "(removals are planned as usual: members this tool added that left the audience).",
)
@click.option(
    "--accept-changes",
    "accept_changes",
    multiple=True,
    metavar="AUDIENCE",
    help="Release the change guards of this audience for this run: its removals and file replacement "
    "go ahead, and the new counts become its baseline (repeatable).",
)
@click.option("--reload", is_flag=True, help="Load every source file, even those identical to the last load.")
@click.option("--timings", "show_timings", is_flag=True, help="Print wall time, rows and peak memory per step.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Output directory for file destinations.")
def sync(
    config_path: Path,
    audiences: tuple[str, ...],
    as_of: dt.date | None,
    dry_run: bool,
    full_resync: bool,
    accept_changes: tuple[str, ...],
    reload: bool,
    show_timings: bool,
    out_dir: Path | None,
) -> None:
    """Load every source, then deliver each audience to its destinations.

    Exit status: 0 all delivered, 1 a delivery failed or a source file could not be loaded (its
    table kept its previous rows; the other files loaded), 2 a configuration error, 3 a change guard
    held a delivery (release it with --accept-changes AUDIENCE), 130 interrupted.
    """
    err = Console(stderr=True)
    out = Console(width=None if sys.stdout.isatty() else 160)  # logs and CI: do not squeeze the table
    config = load_config(config_path)
    runner = Runner(config, load_plugins(), as_of=as_of, out_dir=out_dir)
    try:
        names = runner.selected(audiences)
        if accept_changes:
            runner.selected(accept_changes, option="--accept-changes")
        preflight(runner, names)  # every configuration error, before any data moves
        with err.status("starting") as status:
            runner.progress = lambda msg: status.update(msg)
            reports = runner.load(reload=reload)
            results = runner.sync(names, dry_run=dry_run, full_resync=full_resync, accept_changes=accept_changes)
    finally:
        runner.close()
    out.print(_load_table(reports))
    for warning in runner.warnings:  # plain lines, never wrapped
        click.echo(f"warning: {warning}", err=True)
    title = f"Audiences as of {runner.as_of}" + (" (dry run: nothing written)" if dry_run else "")
    out.print(result_table(results, title))
    print_file_outcomes(err, reports)
    print_warnings(err, results)
    print_held(results)
    if show_timings:
        out.print(_timings_table(runner.timings))
    if dry_run:
        print_samples(out, results)
    if any(r.status == "failed" for r in results) or any(rep.failed for rep in reports):
        sys.exit(1)
    if any(r.status == "held" for r in results):
        sys.exit(HELD_EXIT_CODE)


def _load_table(reports: list[LoadReport]) -> Table:
    t = Table(title="Loaded", title_justify="left")
    for col in ("source", "table", "file", "loaded", "quarantined"):
        t.add_column(col, justify="right" if col in ("loaded", "quarantined") else "left")
    for rep in reports:
        for f in rep.files:
            q = ", ".join(f"{n} {reason}" for reason, n in sorted(f.quarantined.items())) or "0"
            q += "".join(f"; {n} {label} (loaded)" for label, n in f.fallbacks.items())
            name = Path(f.file).name + (" (unchanged, skipped)" if f.unchanged else "")
            if f.error:
                name, q = f"{Path(f.file).name} (NOT LOADED)", "-"
            t.add_row(f.source, f.table, name, "-" if f.error else f"{f.loaded:,}", q)
    return t


def print_file_outcomes(console: Console, reports: list[LoadReport]) -> None:
    """Files that could not be loaded, warnings (an encoding guessed), rows skipped."""
    for rep in reports:
        for f in rep.files:
            where = escape(f"{f.source}: {f.file}")
            if f.error:
                console.print(f"[red]not loaded:[/red] {where}: {escape(f.error)}")
            for w in f.warnings:
                console.print(f"[yellow]warning:[/yellow] {where}: {escape(w)}")
            skipped = [f"{n:,} {what}" for n, what in ((f.title_rows, "title lines"),
                                                       (f.total_rows, "total rows")) if n]
            if skipped and not f.unchanged:
                console.print(f"{where}: skipped {' and '.join(skipped)}")


def result_table(results: list[DeliveryResult], title: str) -> Table:
    """Per audience and destination: the segment, who each policy step dropped, and what was written."""
    t = Table(title=title, title_justify="left")
    cols = ("audience", "destination", "segment", "excluded", "suppressed", "outranked", "held out",
            "no consent", "unmatchable", "members", "sent", "status")
    for col in cols:
        t.add_column(col, justify="left" if col in ("audience", "destination", "status") else "right")
    for r in results:
        status = r.status if not r.error or r.status == "held" else f"{r.status}: {r.error}"  # held: below
        counts = (r.segment_size, r.excluded, r.suppressed, r.outranked, r.held_out, r.no_consent,
                  r.unmatchable, r.members)
        t.add_row(r.audience, r.destination, *(f"{n:,}" for n in counts), _sent(r), status)
    return t


def _sent(r: DeliveryResult) -> str:
    """File destinations: rows written (and change files). API destinations: the difference sent (or planned)."""
    if r.location and not (r.planned or r.unchanged or r.rejected):
        changes = f"+{r.added:,} -{r.removed:,}" if r.added or r.removed else ""
        return " ".join(x for x in (f"{r.written:,} rows" if r.written or not changes else "", changes) if x)
    if r.status == "planned" and (r.planned or r.unchanged):
        return f"plan {r.planned:,} ({r.unchanged:,} unchanged)"
    if r.status == "planned":
        return "-"
    text = f"+{r.added:,} -{r.removed:,} ={r.unchanged:,}" + (f" ({r.rejected:,} rejected)" if r.rejected else "")
    view = platform_view(r.as_dict())
    return text + (f"; platform: {view}" if view else "")


def print_samples(console: Console, results: list[DeliveryResult]) -> None:
    """A few planned payloads per API destination (hashed fields only; plain ones hidden)."""
    for r in results:
        for sample in r.samples:
            console.print(f"sample {r.audience} -> {r.destination}: {sample}")


def print_warnings(console: Console, results: list[DeliveryResult]) -> None:
    for r in results:
        for w in r.warnings:
            console.print(f"[yellow]warning:[/yellow] {r.audience} -> {r.destination}: {w}")


def print_held(results: list[DeliveryResult]) -> None:
    """Each held delivery with its reasons, and the command that releases it."""
    held = [r for r in results if r.status == "held"]
    for r in held:  # plain lines, never wrapped: people grep them and scripts parse them
        click.echo(f"held: {r.audience} -> {r.destination}: removals and file replacement wait: {r.error}", err=True)
    for audience in dict.fromkeys(r.audience for r in held):
        click.echo(f"  if the change is real: dealersync sync --accept-changes {audience}", err=True)


def _timings_table(timings: Timings) -> Table:
    t = Table(title="Timings", title_justify="left")
    for col in ("step", "seconds", "rows", "rows/s", "peak RSS MiB"):
        t.add_column(col, justify="left" if col == "step" else "right")
    for name, s in timings.ordered():
        rate = f"{s.rows / s.seconds:,.0f}" if s.seconds and s.rows else ""
        t.add_row(name, f"{s.seconds:.2f}", f"{s.rows:,}", rate, f"{s.peak_rss / 2**20:,.0f}")
    return t
