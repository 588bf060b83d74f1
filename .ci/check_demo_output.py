"""After the demo sync: every audience has a Meta and a Google file whose rows equal its members."""

import csv
import re
import sys
import tomllib
from pathlib import Path

import duckdb

HEX = re.compile(r"^[0-9a-f]{64}$")
cfg = tomllib.loads(Path("connectors.toml").read_text())
con = duckdb.connect(cfg["warehouse"]["path"], read_only=True)
problems = []
for audience, spec in cfg["audiences"].items():
    for dest in spec["destinations"]:
        row = con.execute(
            "SELECT members, written FROM _runs WHERE audience=? AND destination=? ORDER BY started_at DESC LIMIT 1",
            [audience, dest],
        ).fetchone()
        path = Path("out") / f"{audience}.{dest}.csv"
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        hashed = [k for k in rows[0] if k not in ("Country", "Zip")] if rows else []
        bad = sum(1 for r in rows for k in hashed if r[k] and not HEX.match(r[k]))
        print(f"{path}: {len(rows)} rows, members {row[0]}, non-hex cells {bad}")
        if row is None or len(rows) != row[0] or row[1] != row[0] or bad or not rows:
            problems.append(str(path))
con.close()
sys.exit(f"demo output check failed: {problems}" if problems else 0)
