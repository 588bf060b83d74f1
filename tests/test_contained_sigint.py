"""Ctrl-C at random points of 20 real ``dealersync sync`` processes against the Meta fake over
HTTP: each exits 130 (or 0 when it finished first) with one line and no traceback, and the next
uninterrupted run leaves the remote audience exactly right."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "dealersync-meta" / "tests"))
from meta_fake import TOKEN, FakeMeta, FakeMetaServer  # noqa: E402
from meta_world import TOKEN_ENV, World, assert_remote_is, customers  # noqa: E402

RUNS = 20


def _start(world: World, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dealersync", "sync", "--config", str(world.config)],
        cwd=world.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.mark.slow
def test_sigint_at_random_points_then_the_next_run_converges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    env = {**os.environ, TOKEN_ENV: TOKEN}
    rnd = random.Random(13)
    fake = FakeMeta()
    outcomes: list[int] = []
    with FakeMetaServer(fake, max_seconds=600) as server:
        server.gate = lambda _op: time.sleep(0.03) or True  # uploads take a moment: Ctrl-C lands mid-sync too
        people = customers(300)
        world = World(tmp_path / "dealer", people, batch_rows=20, base_url=server.url)
        next_id = 1000
        for _ in range(RUNS):
            # a small change each time (below the change guards): 8 leave, 8 join
            for gone in rnd.sample(range(len(people)), 8):
                people[gone] = customers(1, start=next_id)[0]
                next_id += 1
            world.people = people
            world.write()
            proc = _start(world, env)
            time.sleep(rnd.uniform(0.0, 3.0))  # anywhere: start-up, load, facts, sending
            proc.send_signal(signal.SIGINT)
            output = proc.communicate(timeout=120)[0]
            assert proc.returncode in (130, 0), output[-2000:]
            assert "Traceback" not in output and TOKEN not in output, output[-2000:]
            if proc.returncode == 130:
                assert output.strip() == "" or output.strip().splitlines()[-1].startswith("interrupted:"), output[-500:]
            outcomes.append(proc.returncode)
        server.gate = None
        final = _start(world, env)
        output = final.communicate(timeout=180)[0]
        assert final.returncode == 0, output[-2000:]
    assert outcomes.count(130) >= RUNS // 2, outcomes  # most runs were really interrupted
    assert_remote_is(fake, world)  # each member exactly once, nobody else
