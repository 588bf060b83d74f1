"""One dealersync sync in its own process (so peak RSS is this run's): load, then sync every
audience; print the step timings and the delivery results as JSON. Used by bench/run.py.

    python bench/sync_child.py CONFIG JSON_OUT [--export DIR]

``--export DIR`` (after the timed part) writes, per audience and destination, the members
(member_key, customer ids, hashed identifiers; read from the members the warehouse keeps per
pair, :mod:`dealersync.identity.kept`) and the audience's customers after policy and consent, as
Parquet: what run.py compares with the pandas pipeline and the Meta fake.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("config", type=Path)
    ap.add_argument("json_out", type=Path)
    ap.add_argument("--export", type=Path)
    ap.add_argument("--full-resync", action="store_true")
    ap.add_argument("--audience", action="append", help="sync only these audiences (default: all)")
    args = ap.parse_args()

    t_import = time.perf_counter()
    from dealersync.config import load_config
    from dealersync.consent import ChannelConsent
    from dealersync.identity.kept import kept_tables
    from dealersync.plugins import load_plugins
    from dealersync.sync import Runner

    from dealersync.timing import peak_rss_bytes

    config = load_config(args.config)
    runner = Runner(config, load_plugins())
    setup = time.perf_counter() - t_import
    rss_before = peak_rss_bytes()

    t0 = time.perf_counter()
    runner.load()
    t_loaded = time.perf_counter()
    results = runner.sync(args.audience, full_resync=args.full_resync)
    t_end = time.perf_counter()

    out = {
        "setup_seconds": setup,
        "total_seconds": t_end - t0,
        "load_seconds": t_loaded - t0,
        "after_load_seconds": t_end - t_loaded,
        "peak_rss": peak_rss_bytes(),
        "rss_before_run": rss_before,
        "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        "steps": {
            name: {"seconds": s.seconds, "rows": s.rows, "calls": s.calls, "peak_rss": s.peak_rss}
            for name, s in runner.timings.ordered()
        },
        "results": [
            {k: v for k, v in r.as_dict().items() if k not in ("samples",)} for r in results
        ],
    }
    failed = [r for r in results if r.status != "ok"]
    if args.export:
        args.export.mkdir(parents=True, exist_ok=True)
        con = runner.warehouse.con
        dests = {r.destination for r in results}
        # consent per person, as the run applied it (opt-outs and channel-scoped suppressions)
        consent = ChannelConsent(con, runner.rooftops.rooftop_only_opt_out_sources)
        for dest_name in sorted(dests):
            dest = runner.destination(dest_name)
            cols = ", ".join(f'"{f}"' for f in dest.identifiers)
            audiences = [r.audience for r in results if r.destination == dest_name]
            members = " UNION ALL ".join(
                f"SELECT '{a}' AS audience, member_key, customer_ids, {cols} FROM \"{kept_tables(a, dest_name)[0]}\""
                for a in audiences
            )
            path = str(args.export / f"members_{dest_name}.parquet").replace("'", "''")
            con.execute(f"COPY ({members}) TO '{path}' (FORMAT PARQUET)")
            policy = " UNION ALL ".join(
                f"SELECT '{a}' AS audience, customer_id FROM {consent.of(f'_audience_{a}', dest.channel).table}"
                for a in audiences
            )
            path = str(args.export / f"policy_{dest_name}.parquet").replace("'", "''")
            con.execute(f"COPY ({policy}) TO '{path}' (FORMAT PARQUET)")
    runner.close()
    args.json_out.write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    if failed:
        print(f"{len(failed)} deliveries failed: {[(r.audience, r.destination, r.error) for r in failed]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("DEALERSYNC_BENCH", "1")
    main()
