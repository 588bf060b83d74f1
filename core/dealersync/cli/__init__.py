"""The ``dealersync`` command line. Each command group lives in its own module."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence

import click

from dealersync import __version__
from dealersync.cli import audiences_cmd, check_cmd, new_plugin_cmd, opcodes_cmd, plugins_cmd, report_cmd, runs_cmd, sample_cmd, schema_cmd, secrets_cmd, segments_cmd, state_cmd, suppress_cmd, sync_cmd
from dealersync import interrupts
from dealersync.errors import DealersyncError
from dealersync.secrets import redact


class _Group(click.Group):
    """Turns dealersync errors into one line on stderr and an exit code; tracebacks only with --debug.
    Ctrl-C stops a command between steps (:mod:`dealersync.interrupts`): one line, exit 130."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            with interrupts.between_steps():
                return super().invoke(ctx)
        except DealersyncError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.secho(f"error: {redact(exc.message)}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.secho(
                "interrupted: stopped between steps; everything confirmed so far is kept, run the command again to finish",
                fg="yellow", err=True,
            )
            sys.exit(interrupts.EXIT_CODE)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="dealersync")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Dealer data to segments to ad and email audiences."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


for module in (sync_cmd, check_cmd, sample_cmd, plugins_cmd, secrets_cmd, suppress_cmd, audiences_cmd, runs_cmd, report_cmd, new_plugin_cmd, schema_cmd, segments_cmd, opcodes_cmd, state_cmd):
    module.register(cli)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="dealersync")
    finally:
        # the command is done: a Ctrl-C while the interpreter exits must not turn a finished run
        # into a death by signal (Python restores the default action as it shuts down, unless
        # the signal is ignored)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
