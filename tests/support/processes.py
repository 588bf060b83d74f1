"""Processes a test starts: dealersync or Python in a subprocess, a process holding a warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def run_dealersync(args: list[str], cwd: Path, *importable: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m dealersync ARGS`` as a process: see :func:`run_python`."""
    return run_python(["-m", "dealersync", *args], cwd, *importable, **env)


def run_python(args: list[str], cwd: Path, *importable: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` (this interpreter) as a process in ``cwd``, with the ``importable`` folders
    (an offline install's site, say) ahead on PYTHONPATH and ``env`` added to the environment;
    output captured as text."""
    pythonpath = os.pathsep.join([*map(str, importable), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": pythonpath, **env},
    )


@contextmanager
def warehouse_held(path: Path) -> Iterator[None]:
    """Another process holds the DuckDB file ``path`` open (DuckDB lets one process write it)
    until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()",
         str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield
    finally:
        holder.communicate("")
