"""Where inside a step the time goes: every SQL statement of build_facts and build_members, timed.

    python bench/profile_steps.py WAREHOUSE.duckdb [--top 8]
    python bench/profile_steps.py --load EXTRACT_DIR          # load_source, statement by statement

Opens a copy of a warehouse a benchmark sync left behind (``bench/run.py --keep``), then runs
``build_facts`` and ``build_members`` (Meta's and Google's identifiers, for a fixed 30% slice of the
customers) through a connection proxy that times each statement. Prints the
slowest statements with their first characters. Measures the core; changes nothing in it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
from dealersync.facts import FactRegistry, build_facts, default_facts
from dealersync.identity import build_members

AS_OF = dt.date(2026, 11, 23)


class TimedConnection:
    """Forwards to a DuckDB connection, recording (seconds, SQL) per execute()."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.log: list[tuple[float, str]] = []

    def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        result = self._con.execute(sql, *args, **kw)
        self.log.append((time.perf_counter() - t0, sql))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def report(title: str, log: list[tuple[float, str]], top: int) -> None:
    total = sum(t for t, _ in log)
    print(f"\n{title}: {total:.2f} s in {len(log)} statements; slowest:")
    for t, sql in sorted(log, key=lambda x: -x[0])[:top]:
        text = re.sub(r"\s+", " ", sql).strip()
        print(f"  {t:7.2f} s  {100 * t / total:4.0f}%  {text[:150]}")


def profile_load(extract: Path, threads: int, top: int) -> None:
    from dealersync import ExtractFile
    from dealersync.loading import load_source
    from dealersync.model import TABLES
    from dealersync.store import Warehouse

    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(Path(tmp) / "wh.duckdb", memory_limit="2GB", threads=threads)
        timed = TimedConnection(wh.con)
        wh.con = timed  # type: ignore[assignment]
        files = [ExtractFile(path=extract / f"{t}.csv", table=t) for t in TABLES if (extract / f"{t}.csv").exists()]
        t0 = time.perf_counter()
        load_source(wh, "dms", files)
        print(f"load_source {extract}: {time.perf_counter() - t0:.2f} s")
        report("load (load_source)", timed.log, top)
        wh.con = timed._con  # type: ignore[assignment]
        wh.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("warehouse", type=Path, nargs="?")
    ap.add_argument("--load", type=Path, help="profile load_source of this extract into a fresh warehouse instead")
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.load:
        profile_load(args.load, args.threads, args.top)
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "wh.duckdb"
        shutil.copyfile(args.warehouse, copy)
        con = duckdb.connect(str(copy), config={"threads": args.threads, "memory_limit": "2GB"})
        # a warehouse from an older core may hold a relation as a table where the core now makes a view
        for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'rel\\_%' ESCAPE '\\'").fetchall():
            con.execute(f'DROP TABLE "{name}"')
        for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE view_name LIKE 'rel\\_%' ESCAPE '\\'").fetchall():
            con.execute(f'DROP VIEW "{name}"')
        timed = TimedConnection(con)
        reg = FactRegistry()
        for f in default_facts():
            reg.register(f)
        build_facts(timed, reg, as_of=AS_OF)  # type: ignore[arg-type]
        report("facts (build_facts)", timed.log, args.top)

        from dealersync_files.destinations import GoogleFile, MetaFile

        # member tables are temporary now: a fixed 30% slice of the customers stands in for an audience
        con.execute(
            "CREATE TEMP TABLE _bench_aud AS SELECT DISTINCT customer_id FROM customers"
            " WHERE hash(customer_id) % 100 < 30"
        )
        n = con.execute("SELECT count(*) FROM _bench_aud").fetchone()[0]  # type: ignore[index]
        for dest in (MetaFile, GoogleFile):
            timed.log.clear()
            t0 = time.perf_counter()
            build_members(timed, "SELECT customer_id FROM _bench_aud", dest.identifiers,  # type: ignore[arg-type]
                          target=f"_bench_members_{dest.name.replace('-', '_')}", as_of=AS_OF)
            print(f"\nbuild_members {dest.name}, {n:,} customers: {time.perf_counter() - t0:.2f} s")
            report(f"identity ({dest.name})", timed.log, args.top)
        con.close()


if __name__ == "__main__":
    main()
