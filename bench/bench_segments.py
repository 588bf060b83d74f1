"""Benchmark: build the facts for a synthetic 1M-customer dealership, then evaluate every template
of the dealer library at its default parameters, and a few hand-written segments.

    python bench/bench_segments.py [--customers 1000000] [--threads N] [--memory-limit 4GB]

The warehouse is generated in DuckDB with range-based SQL (hash-derived pseudo-random values, so
it is the same on every run): ~3 repair orders per customer with ~2 lines each, ~0.6 deals, ~1.2
vehicles, ~4 email events and ~0.5 leads per customer; addresses shared by ~2 customers each.
build_facts and the template evaluation (compile + count of members, each template on its own)
are timed separately, wall and CPU (CPU is stable when the machine is shared).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from typing import Any

import duckdb
from dealersync.facts import FactRegistry, build_facts
from dealersync.model import TABLES, create_table_sql
from dealersync.segments import SegmentDef, compile_segment, core_templates

AS_OF = dt.date(2026, 11, 23)

# h(x, k) is a deterministic pseudo-random BIGINT in [0, k).
GENERATE = """
CREATE MACRO h(x, k) AS (hash(x) % k)::BIGINT;

INSERT INTO customers (customer_id, first_name, last_name, email, address_line1, city, state,
    postal_code, country, birth_year, preferred_channel, email_opt_in, sms_opt_in, do_not_email,
    do_not_call, do_not_mail, do_not_market, created_at, _source, _source_id, _line)
