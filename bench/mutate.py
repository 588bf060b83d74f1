"""The benchmark's 1% change: a deterministic rewrite of a sample extract, in DuckDB.

    python bench/mutate.py BASE_DIR CHANGED_DIR [--share 0.01] [--seed 11] [--as-of 2026-11-23]

Picks ``share`` of the customers by a hash of (seed, customer id) and gives each one change, by a
second hash, in four equal kinds:

* ``visit``: a new customer-pay repair order two days before as_of with a performed oil change
  (moves at-risk and lost customers to loyal: priority groups and the winback holdout shift);
* ``opt_out``: ``do_not_market`` becomes true (the customer leaves every ad audience);
* ``purchase``: a new lease deal yesterday, maturing in 120 days (lease_end, repeat_buyers,
  never_serviced change);
* ``email``: a new email address (the member's hashed identifiers change: a remove and an add).

The changed files are written through a temporary name; unchanged files are hard-linked (or
copied). Returns the chosen customer ids per kind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb

KINDS = ("visit", "opt_out", "purchase", "email")
CSV_OUT = "FORMAT CSV, HEADER, DELIMITER ','"


def _q(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


def _read(p: Path) -> str:
    # every column as text: the rewrite keeps the source's formatting of untouched values
    return f"read_csv({_q(p)}, all_varchar = true, header = true, auto_detect = true)"


def mutate(base: Path, out: Path, *, share: float = 0.01, seed: int = 11, as_of: dt.date) -> dict[str, int]:
    base, out = Path(base), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB", "preserve_insertion_order": True})
    try:
        con.execute(
            f"""CREATE TEMP TABLE _picked AS
                SELECT customer_id,
                       ['visit', 'opt_out', 'purchase', 'email'][1 + (hash(customer_id || ':kind:' || $seed) % 4)::INTEGER] AS kind
                FROM {_read(base / 'customers.csv')}
                WHERE (hash(customer_id || ':pick:' || $seed) % 1000000) < $cut""",
            {"seed": str(seed), "cut": int(share * 1_000_000)},
        )
        visit_day = (as_of - dt.timedelta(days=2)).isoformat()
        deal_day = (as_of - dt.timedelta(days=1)).isoformat()
        maturity = (as_of + dt.timedelta(days=120)).isoformat()

        def write(name: str, select: str) -> None:
            tmp, final = out / f".{name}.csv.tmp", out / f"{name}.csv"
            con.execute(f"COPY ({select}) TO {_q(tmp)} ({CSV_OUT})")
            os.replace(tmp, final)

        cust = _read(base / "customers.csv")
        write(
            "customers",
            f"""SELECT * EXCLUDE (_rn, kind) REPLACE (
                    CASE WHEN kind = 'email' THEN 'changed.' || lower(customer_id) || '@example.net'
                         ELSE email END AS email,
                    CASE WHEN kind = 'opt_out' THEN 'true' ELSE do_not_market END AS do_not_market)
                FROM (SELECT c.*, row_number() OVER () AS _rn, p.kind
                      FROM {cust} AS c LEFT JOIN _picked AS p ON p.customer_id = c.customer_id)
                ORDER BY _rn""",
        )
        ro = _read(base / "repair_orders.csv")
        write(
            "repair_orders",
            f"""SELECT * FROM {ro}
                UNION ALL
                SELECT 'RB' || customer_id, customer_id, NULL, '{visit_day}', '{visit_day}', NULL,
                       'customer', '89.95'
                FROM _picked WHERE kind = 'visit'""",
        )
        lines = _read(base / "ro_lines.csv")
        write(
            "ro_lines",
            f"""SELECT * FROM {lines}
                UNION ALL
                SELECT 'RB' || customer_id, '1', 'LOF', 'Oil and filter change', '39.95', '50.00', 'performed'
                FROM _picked WHERE kind = 'visit'""",
        )
        deals = _read(base / "deals.csv")
        write(
            "deals",
            f"""SELECT * FROM {deals}
                UNION ALL
                SELECT 'DB' || customer_id, customer_id, NULL, NULL, '{deal_day}', 'new', 'lease',
                       '36', NULL, '399.00', '{maturity}', NULL, '38500.00'
                FROM _picked WHERE kind = 'purchase'""",
        )
        for f in base.glob("*.csv"):
            target = out / f.name
            if f.stem in ("customers", "repair_orders", "ro_lines", "deals"):
                continue
            target.unlink(missing_ok=True)
            try:
                os.link(f, target)
            except OSError:
                shutil.copyfile(f, target)
        counts = dict(con.execute("SELECT kind, count(*) FROM _picked GROUP BY kind ORDER BY kind").fetchall())
        return {k: int(counts.get(k, 0)) for k in KINDS}
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", type=Path)
    ap.add_argument("changed", type=Path)
    ap.add_argument("--share", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    args = ap.parse_args()
    print(mutate(args.base, args.changed, share=args.share, seed=args.seed, as_of=args.as_of))


if __name__ == "__main__":
    main()
