"""A real ``dealersync sync`` process, SIGKILLed mid-upload, then run again to completion."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest
from dealersync.testing import run_sync
from meta_fake import TOKEN, FakeMeta, FakeMetaServer
from meta_world import TOKEN_ENV, World, assert_remote_is, customers

N, ROWS, K = 600, 50, 5  # 12 batches; the process dies while batch K+1 is in flight


def _sync(world: World, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dealersync", "sync", "--config", str(world.config)],
        cwd=world.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.mark.slow
def test_sigkill_mid_sync_then_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    env = {**os.environ, TOKEN_ENV: TOKEN}
    fake = FakeMeta()
    uploads = 0
    reached, release = threading.Event(), threading.Event()

    def gate(op: str) -> bool:
        nonlocal uploads
        uploads += 1
        if uploads <= K:
            return True
        reached.set()  # K batches applied and answered; hold batch K+1 until the process is dead
        release.wait(timeout=60)
        return False

    with FakeMetaServer(fake, max_seconds=240) as server:
        world = World(tmp_path / "dealer", customers(N), batch_rows=ROWS, base_url=server.url)
        server.gate = gate
        proc = _sync(world, env)
        try:
            assert reached.wait(timeout=120), proc.communicate(timeout=5)[0][-2000:]
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            release.set()
        assert len(fake.applied) == K and len(fake.members(fake.only_list())) == K * ROWS

        server.gate = None
        again = _sync(world, env)
        output = again.communicate(timeout=180)[0]
        assert again.returncode == 0, output[-2000:]
        assert TOKEN not in output

    assert_remote_is(fake, world)  # each member exactly once, nobody else
    con = duckdb.connect(str(world.root / "wh.duckdb"), read_only=True)
    try:
        status, added, removed = con.execute("SELECT status, added, removed FROM _runs").fetchall()[-1]
    finally:
        con.close()
    assert (status, added, removed) == ("ok", N - K * ROWS, 0)  # the K committed batches were not resent


@pytest.mark.slow
def test_lookalike_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dealersync audiences lookalike` seeds a Meta lookalike from the synced audience."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    fake = FakeMeta()
    with FakeMetaServer(fake, max_seconds=120) as server:
        world = World(tmp_path / "dealer", customers(120), batch_rows=ROWS, base_url=server.url)
        [res] = run_sync(world.config)
        assert res.status == "ok", res.error
        done = subprocess.run(
            [sys.executable, "-m", "dealersync", "audiences", "lookalike", "all", "--country", "us", "--ratio", "0.02",
             "--config", str(world.config)],
            check=False, cwd=world.root, env={**os.environ, TOKEN_ENV: TOKEN}, capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    seed = fake.only_list()
    [look] = [a for a in fake.audiences.values() if a.get("subtype") == "LOOKALIKE"]
    assert look["origin_audience_id"] == seed
    assert look["lookalike_spec"] == {"type": "custom_ratio", "ratio": 0.02, "country": "US"}
    assert TOKEN not in done.stdout + done.stderr
    assert "special ad category" in done.stderr  # Marketing API, Special Ad Category: no lookalikes there
