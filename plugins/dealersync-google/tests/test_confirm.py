"""Confirmation (issue 16, deliver 2): Data Manager answers ``audienceMembers:ingest`` with a
``requestId`` and reports the outcome later through ``requestStatus:retrieve`` (SUCCESS,
PARTIAL_SUCCESS or FAILED with error counts per reason, never which members: googleapis
google/ads/datamanager/v1/ingestion_service.proto, request_status_per_destination.proto). The
engine commits members only once their request is confirmed and re-sends a whole request that
came back PARTIAL_SUCCESS or FAILED; a SIGKILL between the ingest and its confirmation loses
nothing."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest
import responses
from http.server import ThreadingHTTPServer
from dealersync_google_fake import BASE, FakeDataManager

# test_sync.py's World, under a name of its own (other plugins' tests have a test_sync module too)
_spec = importlib.util.spec_from_file_location("google_test_sync", Path(__file__).with_name("test_sync.py"))
assert _spec is not None and _spec.loader is not None
_sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sync)
SECRET_ENV, World = _sync.SECRET_ENV, _sync.World

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
import serve_fakes  # noqa: E402


def runs(world: World) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(world.root / "wh.duckdb"), read_only=True)
    try:
        return con.execute("SELECT status, added, pending, warnings, confirmations FROM _runs ORDER BY started_at").fetchall()
    finally:
        con.close()


def test_partial_and_failed_requests_are_said_and_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    w = World(tmp_path, monkeypatch, 200, connector="google-small")  # 5 requests of 40
    w.fake.outcome(2, "PARTIAL_SUCCESS")
    w.fake.outcome(4, "FAILED")
    r = w.run()
    assert r.status == "ok", r.error
    assert [c["status"] for c in r.confirmations] == ["success", "partial", "success", "failed", "success"]
    partial = r.confirmations[1]
    assert partial["counts"]["error:PROCESSING_ERROR_REASON_INTERNAL_ERROR"] == 20 and partial["counts"]["records"] == 40
    assert r.added == 120  # only the confirmed requests count
    assert any("PARTIAL_SUCCESS for add request req-2 (40 members" in x for x in r.warnings), r.warnings
    assert any("FAILED for add request req-4 (40 members" in x for x in r.warnings), r.warnings
    status, added, pending, warnings, confirmations = runs(w)[-1]  # the run history says so
    assert (status, added, pending) == ("ok", 120, 0)
    assert any("PARTIAL_SUCCESS" in x for x in warnings) and any("FAILED" in x for x in warnings)
    assert [c["status"] for c in json.loads(confirmations)] == ["success", "partial", "success", "failed", "success"]
    assert len(w.fake.held()) == 140  # Google applied 3 x 40 + half of the partial request

    again = w.run()
    assert (again.status, again.added, again.unchanged) == ("ok", 80, 120)  # both requests, whole
    assert again.platform_counts["members_ingested"] == 80
    w.assert_remote_is_the_audience()  # exactly the audience, each member once
    assert (w.run().added, w.run().platform_counts["requests"]) == (0, 0)


def test_a_request_still_processing_waits_for_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    w = World(tmp_path, monkeypatch, 120)
    w.fake.outcome(1, "PROCESSING")
    r = w.run()
    assert (r.status, r.added, r.pending, r.unchanged) == ("ok", 0, 120, 0)
    assert any("wait for the platform's confirmation" in x for x in r.warnings)
    r = w.run()  # still processing: nothing sent again, nothing counted
    assert (r.added, r.pending, r.unchanged, r.platform_counts["requests"]) == (0, 120, 120, 0)
    w.fake.settle()
    r = w.run()
    assert (r.added, r.pending, r.platform_counts["requests"]) == (120, 0, 0)
    w.assert_remote_is_the_audience()


def test_a_failed_request_is_retried_up_to_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    w = World(tmp_path, monkeypatch, 110)
    for call in (1, 2, 3):
        w.fake.outcome(call, "FAILED")
    results = [w.run() for _ in range(4)]
    assert [r.platform_counts["requests"] for r in results] == [1, 1, 1, 0]  # then it gives up
    assert results[-1].gave_up == 110 and w.fake.held() == []


class GatedGoogle(FakeDataManager):
    """Holds ``requestStatus:retrieve`` until released: the sync process is killed while waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.asked, self.release = threading.Event(), threading.Event()

    def request_status(self, request: Any, body: Any) -> Any:
        self.asked.set()
        self.release.wait(timeout=60)
        return super().request_status(request, body)


@pytest.mark.slow
def test_sigkill_between_ingest_and_confirmation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    """A real ``dealersync sync`` process against the fake over HTTP: the ingest is answered,
    the engine records the request as pending and is SIGKILLed while asking for its status. The
    request came back PARTIAL_SUCCESS: the next run learns it, sends the whole request again, and
    the list ends holding exactly the audience."""
    w = World(tmp_path, monkeypatch, 150)
    fake = w.fake = GatedGoogle()
    fake.outcome(1, "PARTIAL_SUCCESS")
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), serve_fakes.Forwarder)
    server.daemon_threads = True
    local = f"http://127.0.0.1:{server.server_address[1]}"
    serve_fakes.Forwarder.routes = [(local, BASE)]
    mock.add_passthru(local)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fake.register(mock)
        w.write("mirror")
        config = w.root / "connectors.toml"
        config.write_text(config.read_text(encoding="utf-8").replace(BASE, local), encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "dealersync", "sync", "--config", str(config)],
            cwd=w.root, env={**os.environ, **SECRET_ENV}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            assert fake.asked.wait(timeout=120), proc.communicate(timeout=5)[0][-2000:]
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            fake.release.set()
    finally:
        server.shutdown()
        mock.stop()
    assert len(fake.held()) == 75  # Google applied half of the request
    con = duckdb.connect(str(w.root / "wh.duckdb"), read_only=True)
    try:  # the killed run left the request pending: its members are not counted as synced
        assert con.execute("SELECT status, count(*) FROM _sync_state GROUP BY ALL").fetchall() == [("pending", 150)]
    finally:
        con.close()

    r = w.run()
    assert r.status == "ok", r.error
    assert [(c["request"], c["status"]) for c in r.confirmations] == [("req-1", "partial"), ("req-2", "success")]
    assert any("PARTIAL_SUCCESS for add request req-1 (150 members" in x for x in r.warnings), r.warnings
    assert (r.added, r.pending) == (150, 0)
    w.assert_remote_is_the_audience()
