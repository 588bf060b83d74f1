"""The floor: the least any tool must do with the extract. DuckDB alone reads every CSV of it into
a table and SHA-256-hashes each email and phone once (trimmed, lower case; phone digits only).
No checks, no quarantine, no facts, no policy, no files. Run in its own process by bench/run.py.

    python bench/floor.py EXTRACT_DIR JSON_OUT [--threads 2] [--memory-limit 2GB]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import duckdb
from dealersync.timing import peak_rss_bytes



def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("extract", type=Path)
    ap.add_argument("json_out", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="2GB")
    args = ap.parse_args()

    con = duckdb.connect(config={"threads": args.threads, "memory_limit": args.memory_limit})
    steps: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    rows = 0
    for f in sorted(args.extract.glob("*.csv")):
        path = str(f).replace("'", "''")
        con.execute(f"CREATE TABLE \"{f.stem}\" AS SELECT * FROM read_csv('{path}', header = true)")
        rows += con.execute(f'SELECT count(*) FROM "{f.stem}"').fetchone()[0]  # type: ignore[index]
    t_read = time.perf_counter()
    hashed = con.execute(
        """SELECT count(e), count(m), count(h), max(e), max(m), max(h) FROM (
               SELECT sha256(nullif(lower(trim(email)), '')) AS e,
                      sha256(nullif(regexp_replace(phone_mobile, '[^0-9]', '', 'g'), '')) AS m,
                      sha256(nullif(regexp_replace(phone_home, '[^0-9]', '', 'g'), '')) AS h
               FROM customers)"""
    ).fetchone()
    t_end = time.perf_counter()
    steps["read"] = {"seconds": t_read - t0, "rows": rows}
    steps["hash"] = {"seconds": t_end - t_read, "rows": int(hashed[0] + hashed[1] + hashed[2])}  # type: ignore[index]
    peak = peak_rss_bytes()
    args.json_out.write_text(
        json.dumps({"total_seconds": t_end - t0, "steps": steps, "peak_rss": peak, "rows_read": rows,
                    "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2])}),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
