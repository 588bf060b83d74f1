"""Benchmark: build_members over 1M customers with Meta's field set.

    python bench/bench_identity.py [--customers 1000000] [--threads 2] [--memory 2GB]

Builds a synthetic ``customers`` table in an in-memory DuckDB (emails in mixed case with
padding, ~3% of customers sharing an email with another, ~2% sharing a phone, 1% foreign numbers
that take the Python path, some junk), then times ``build_members`` for
``email, phone, fn, ln, ct, st, zip, country, doby``.
"""

from __future__ import annotations

import argparse
import os
import time

import duckdb
from dealersync.identity import build_members
from dealersync.model import TABLES, create_table_sql

META = {
    "email": "meta.email",
    "phone": "meta.phone",
    "fn": "meta.fn",
    "ln": "meta.ln",
    "ct": "meta.ct",
    "st": "meta.st",
    "zip": "meta.zip",
    "country": "meta.country",
    "doby": "meta.doby",
}

POPULATE = """
INSERT INTO customers (customer_id, first_name, last_name, email, phone_mobile, phone_home,
                       city, state, postal_code, country, birth_year)
SELECT
    'C' || lpad(i::VARCHAR, 8, '0'),
    (['José', 'Mary-Ann', 'JOHN', ' Li ', 'Zoë', 'Robert'])[1 + i % 6],
    (['O''Neil', 'Smith', 'García', 'Nguyen', 'van der Berg'])[1 + (i // 7) % 5],
    CASE WHEN i % 50 = 0 THEN NULL
         WHEN i % 97 = 0 THEN 'not an email'
         -- ~3% of customers share an email with the previous customer id
         WHEN i % 33 = 1 THEN '  User.' || (i - 1)::VARCHAR || '@Example.COM '
         ELSE '  User.' || i::VARCHAR || '@Example.COM ' END,
    CASE WHEN i % 100 = 3 THEN '+44 20 7946 ' || lpad((i % 10000)::VARCHAR, 4, '0')
         WHEN i % 40 = 5 THEN NULL
         WHEN i % 301 = 0 THEN 'call me'
         -- ~2% share a phone with a customer 1000 ids away
         WHEN i % 50 = 7 THEN '(214) 5' || lpad(((i - 1000) % 1000000)::VARCHAR, 6, '0')
         ELSE '(214) 5' || lpad((i % 1000000)::VARCHAR, 6, '0') || CASE WHEN i % 9 = 0 THEN ' x12' ELSE '' END END,
    CASE WHEN i % 3 = 0 THEN '+1 972 555 ' || lpad((i % 10000)::VARCHAR, 4, '0') END,
    (['Dallas', 'Fort Worth', 'San José', 'Plano'])[1 + i % 4],
    (['TX', 'Texas', 'tx', 'California', 'NY'])[1 + i % 5],
    CASE WHEN i % 4 = 0 THEN '75001-1234' ELSE lpad((10000 + i % 89999)::VARCHAR, 5, '0') END,
    (['', 'US', 'USA', 'us'])[1 + i % 4],
    1940 + i % 60
FROM range(1, ? + 1) AS t(i)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory", default="2GB")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute(f"SET memory_limit = '{args.memory}'")
    con.execute(create_table_sql(TABLES["customers"]))
    t0 = time.perf_counter()
    con.execute(POPULATE, [args.customers])
    print(f"populate {args.customers:,} customers: {time.perf_counter() - t0:.2f}s")
    print(f"load average before: {os.getloadavg()[0]:.2f} (wall times grow with other load)")

    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        stats = build_members(con, "SELECT customer_id FROM customers", META, target="members_meta")
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"build_members (meta, {len(META)} fields, threads={args.threads}): {dt:.2f}s wall,"
            f" {cpu:.2f}s CPU  "
            f"customers={stats.customers:,} members={stats.members:,} "
            f"unmatchable={stats.unmatchable:,} invalid={stats.invalid}"
        )


if __name__ == "__main__":
    main()
