"""Failures stay contained: a read-only output directory, a full disk, an HTML or ``{}`` answer
with 200, a server that drips its answer, a refused token: each fails its own delivery, recorded
in ``_runs`` with its reason; the other audiences are delivered, nothing is counted that the
platform did not accept, and the run ends within its deadline. Through the CLI, against the Meta
fake served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest
from click.testing import CliRunner, Result

from dealersync.cli import cli
from dealersync.testing import write_extract

from tests.support import configs as toml
from tests.support.servers import LocalServer, answer, drip

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "dealersync-meta" / "tests"))
from meta_fake import ACCOUNT, TOKEN, VERSION, FakeMeta  # noqa: E402
from meta_world import TOKEN_ENV, customers  # noqa: E402

N = 120
REQUEST_SECONDS = 1.5
DESTINATION_SECONDS = 4.0


class MisbehavingMeta:
    """The Meta fake over HTTP; ``upload`` decides how /users uploads are answered: "ok" (the
    fake), "html" (200, an HTML page), "empty" (200, ``{}``), "drip" (200, one byte every 0.2 s)."""

    def __init__(self, fake: FakeMeta) -> None:
        self.fake = fake
        self.upload = "ok"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = parts.path.removeprefix(f"/{VERSION}")
                if path.endswith("/users") and outer.upload != "ok":
                    outer.misbehave(self)
                    return
                status, payload, _ = outer.fake.dispatch(
                    self.command, path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()}, body,
                )
                answer(self, status, json.dumps(payload).encode())

            do_GET = do_POST = do_DELETE = _handle

        self.handler = Handler
        self.server = LocalServer(Handler)
        self.url = self.server.url

    def misbehave(self, h: Any) -> None:
        if self.upload == "html":
            answer(h, 200, b"<html><body>Service temporarily unavailable</body></html>", "text/html")
        elif self.upload == "empty":
            answer(h, 200, b"{}")
        else:  # drip: a valid start, then a byte every 0.2 s for a minute (per-read timeouts never fire)
            drip(h, chunks=300, every=0.2, content_type="application/json")

    def stop(self) -> None:
        self.server.stop()


def config(url: str, ok: Path, ro: Path, full: Path) -> str:
    """Two audiences to the Meta server, one to three file destinations (ok, read-only, full)."""
    return toml.dealership(
        toml.table("deadlines", request_seconds=REQUEST_SECONDS, destination_seconds=DESTINATION_SECONDS),
        toml.destination("meta", "meta", ad_account_id=ACCOUNT, access_token={"env": TOKEN_ENV}, base_url=url),
        *(toml.destination(name, "meta-file", dir=str(d)) for name, d in (("ok_file", ok), ("ro_file", ro), ("full_file", full))),
        toml.EVERYONE,
        toml.audience("to_meta", "everyone", ["meta"]),
        toml.audience("to_meta_too", "everyone", ["meta"]),
        toml.audience("to_files", "everyone", ["ro_file", "full_file", "ok_file"]),
    )


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def dealer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, MisbehavingMeta]]:
    """The dealer directory with a read-only and a full output directory, and the Meta server.

    Both are real tmpfs mounts where this process may mount (root): read-only (``ro``) and 32 KiB,
    too small for the audience file. Where it may not: the read-only directory is chmod 555 and
    the full disk is simulated: ``os.replace`` into that directory raises ENOSPC (said in the
    test's output)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    write_extract(tmp_path / "dms", {"customers": customers(N)})
    ro, full = tmp_path / "ro", tmp_path / "full"
    mounted = [p for p, opts in ((ro, "ro,size=1m"), (full, "size=32k")) if _mount_tmpfs(p, opts)]
    if ro not in mounted:
        ro.chmod(0o555)
    if full not in mounted:
        print("no tmpfs here: ENOSPC simulated for the full directory")
        real_replace = os.replace

        def replace(src: Any, dst: Any) -> None:
            if Path(dst).parent == full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
            real_replace(src, dst)

        monkeypatch.setattr("dealersync.audiences.os.replace", replace)
    server = MisbehavingMeta(FakeMeta())
    (tmp_path / "connectors.toml").write_text(config(server.url, tmp_path / "ok", ro, full), encoding="utf-8")
    try:
        yield tmp_path, server
    finally:
        server.stop()
        for p in mounted:
            subprocess.run(["umount", str(p)], check=True)


def sync(root: Path) -> tuple[Result, float]:
    started = time.monotonic()
    done = CliRunner().invoke(cli, ["sync", "--config", str(root / "connectors.toml")])
    return done, time.monotonic() - started


def runs(root: Path) -> dict[tuple[str, str], tuple[str, str | None, int | None, int | None]]:
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT audience, destination, status, error, added, written FROM _runs").fetchall()
    finally:
        con.close()
    return {(a, d): (s, e, n, w) for a, d, s, e, n, w in rows}


def synced_members(root: Path) -> int:
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM _sync_state WHERE status = 'synced'").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def test_read_only_and_full_output_directories(dealer: tuple[Path, MisbehavingMeta]) -> None:
    root, server = dealer
    done, _ = sync(root)
    assert done.exit_code == 1, done.output
    assert "Traceback" not in done.output
    got = runs(root)
    ro, full, ok = got[("to_files", "ro_file")], got[("to_files", "full_file")], got[("to_files", "ok_file")]
    assert ro[0] == "failed" and "Read-only file system" in (ro[1] or "") or "Permission denied" in (ro[1] or "")
    assert full[0] == "failed" and "No space left on device" in (full[1] or ""), full
    assert ok[0] == "ok" and ok[3] == N
    assert got[("to_meta", "meta")][0] == "ok"
    assert [len(members) for members in server.fake.lists.values()] == [N, N]
    assert not [p for p in (root / "full").iterdir() if ".tmp-" in p.name]  # no half-written file left


@pytest.mark.parametrize(("upload", "reason"), [("html", "not JSON (text/html)"), ("empty", "without num_received")])
def test_a_200_that_proves_nothing_counts_nothing(dealer: tuple[Path, MisbehavingMeta], upload: str, reason: str) -> None:
    root, server = dealer
    server.upload = upload
    done, _ = sync(root)
    assert done.exit_code == 1 and "Traceback" not in done.output, done.output
    got = runs(root)
    for audience in ("to_meta", "to_meta_too"):
        status, error, added, _ = got[(audience, "meta")]
        assert status == "failed" and reason in (error or "") and not added
    assert synced_members(root) == 0  # nothing marked synced that Meta did not confirm
    assert got[("to_files", "ok_file")][0] == "ok"
    server.upload = "ok"
    again, _ = sync(root)  # the platform answers properly again: everyone is sent
    assert runs(root)[("to_meta", "meta")][0] == "ok"
    assert synced_members(root) == 2 * N and again.exit_code == 1  # the two broken directories remain


def test_a_dripping_server_is_cut_at_the_deadline(dealer: tuple[Path, MisbehavingMeta]) -> None:
    root, server = dealer
    server.upload = "drip"
    done, seconds = sync(root)
    assert done.exit_code == 1 and "Traceback" not in done.output, done.output
    got = runs(root)
    status, error, added, _ = got[("to_meta", "meta")]
    assert status == "failed" and not added
    assert "deadline" in (error or "") or "time for the run" in (error or ""), error
    assert got[("to_meta_too", "meta")][0] == "failed"  # the destination's budget was spent
    assert got[("to_files", "ok_file")][0] == "ok"
    assert synced_members(root) == 0
    assert seconds < DESTINATION_SECONDS + 20, seconds  # load, facts and files take a few seconds


def test_a_refused_token_stops_that_destination(dealer: tuple[Path, MisbehavingMeta], monkeypatch: pytest.MonkeyPatch) -> None:
    root, server = dealer
    monkeypatch.setenv(TOKEN_ENV, "a-revoked-token-0000aaaa1111")
    done, _ = sync(root)
    assert done.exit_code == 1, done.output
    got = runs(root)
    assert got[("to_meta", "meta")][0] == "failed" and "token" in (got[("to_meta", "meta")][1] or "")
    first_calls = sum(server.fake.calls.values())
    status, error, _, _ = got[("to_meta_too", "meta")]
    assert status == "failed" and (error or "").startswith("not tried")
    assert got[("to_files", "ok_file")][0] == "ok"
    assert "a-revoked-token-0000aaaa1111" not in done.output + json.dumps(list(got.values()))
    assert first_calls == sum(server.fake.calls.values())
