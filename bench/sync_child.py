"""One dealersync sync in its own process (so peak RSS is this run's): load, then sync every
audience; print the step timings and the delivery results as JSON. Used by bench/run.py.

    python bench/sync_child.py CONFIG JSON_OUT [--export DIR]

``--export DIR`` (after the timed part) writes, per audience and destination, the members
(member_key, customer ids, hashed identifiers) and the audience's customers after policy and
consent, as Parquet: what run.py compares with the pandas pipeline and the Meta fake.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any



def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("config", type=Path)
    ap.add_argument("json_out", type=Path)
    ap.add_argument("--export", type=Path)
    ap.add_argument("--full-resync", action="store_true")
    ap.add_argument("--audience", action="append", help="sync only these audiences (default: all)")
    args = ap.parse_args()

    t_import = time.perf_counter()
    from dealersync.audiences import consent_filter_sql
    from dealersync.config import load_config
    from dealersync.plugins import load_plugins
    from dealersync.sync import Runner

    from dealersync.timing import peak_rss_bytes

    config = load_config(args.config)
    runner = Runner(config, load_plugins())
    setup = time.perf_counter() - t_import
    rss_before = peak_rss_bytes()

    # Member tables live for one delivery: the export copies each as it is delivered, and its
    # time is taken out of the sync's (it is not part of the job).
    sink_time = {"wall": 0.0, "cpu": 0.0}
    if args.export:
        parts = args.export / "parts"

        def sink(res: Any, table: str) -> None:
            w, c = time.perf_counter(), time.process_time()
            fields = ", ".join(f'"{f}"' for f in runner.destination(res.destination).identifiers)
            (parts / res.destination).mkdir(parents=True, exist_ok=True)
            path = str(parts / res.destination / f"{res.audience}.parquet").replace("'", "''")
            runner.warehouse.con.execute(
                f"COPY (SELECT '{res.audience}' AS audience, member_key, customer_ids, {fields}"
                f' FROM "{table}") TO \'{path}\' (FORMAT PARQUET)'
            )
            sink_time["wall"] += time.perf_counter() - w
            sink_time["cpu"] += time.process_time() - c

        runner.members_sink = sink

    t0 = time.perf_counter()
    runner.load()
    t_loaded = time.perf_counter()
    results = runner.sync(args.audience, full_resync=args.full_resync)
    t_end = time.perf_counter() - sink_time["wall"]

    out = {
        "setup_seconds": setup,
        "total_seconds": t_end - t0,
        "load_seconds": t_loaded - t0,
        "after_load_seconds": t_end - t_loaded,
        "peak_rss": peak_rss_bytes(),
        "rss_before_run": rss_before,
        "export_seconds": sink_time["wall"],
        "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - sink_time["cpu"],
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
        for dest_name in sorted(dests):
            dest = runner.destination(dest_name)
            fields = list(dest.identifiers)
            cols = ", ".join(f'"{f}"' for f in fields)
            part_glob = str(args.export / "parts" / dest_name / "*.parquet").replace("'", "''")
            path = str(args.export / f"members_{dest_name}.parquet").replace("'", "''")
            con.execute(
                f"COPY (SELECT audience, member_key, customer_ids, {cols} FROM read_parquet('{part_glob}'))"
                f" TO '{path}' (FORMAT PARQUET)"
            )
            policy = " UNION ALL ".join(
                f"SELECT '{r.audience}' AS audience, customer_id FROM"
                f' (SELECT customer_id FROM "_audience_{r.audience}" INTERSECT {consent_filter_sql(dest.channel)})'
                for r in results
                if r.destination == dest_name
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
