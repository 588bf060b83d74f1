"""Time `dealersync report` on the sample dealership and measure the file it writes.

    python bench/bench_report.py [--customers 100000] [--syncs 8] [--repeat 3] [--work DIR]

Generates the sample (`dealersync sample --customers N --out DIR/sample/dms`), syncs it with the
repository's connectors.toml (copied into the work directory, so its warehouse and output land
there) once per weekly ``--as-of`` ending 2026-11-23 (a history of ``--syncs`` runs of the six
audiences at two destinations), then builds the report ``--repeat`` times, each in a fresh
`dealersync report` process, and prints the file's size and the median build time: the
command's own figure (warehouse open to file written) and the wall time of the whole process,
and one more build in its own process split into reading the warehouse and making the page.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAST_AS_OF = dt.date(2026, 11, 23)


def dealersync(*args: str, cwd: Path) -> str:
    done = subprocess.run(["dealersync", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"dealersync {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def split_times(work: Path) -> tuple[float, float]:
    """One build in this process, timed in its two parts: reading the warehouse, and the page
    (mostly rendering charts; the chart engine is started before, so its start is not counted)."""
    from dealersync.config import load_config
    from dealersync.plugins import load_plugins
    from dealersync.report import charts
    from dealersync.report.build import gather
    from dealersync.report.sections import render_report
    from dealersync.sync import Runner

    config = load_config(work / "connectors.toml")
    charts.render({"mark": "point", "data": {"values": [{}]}})
    runner = Runner(config, load_plugins())
    try:
        t = time.perf_counter()
        data = gather(runner, since=None, audiences=(), now=dt.datetime.now())
        t1 = time.perf_counter()
        render_report(data, config)
        return t1 - t, time.perf_counter() - t1
    finally:
        runner.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--syncs", type=int, default=8, help="weekly syncs before the report")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, help="work directory (default: a temporary one, removed)")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_report_"))
    try:
        work.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "connectors.toml", work / "connectors.toml")
        t0 = time.perf_counter()
        dealersync("sample", "--customers", str(args.customers), "--out", "sample/dms", cwd=work)
        for i in reversed(range(args.syncs)):
            dealersync("sync", "--as-of", (LAST_AS_OF - dt.timedelta(weeks=i)).isoformat(), cwd=work)
        print(f"sample + {args.syncs} syncs: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        inner, wall, size, deliveries = [], [], 0, 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = dealersync("report", cwd=work)
            wall.append(time.perf_counter() - t)
            m = re.search(r"\(([\d,]+) bytes, ([\d,]+) deliveries, ([\d.]+) s\)", out)
            assert m, out
            size, deliveries = int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
            inner.append(float(m.group(3)))
        read, render = split_times(work)
        print(f"customers {args.customers:,}; deliveries in the history {deliveries:,}; report {size:,} bytes;"
              f" build {statistics.median(inner):.2f} s (median of {args.repeat}; runs {', '.join(f'{s:.2f}' for s in inner)});"
              f" whole command {statistics.median(wall):.2f} s; in one process: reading {read:.2f} s, charts and page {render:.2f} s")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
