"""Time the sample generator (target: 1,000,000 customers in under 120 s on 2 cores).

python bench/bench_sample.py --customers 1000000 [--dialect dealer --encoding cp1252]

The benchmark's extract (bench/run.py) is the default: the plain dialect in UTF-8.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

from dealersync.sample import generate
from dealersync.sample.dialect import DIALECTS
from dealersync.sample.generator import ENCODINGS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--dialect", choices=sorted(DIALECTS), default="plain")
    parser.add_argument("--encoding", choices=ENCODINGS, default="utf-8")
    parser.add_argument(
        "--out", type=Path, help="keep the output here (default: a temporary directory)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dealersync-bench-") as tmp:
        out = args.out or Path(tmp)
        start = time.perf_counter()
        counts = generate(
            out,
            args.customers,
            seed=args.seed,
            as_of=args.as_of,
            dialect=DIALECTS[args.dialect],
            encoding=args.encoding,
        )
        seconds = time.perf_counter() - start
        size = sum(f.stat().st_size for f in out.glob("*.csv"))

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    for name, rows in counts.items():
        print(f"{name:>14} {rows:>12,}")
    print(f"{'total rows':>14} {sum(counts.values()):>12,}")
    print(
        f"customers={args.customers:,} dialect={args.dialect} encoding={args.encoding}"
        f" seconds={seconds:.1f}"
        f" size_mib={size / 2**20:.0f} peak_rss_mib={peak_mib:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
