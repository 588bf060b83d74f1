"""Smoke test of the benchmark harness (bench/run.py) at a tiny size: it runs end to end, its JSON
has every step, and dealersync and the pandas + SDK pipeline produce the same audiences.

Not a timed test: the speed and memory targets live in bench/ (bench/README.md).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("load", "facts", "segments", "policy", "identity", "diff", "deliver")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="bench-only dependency: pip install -r bench/requirements.txt")
def test_bench_harness_runs_and_pipelines_agree(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    # three audiences cover exclude, holdout and a priority group; the extract is cached
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--customers", "300", "--repeat", "1",
         "--audiences", "service_loyal,winback,lease_end", "--change", "0.05", "--json", str(out), "--work", str(tmp_path), "--quiet"],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    size = json.loads(out.read_text())["sizes"][0]

    file_steps = set(size["full"]["steps"]) | set(size["change"]["steps"])
    meta_steps = set(size["meta_api"]["full"]["steps"]) | set(size["meta_api"]["change"]["steps"])
    assert set(STEPS) - {"diff"} <= file_steps  # file destinations write snapshots: no diff
    assert set(STEPS) <= meta_steps
    for step in size["full"]["steps"].values():
        assert step["seconds"] >= 0 and step["peak_rss"] > 0 and step["x_floor"] is not None
    assert size["floor"]["total_seconds"] > 0 and size["pandas"]["total_seconds"] > 0

    cmp = size["comparison"]
    assert set(cmp["audiences"]) == {"service_loyal", "winback", "lease_end"}
    assert cmp["agree"], cmp
    for aud in cmp["audiences"].values():
        assert aud["customers"]["only_dealersync"] == aud["customers"]["only_pandas"] == 0
        assert aud["phone"]["unexplained"] == 0
    assert size["meta_api"]["exact"] and sum(v["adds"] + v["removes"] for v in size["meta_api"]["expected"].values()) > 0
    assert size["meta_api"]["fake_matches_full"] and size["meta_api"]["fake_matches_change"]
