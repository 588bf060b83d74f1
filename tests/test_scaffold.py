"""``dealersync new-plugin``: what it writes installs, is discovered, syncs, and passes the kit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from dealersync import ConfigError
from dealersync.cli import cli
from dealersync.scaffold import new_plugin
from dealersync.testing import install_offline

from tests.support.processes import run_dealersync, run_python
from tests.support.servers import LocalServer, answer

TOKEN = "demo-token"
CUSTOMERS = [
    {"id": 1, "first_name": "José", "last_name": "O'Brien", "email": "Jose@Example.com",
     "phone": "(512) 555-0101", "updated_at": "2026-01-05T09:00:00"},
    {"id": 2, "first_name": "Zoë", "last_name": "Müller", "email": "zoe@example.com",
     "phone": None, "updated_at": "2026-02-11T17:30:00"},
    {"id": 3, "first_name": "Ann", "last_name": "Lee", "email": "jose@example.com",
     "phone": None, "updated_at": "2026-03-01T08:15:00"},
]


def test_writes_a_distribution(tmp_path: Path) -> None:
    root = new_plugin("acme-crm", "source", tmp_path)
    assert root == tmp_path / "dealersync-acme-crm"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "dealersync_acme_crm/__init__.py",
        "dealersync_acme_crm/connector.py",
        "pyproject.toml",
        "tests/test_dealersync_acme_crm.py",
    ]
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points.dealersync]\nacme-crm = "dealersync_acme_crm"' in pyproject
    assert "class AcmeCrmSource(Source):" in (root / "dealersync_acme_crm/connector.py").read_text()
    assert "pip install -e" in (root / "README.md").read_text()
    with pytest.raises(ConfigError, match="already exists"):
        new_plugin("acme-crm", "source", tmp_path)
    with pytest.raises(ConfigError, match="lowercase words"):
        new_plugin("Acme_CRM", "source", tmp_path)


def test_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["new-plugin", "acme-list", "--kind", "destination", "--style", "snapshot",
                                      "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"created {tmp_path / 'dealersync-acme-list'}" in result.output
    assert "SnapshotDestination" in (tmp_path / "dealersync-acme-list/dealersync_acme_list/connector.py").read_text()
    bad = CliRunner().invoke(cli, ["new-plugin", "acme-list", "--kind", "destination", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "already exists" in bad.output


class ExampleCrm(BaseHTTPRequestHandler):
    """The scaffolded source's example API, served on localhost for the sync run."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(401, {"error": "bad token"})
        elif url.path == "/v1/me":
            self._send(200, {"account": "demo"})
        elif url.path == "/v1/customers":
            since = parse_qs(url.query).get("updated_since", [""])[0]
            self._send(200, {"data": [c for c in CUSTOMERS if c["updated_at"] > since], "next_page": None})
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status: int, payload: object) -> None:
        answer(self, status, json.dumps(payload).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def example_api() -> Iterator[str]:
    with LocalServer(ExampleCrm, "/v1") as server:
        yield server.url


@pytest.mark.slow
def test_scaffolded_plugins_install_sync_and_pass_the_kit(tmp_path: Path, example_api: str) -> None:
    src = tmp_path / "src"
    roots = [
        new_plugin("demo-crm", "source", src),
        new_plugin("demo-list", "destination", src, style="snapshot"),
        new_plugin("demo-ads", "destination", src, style="audience"),
    ]
    site = tmp_path / "site"
    install_offline(roots, site)

    listing = run_dealersync(["plugins", "--json"], tmp_path, site)
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert plugins["demo-crm"]["connectors"] == [{"name": "demo-crm", "kind": "source", "capabilities": []}]
    assert plugins["demo-list"]["connectors"] == [{"name": "demo-list", "kind": "destination", "capabilities": []}]
    assert plugins["demo-ads"]["distribution"] == "dealersync-demo-ads"
    names = ("demo-crm", "demo-list", "demo-ads")
    # each declares the plugin API range it is written for: no warning
    assert {(plugins[n]["status"], plugins[n]["api"], len(plugins[n]["warnings"])) for n in names} == {("ok", ">=1.0,<2", 0)}

    (tmp_path / "connectors.toml").write_text(
        f"""
as_of = "2026-11-23"
[warehouse]
path = "wh.duckdb"
[sources.crm]
connector = "demo-crm"
base_url = "{example_api}"
api_token = {{ env = "DEMO_CRM_TOKEN" }}
[destinations.list]
connector = "demo-list"
[destinations.meta]
connector = "meta-file"
[segments.everyone]
rule = {{ fact = "customer_id", op = "is_null", value = false }}
[audiences.all]
segment = "everyone"
destinations = ["list", "meta"]
"""
    )
    sync = run_dealersync(["sync"], tmp_path, site, DEALERSYNC_DISABLE_PLUGINS="",
                DEALERSYNC_CONFIG="connectors.toml", DEMO_CRM_TOKEN=TOKEN, COLUMNS="200")
    assert sync.returncode == 0, sync.stdout + sync.stderr
    lines = [json.loads(x) for x in (tmp_path / "out" / "all.list.jsonl").read_text().splitlines()]
    assert len(lines) == 2  # José and Ann share an email: one member
    assert all(len(m["email"]) == 64 for m in lines)
    assert "example.com" not in (tmp_path / "out" / "all.list.jsonl").read_text().lower()
    assert len((tmp_path / "out" / "all.meta.csv").read_text().splitlines()) == 3  # header + 2

    tests = [r / "tests" / f"test_{r.name.replace('-', '_')}.py" for r in roots]
    kit = run_python(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs", *map(str, tests)],
               tmp_path, site)
    assert kit.returncode == 0, kit.stdout[-4000:]
    assert " passed" in kit.stdout and "failed" not in kit.stdout
