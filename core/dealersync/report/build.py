"""``build_report``: read the warehouse of a configuration and write the report file."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dealersync.config import Config
from dealersync.errors import ConfigError, DealersyncError
from dealersync.plugins import PluginRegistry
from dealersync.report.data import (
    Coverage,
    ReportData,
    read_coverage,
    read_loads,
    read_overlaps,
    read_quarantine,
    read_runs,
    read_service_revenue,
)
from dealersync.report.scrub import Scrubber
from dealersync.report.sections import render_report
from dealersync.run_history import utc_now
from dealersync.service_categories.usage import uncategorized_warning
from dealersync.store import persisted_tables, scalar_int
from dealersync.sync import Runner

#: The file name of the report in the output directory when ``--out`` is not given.
DEFAULT_NAME = "report.html"


@dataclass
class BuiltReport:
    path: Path
    size: int  # bytes
    seconds: float
    deliveries: int


def default_path(config: Config) -> Path:
    return config.resolve(config.settings.output.dir) / DEFAULT_NAME


def build_report(
    config: Config,
    registry: PluginRegistry,
    *,
    since: dt.date | None = None,
    audiences: Sequence[str] = (),
    out: Path | None = None,
    now: dt.datetime | None = None,
) -> BuiltReport:
    """Write the report of ``config``'s warehouse to ``out`` (default: ``report.html`` in the
    output directory), atomically; ``audiences`` limits it to those (all by default) and
    ``since`` the history to runs started on or after that day."""
    started = time.perf_counter()
    runner = Runner(config, registry)
    try:
        data = gather(runner, since=since, audiences=audiences, now=now or utc_now())
        page = render_report(data, config)
    finally:
        runner.close()
    path = out or default_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return BuiltReport(path, path.stat().st_size, time.perf_counter() - started, len(data.runs))


def gather(runner: Runner, *, since: dt.date | None, audiences: Sequence[str], now: dt.datetime) -> ReportData:
    """Everything the page shows, read from the runner's warehouse."""
    settings = runner.config.settings
    con = runner.warehouse.con
    scrubber = Scrubber(con)
    known = list(settings.audiences)
    runs, extra_runs = read_runs(con, scrubber, since, audiences or None)
    if audiences:
        in_history = {r["audience"] for r in runs}
        unknown = [a for a in audiences if a not in settings.audiences and a not in in_history]
        if unknown:
            raise ConfigError(
                f"--audience: unknown audience '{unknown[0]}' (defined: {', '.join(known) or 'none'})"
            )
        names = list(dict.fromkeys(audiences))
    else:
        names = known + sorted({r["audience"] for r in runs} - set(known))
    loads, extra_loads = read_loads(con, scrubber)
    destinations = list(dict.fromkeys(d for a in names if a in settings.audiences for d in settings.audiences[a].destinations))
    customers = scalar_int(con, "SELECT count(DISTINCT customer_id) FROM customers") if "customers" in persisted_tables(con) else 0
    service = read_service_revenue(con, scrubber)
    warning = uncategorized_warning(con, runner.category_rules.uncategorized_warning) if service else None
    return ReportData(
        generated_at=now, since=since, audiences=names, runs=runs, extra_run_columns=extra_runs,
        loads=loads, extra_load_columns=extra_loads, quarantine=read_quarantine(con),
        coverage=[coverage(runner, d) for d in destinations], overlaps=read_overlaps(con, names),
        customers=customers, service=service, notes=[warning] if warning else [],
    )


def coverage(runner: Runner, destination: str) -> Coverage:
    """The identifier coverage of one destination (its identifiers come from its connector)."""
    entry = runner.config.settings.destinations[destination]
    try:
        dest = runner.destination(destination)
    except DealersyncError as exc:
        return Coverage(destination, entry.connector, 0, {}, note=f"unknown: {exc.message}")
    return read_coverage(
        runner.warehouse.con, destination, entry.connector, dest.identifiers,
        default_country=runner.config.settings.identity.default_country,
    )
