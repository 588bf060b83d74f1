"""The documented demo against local fakes (docs/sync.md, "Running the demo against the local
fakes"): ``examples/serve_fakes.py`` serves the Meta, Google and Mailchimp fakes over HTTP and a
real ``dealersync sync`` process delivers to all three through ``examples/fakes.toml``'s
destinations (ports moved so the test does not collide with a demo left running)."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dealersync.testing import write_extract
from meta_world import customers

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_demo_syncs_to_the_three_local_fakes(tmp_path: Path) -> None:
    base = random.randrange(20_000, 60_000)
    write_extract(tmp_path / "dms", {"customers": customers(150)})
    config = (ROOT / "examples" / "fakes.toml").read_text(encoding="utf-8")
    for old, new in ((8701, base), (8702, base + 1), (8703, base + 2)):
        config = config.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
    config = config.replace('"../sample/dms"', '"dms"').replace('"../.dealersync/fakes.duckdb"', '"wh.duckdb"')
    config = re.sub(r"\[sources\.store_dms\.tables\.customers\]\nencoding = \"cp1252\"\n", "", config)
    config = config.replace('template = "service_status"\nparams = { status = "at_risk" }',
                            'rule = { fact = "customer_id", op = "is_null", value = false }')
    config = config.replace('template = "service_status"\nparams = { status = "loyal" }',
                            'rule = { fact = "customer_id", op = "is_null", value = false }')
    (tmp_path / "fakes.toml").write_text(config, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "serve_fakes.py"), "--base-port", str(base), "--",
         "sh", "-c", "dealersync sync --config fakes.toml && dealersync runs --config fakes.toml --json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = done.stdout[done.stdout.index("["):] if "[" in done.stdout else ""
    for destination in ("meta", "google", "mailchimp"):
        assert f'"destination": "{destination}"' in runs, runs[:2000]
    assert runs.count('"status": "ok"') == 3, runs[:2000]
