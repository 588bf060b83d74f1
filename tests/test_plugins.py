"""Plugin discovery with real distributions installed offline, exercised through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dealersync.plugin_api import UNDECLARED
from dealersync.testing import build_distribution, install_offline, write_extract

from tests.support.processes import run_dealersync
from tests.support.configs import EVERYONE_RULE, audience, dealership, destination, everyone_to, table

ACME = '''
import json
from dealersync import ConnectorConfig, SnapshotDestination, SnapshotResult, hookimpl
from pydantic import Field


class AcmeList(SnapshotDestination):
    """A third party's destination: one JSON line of hashed email per member."""

    name = "acme-list"
    channel = "email"
    identifiers = {"email": "meta.email"}

    class Config(ConnectorConfig):
        filename: str = Field("acme.jsonl", description="output file name")

    def write_snapshot(self, snapshot):
        path = self.context.out_dir / self.config.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        n = 0
        with path.open("w") as fh:
            for batch in snapshot.iter_batches(2):
                for m in batch:
                    fh.write(json.dumps({"email_sha256": m["email"]}) + "\\n")
                    n += 1
        return SnapshotResult(written=n, location=str(path))


@hookimpl
def dealersync_register_destinations():
    return [AcmeList]
'''

BROKEN = '''
import this_module_does_not_exist  # the vendor forgot a dependency
'''

CLASH = '''
from dealersync import SnapshotDestination, hookimpl


class OtherMetaFile(SnapshotDestination):
    name = "meta-file"
    identifiers = {"email": "meta.email"}

    def write_snapshot(self, snapshot):
        raise AssertionError("never used")


@hookimpl
def dealersync_register_destinations():
    return [OtherMetaFile]
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dists")
    target = root / "site"
    for dist, module, ep, code in [
        ("dealersync-acme", "dealersync_acme", "acme", ACME),
        ("dealersync-broken", "dealersync_broken", "broken", BROKEN),
    ]:
        install_offline(build_distribution(root / "src", dist, module, ep, code), target)
    return target


def _dealership(tmp: Path) -> None:
    write_extract(
        tmp / "dms",
        {
            "customers": [
                {"customer_id": "C1", "email": " Ann@Example.com ", "email_opt_in": True},
                {"customer_id": "C2", "email": "bob@example.com", "email_opt_in": True},
                {"customer_id": "C3", "email": "ann@example.com", "email_opt_in": True},
            ],
        },
    )
    (tmp / "connectors.toml").write_text(dealership(destination("acme", "acme-list"), everyone_to("acme")))


def test_third_party_plugin_used_and_broken_one_listed(site: Path, tmp_path: Path) -> None:
    listing = run_dealersync(["plugins", "--json"], tmp_path, site)
    assert listing.returncode == 0, listing.stderr
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert plugins["acme"] == {
        "name": "acme",
        "distribution": "dealersync-acme",
        "version": "1.2.3",
        "entry_point": "acme = dealersync_acme",
        "status": "ok",
        "error": None,
        "api": None,  # it declares no plugin API range: loaded, with a warning
        "warnings": [UNDECLARED],
        "connectors": [{"name": "acme-list", "kind": "destination", "capabilities": []}],
        "facts": [],
        "segment_templates": [],
    }
    assert plugins["broken"]["status"] == "broken"
    assert plugins["broken"]["distribution"] == "dealersync-broken"
    assert plugins["broken"]["error"] == "ModuleNotFoundError: No module named 'this_module_does_not_exist'"
    assert plugins["files"]["status"] == "ok"  # the bundled ones still load

    table = run_dealersync(["plugins"], tmp_path, site, COLUMNS="200")
    assert "broken: ModuleNotFoundError" in table.stdout

    _dealership(tmp_path)
    result = run_dealersync(["sync"], tmp_path, site)
    assert result.returncode == 0, result.stderr + result.stdout
    lines = (tmp_path / "out" / "acme.jsonl").read_text().splitlines()
    # Ann under two customer ids is one member; raw emails never written
    assert len(lines) == 2
    assert "example.com" not in "".join(lines)


def test_disable_switches(site: Path, tmp_path: Path) -> None:
    off = run_dealersync(["plugins", "--json"], tmp_path, site, DEALERSYNC_DISABLE_PLUGIN_AUTOLOAD="1")
    assert json.loads(off.stdout)["plugins"] == []
    some = run_dealersync(["plugins", "--json"], tmp_path, site, DEALERSYNC_DISABLE_PLUGINS="broken, files")
    names = {p["name"] for p in json.loads(some.stdout)["plugins"]}
    assert "broken" not in names and "files" not in names and "acme" in names


def test_connector_clash_names_both_distributions(tmp_path: Path) -> None:
    target = tmp_path / "site"
    install_offline(build_distribution(tmp_path / "src", "dealersync-other", "dealersync_other", "other", CLASH), target)
    listing = run_dealersync(["plugins", "--json"], tmp_path, target)
    assert json.loads(listing.stdout)["clashes"] == {"meta-file": ["dealersync-files", "dealersync-other"]}
    write_extract(tmp_path / "dms", {"customers": [{"customer_id": "C1", "email": "a@b.co"}]})
    (tmp_path / "connectors.toml").write_text(
        dealership(destination("m", "meta-file"), table("segments.s", rule=EVERYONE_RULE), audience("a", "s", ["m"]), as_of=None)
    )
    result = run_dealersync(["sync"], tmp_path, target)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: destinations.m.connector: connector 'meta-file' is provided by both "
        "dealersync-files (plugin files) and dealersync-other (plugin other); "
        "uninstall one, or disable one with DEALERSYNC_DISABLE_PLUGINS"
    )