SELECT 'C' || i, 'First' || h(i, 5000), 'Last' || h(i + 1, 20000), 'c' || i || '@example.com',
       (i // 2) || ' Main Street', 'City' || h(i, 300), ['TX', 'CA', 'NY', 'FL', 'OH'][1 + h(i, 5)], lpad((h(i, 99999))::VARCHAR, 5, '0'),
       'US', 1940 + h(i, 65), ['email', 'sms', 'phone', 'mail'][1 + h(i + 2, 4)],
       h(i, 10) < 7, h(i, 10) < 3, h(i, 50) = 0, h(i, 40) = 0, h(i, 60) = 0, h(i, 100) = 0,
       TIMESTAMP '2012-01-01' + to_seconds(h(i, 15 * 365 * 86400)), 'bench', 'C' || i, i + 1
FROM range({n}) t(i);

INSERT INTO repair_orders (ro_id, customer_id, vehicle_id, opened_on, closed_on, odometer,
    pay_type, total, _source, _source_id, _line)
SELECT 'R' || r, 'C' || (r // 3), 'V' || (r // 3), DATE '2026-11-23' - h(r, 4000)::INTEGER,
       DATE '2026-11-23' - h(r, 4000)::INTEGER + h(r, 3)::INTEGER, h(r, 150000),
       ['customer', 'customer', 'customer', 'warranty', 'internal'][1 + h(r + 7, 5)],
       round(h(r, 150000) / 100.0, 2), 'bench', 'R' || r, r + 1
FROM range({n} * 3) t(r)
WHERE h(r, 20) <> 0;  -- ~5% of customers' ROs missing: a few never-serviced customers

INSERT INTO ro_lines (ro_id, line_no, op_code, description, labor_amount, parts_amount, status,
    _source, _source_id, _line)
SELECT 'R' || r, k,
       ['LOF', 'TIRE4', 'BRKF', 'BATT', 'ALIGN', 'TROT', 'MPI', 'WIPER', 'CABFLT', 'XYZ'][1 + h(r * 7 + k, 10)],
       NULL, 50.0, 20.0, ['performed', 'performed', 'performed', 'declined', 'recommended'][1 + h(r * 3 + k, 5)],
       'bench', 'R' || r || '-' || k, r * 2 + k
FROM range({n} * 3) t(r), range(1, 3) s(k);

INSERT INTO deals (deal_id, customer_id, co_buyer_customer_id, vehicle_id, deal_date, new_used,
    deal_type, term_months, apr, monthly_payment, lease_maturity_date, payoff_amount, sale_price,
    _source, _source_id, _line)
SELECT 'D' || i, 'C' || h(i, {n}), CASE WHEN h(i, 10) = 0 THEN 'C' || h(i + 3, {n}) END,
       'V' || i, DATE '2026-11-23' - h(i, 3650)::INTEGER, 'new',
       ['cash', 'finance', 'lease'][1 + h(i + 5, 3)], 36 + 12 * h(i, 4), 2.9 + h(i, 8), 450.0,
       DATE '2026-11-23' - h(i, 3650)::INTEGER + 1095, 1000.0 * h(i + 9, 30), 30000.0,
       'bench', 'D' || i, i + 1
FROM range(({n} * 6) // 10) t(i);

INSERT INTO vehicles (vehicle_id, customer_id, vin, year, make, model, fuel_type, odometer,
    odometer_date, purchased_on, disposed_on, warranty_end, _source, _source_id, _line)
SELECT 'V' || i, 'C' || (i % {n}), 'VIN' || i, 2005 + h(i, 20), ['Ford', 'Toyota', 'Honda'][1 + h(i, 3)],
       'Model' || h(i, 12), ['gas', 'gas', 'hybrid', 'electric'][1 + h(i + 1, 4)], h(i, 90000),
       DATE '2026-11-23' - h(i + 2, 2000)::INTEGER, DATE '2026-11-23' - h(i, 4000)::INTEGER,
       CASE WHEN h(i, 4) = 0 THEN DATE '2026-11-23' - h(i, 300)::INTEGER END,
       DATE '2026-11-23' - 1000 + h(i + 4, 2000)::INTEGER, 'bench', 'V' || i, i + 1
FROM range(({n} * 12) // 10) t(i);

INSERT INTO leads (lead_id, customer_id, created_at, source, stage, _source, _source_id, _line)
SELECT 'L' || i, 'C' || h(i, {n}), TIMESTAMP '2026-11-23' - to_seconds(h(i, 730 * 86400)),
       ['website', 'third_party', 'walk_in', 'phone', 'chat'][1 + h(i, 5)],
       ['new', 'contacted', 'appointment', 'sold', 'lost'][1 + h(i + 1, 5)], 'bench', 'L' || i, i + 1
FROM range({n} // 2) t(i);

INSERT INTO events (event_id, customer_id, occurred_at, channel, type, campaign, _source,
    _source_id, _line)
SELECT 'E' || i, 'C' || (i // 4), TIMESTAMP '2026-11-23' - to_seconds(h(i, 365 * 86400)),
       'email', ['sent', 'sent', 'open', 'click'][1 + h(i + 11, 4)], 'camp' || h(i, 20),
       'bench', 'E' || i, i + 1
FROM range({n} * 4) t(i);
"""

SEGMENTS: dict[str, Any] = {
    "service_loyal": {"rule": {"fact": "months_since_last_service", "op": "<", "value": 12}},
    "service_at_risk": {
        "rule": {
            "all": [
                {"fact": "months_since_last_service", "op": ">=", "value": 12},
                {"fact": "months_since_last_service", "op": "<", "value": 24},
            ]
        }
    },
    "recent_tire_buyers": {"rule": {"fact": "last_tires_date", "op": "within_days", "value": 180}},
    "texas_openers": {
        "rule": {
            "all": [
                {"fact": "state", "op": "in", "value": ["TX", "OK"]},
                {"fact": "email_opens_90d", "op": ">", "value": 0},
                {"not": {"fact": "do_not_email", "op": "=", "value": True}},
            ]
        }
    },
    "winback": {"include": ["service_at_risk"], "exclude": ["recent_tire_buyers", "texas_openers"]},
}


def _cpu() -> float:
    """CPU seconds of this process (all DuckDB threads): stable when the machine is busy."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--db", default=None, help="warehouse file (default: a temporary file)")
    ap.add_argument("--repeat", type=int, default=1, help="build_facts runs (the last is kept)")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory()
    path = args.db or os.path.join(tmp.name, "bench.duckdb")
    con = duckdb.connect(path)  # a file, like the real warehouse (in-memory tables eat the limit)
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]

    for table in TABLES.values():
        con.execute(create_table_sql(table))
    t0 = time.perf_counter()
    con.execute(GENERATE.format(n=int(args.customers)))
    gen = time.perf_counter() - t0
    counts = {
        t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
        for t in ("customers", "repair_orders", "ro_lines", "deals", "vehicles", "events", "leads")
    }
    print(f"threads={threads} memory_limit={args.memory_limit}")
    print(f"generated in {gen:.2f}s: " + ", ".join(f"{t}={c:,}" for t, c in counts.items()))

    registry = FactRegistry.default()
    times = []
    for _ in range(args.repeat):
        c0, t0 = _cpu(), time.perf_counter()
        build_facts(con, registry, as_of=AS_OF)
        times.append((time.perf_counter() - t0, _cpu() - c0))
    rows = con.execute("SELECT count(*) FROM customer_facts").fetchone()[0]
    print(
        f"build_facts ({len(registry)} facts, {rows:,} rows): "
        + ", ".join(f"{w:.2f}s wall / {c:.2f}s cpu" for w, c in times)
    )

    templates = core_templates()
    defs = {t.name: SegmentDef(template=t.name) for t in templates}
    c_all, t_all = _cpu(), time.perf_counter()
    for name in defs:
        t0 = time.perf_counter()
        compiled = compile_segment(name, defs, registry, as_of=AS_OF, templates=templates)
        n = con.execute(f"SELECT count(*) FROM ({compiled.sql})", compiled.params).fetchone()[0]
        print(f"template {name:22s} {1000 * (time.perf_counter() - t0):7.1f} ms  members {n:,}")
    wall, cpu = time.perf_counter() - t_all, _cpu() - c_all
    print(f"every template ({len(defs)}) at default params: {wall:.2f}s wall / {cpu:.2f}s cpu")

    defs = {k: SegmentDef.model_validate(v) for k, v in SEGMENTS.items()}
    for name in defs:
        t0 = time.perf_counter()
        compiled = compile_segment(name, defs, registry, as_of=AS_OF)
        t1 = time.perf_counter()
        n = con.execute(f"SELECT count(*) FROM ({compiled.sql})", compiled.params).fetchone()[0]
        t2 = time.perf_counter()
        print(
            f"segment {name:20s} compile {1000 * (t1 - t0):6.1f} ms"
            f"  count {1000 * (t2 - t1):7.1f} ms  members {n:,}"
        )
    con.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
