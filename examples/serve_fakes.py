"""Serve the Meta, Google Data Manager and Mailchimp fakes over real HTTP on 127.0.0.1, so the
demo (or any config) can sync against them: ``python examples/serve_fakes.py`` and, in another
shell, ``dealersync sync --config examples/fakes.toml`` with the variables it prints; or both in
one command: ``python examples/serve_fakes.py -- dealersync sync --config examples/fakes.toml``.

Each fake is the one the plugin's tests use (``plugins/*/tests/*fake*.py``): it holds the
audiences in memory and enforces what the platform documents (see each fake's docstring). A
port per platform forwards every request to its fake through ``responses``; URLs the fake
answers with (paging links, Mailchimp's results archive) are rewritten to this server.
Everything is lost when the server stops: run the sync while it is up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import responses

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
for name in ("dealersync-meta", "dealersync-google", "dealersync-mailchimp"):
    sys.path.insert(0, str(PLUGINS / name / "tests"))

import dealersync_google_fake as google  # noqa: E402
import mailchimp_fake as mailchimp  # noqa: E402
import meta_fake as meta  # noqa: E402

PORTS = {"meta": 8701, "google": 8702, "mailchimp": 8703}  # what examples/fakes.toml expects


def environment() -> dict[str, str]:
    """The secrets ``examples/fakes.toml`` reads from the environment: the fakes' own test values."""
    return {
        "DEALERSYNC_FAKE_META_TOKEN": meta.TOKEN,
        "DEALERSYNC_FAKE_GOOGLE_SECRET": google.CLIENT_SECRET,
        "DEALERSYNC_FAKE_GOOGLE_REFRESH": google.REFRESH_TOKEN,
        "DEALERSYNC_FAKE_MAILCHIMP_KEY": mailchimp.API_KEY,
    }


class Forwarder(BaseHTTPRequestHandler):
    """Replays a request against its fake (served by ``responses``) and relays the answer."""

    protocol_version = "HTTP/1.1"
    routes: list[tuple[str, str]] = []  # (local prefix, fake prefix), longest local first

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _forward(self) -> None:
        local = f"http://127.0.0.1:{self.server.server_address[1]}"
        asked = local + self.path
        target = next((fake + asked.removeprefix(path) for path, fake in self.routes if asked.startswith(path)), None)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if target is None:
            self._send(404, b"no fake here", "text/plain")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        try:
            answer = requests.request(self.command, target, headers=headers, data=body, timeout=30)
        except requests.RequestException:  # an injected network fault: drop the connection
            self.close_connection = True
            return
        content = answer.content
        if "json" in answer.headers.get("Content-Type", ""):
            text = content.decode()
            for path, fake in self.routes:
                text = text.replace(fake, path)
            content = text.encode()
        self._send(answer.status_code, content, answer.headers.get("Content-Type", ""))

    def _send(self, status: int, content: bytes, ctype: str) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


def serve(ports: dict[str, int]) -> list[ThreadingHTTPServer]:
    fakes = [meta.FakeMeta(), google.FakeDataManager(), mailchimp.FakeMailchimp()]
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()
    for fake in fakes:
        fake.register(mock)
    local = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    Forwarder.routes = sorted(
        [
            (f"{local['meta']}/{meta.VERSION}", meta.FakeMeta.base_url),
            (local["google"], google.BASE),
            (f"{local['mailchimp']}/results", mailchimp.RESULTS_URL),
            (f"{local['mailchimp']}/3.0", mailchimp.FakeMailchimp.base_url),
        ],
        key=lambda r: -len(r[0]),
    )
    servers = []
    for port in ports.values():
        server = ThreadingHTTPServer(("127.0.0.1", port), Forwarder)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    return servers


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-port", type=int, default=PORTS["meta"],
                        help="Meta's port; Google and Mailchimp take the next two (default 8701, as examples/fakes.toml)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="after --: a command to run while the fakes serve")
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"]
    ports = {name: args.base_port + i for i, name in enumerate(PORTS)}
    servers = serve(ports)
    env = environment()
    print(" ".join(f"{k}={v}" for k, v in env.items()), file=sys.stderr)
    print(f"fakes: meta :{ports['meta']}, google :{ports['google']}, mailchimp :{ports['mailchimp']}", file=sys.stderr)
    try:
        if command:
            return subprocess.run(command, env={**os.environ, **env}, check=False).returncode
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
