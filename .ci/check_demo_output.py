"""After the demo sync: every audience has a Meta and a Google file whose rows equal its members;
the sample dealer's extract was read whole (Windows-1252 customers, $ totals, DMS letters: nothing
quarantined) and its dealer op codes were understood (the tire offer left out recent tire buyers)."""

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
quarantined = con.execute('SELECT "table", reason, count(*) FROM _quarantine GROUP BY ALL').fetchall()
print(f"quarantined: {quarantined or 'nothing'}")
if quarantined:
    problems.append("quarantine")
(excluded,) = con.execute(
    "SELECT excluded FROM _runs WHERE audience = 'tire_offer' ORDER BY started_at DESC LIMIT 1"
).fetchone()
print(f"tire_offer: {excluded} recent tire buyers left out")
if not excluded:
    problems.append("tire_offer excluded nobody")
con.close()
sys.exit(f"demo output check failed: {problems}" if problems else 0)
