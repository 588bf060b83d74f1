"""The plugin API version: a plugin's declared range is checked when it loads (an incompatible or
invalid one makes that plugin broken, with the reason, and the others load; none is accepted with a
warning), the bundled plugins declare theirs, and the kit is versioned with it."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

import dealersync
from dealersync import PLUGIN_API_VERSION, PluginError, SnapshotDestination, hookimpl
from dealersync.plugin_api import UNDECLARED, check_plugin_api
from dealersync.plugins import DISABLE_AUTOLOAD, load_plugins
from dealersync.testing import KIT_API_VERSION, build_distribution, install_offline, write_extract
from dealersync.testing.plugin_api import check_declared_api

from tests.support.configs import audience, dealership, destination, everyone_to
from tests.support.processes import run_dealersync

BUNDLED = {"dms-csv", "files", "google", "mailchimp", "meta"}


def declaring(api: object = None, name: str = "vendor_plugin") -> types.ModuleType:
    module = types.ModuleType(name)
    if api is not None:
        module.DEALERSYNC_API = api  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize("api", [">=1.0,<2", ">=1", "==1.*", "~=1.0", ">=0.9,<1.1"])
def test_a_range_holding_the_version_is_accepted(api: str) -> None:
    assert check_plugin_api(declaring(api)) == api


def test_nothing_declared_is_accepted_and_said() -> None:
    assert check_plugin_api(declaring()) is None
    assert UNDECLARED.startswith("declares no DEALERSYNC_API: loaded as if it said '>=1.0,<2'")


@pytest.mark.parametrize(
    ("api", "reason"),
    [
        (">=2,<3", "supports plugin API >=2,<3, this dealersync provides 1.0: install a release of the plugin made for plugin API 1.0"),
        ("<1.0", "supports plugin API <1.0, this dealersync provides 1.0"),
        ("latest", "DEALERSYNC_API = 'latest' is not a version range such as '>=1.0,<2' (PEP 440 version specifiers)"),
        ("", "DEALERSYNC_API = '' is not a version range"),
        (2, "DEALERSYNC_API = 2 is not a version range"),
    ],
)
def test_an_incompatible_or_invalid_range_is_refused_with_the_reason(api: object, reason: str) -> None:
    with pytest.raises(PluginError) as refused:
        check_plugin_api(declaring(api))
    assert refused.value.message.startswith(reason)


def test_the_version_is_public_and_the_kit_checks_the_same_one() -> None:
    assert "PLUGIN_API_VERSION" in dealersync.__all__
    assert Version(PLUGIN_API_VERSION).release[0] >= 1
    assert KIT_API_VERSION == PLUGIN_API_VERSION


class FutureList(SnapshotDestination):
    name = "future-list"
    identifiers = {"email": "meta.email"}

    def write_snapshot(self, snapshot: Any) -> Any:
        raise AssertionError("never built")


class TodayList(FutureList):
    name = "today-list"


def test_an_incompatible_plugin_is_broken_and_the_others_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_AUTOLOAD, "1")
    called: list[str] = []
    future = declaring(">=2,<3", "future_plugin")
    future.dealersync_register_destinations = hookimpl(lambda: called.append("future") or [FutureList])  # type: ignore[attr-defined]
    today = declaring(">=1.0,<2", "today_plugin")
    today.dealersync_register_destinations = hookimpl(lambda: [TodayList])  # type: ignore[attr-defined]
    legacy = declaring(None, "legacy_plugin")
    registry = load_plugins([future, today, legacy])
    info = {p.name: p for p in registry.plugins}
    assert info["future_plugin"].status == "broken"
    assert info["future_plugin"].error is not None
    assert info["future_plugin"].error.startswith("supports plugin API >=2,<3, this dealersync provides 1.0")
    assert called == []  # never registered: its hooks are not called
    assert (info["today_plugin"].status, info["today_plugin"].api, info["today_plugin"].warnings) == ("ok", ">=1.0,<2", [])
    assert (info["legacy_plugin"].status, info["legacy_plugin"].api, info["legacy_plugin"].warnings) == ("ok", None, [UNDECLARED])
    assert registry.connector("today-list", "destination", "test").cls is TodayList
    with pytest.raises(PluginError, match="broken plugins: future_plugin"):
        registry.connector("future-list", "destination", "destinations.f.connector")


def test_bundled_plugins_declare_a_range_holding_the_version() -> None:
    declared = {p.name: (p.status, p.api, p.warnings) for p in load_plugins().plugins if p.name in BUNDLED}
    assert declared == {name: ("ok", ">=1.0,<2", []) for name in BUNDLED}


# ------------------------------------------------------------------------------------------ kit


def connector_in(module: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> type[SnapshotDestination]:
    """A connector class defined in ``module`` (as a vendor's, not installed)."""
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return type("VendorList", (FutureList,), {"name": "vendor-list", "__module__": module.__name__})


def test_the_kit_requires_a_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(pytest.fail.Exception, match="VendorList's plugin declares no DEALERSYNC_API: add DEALERSYNC_API"):
        check_declared_api(connector_in(declaring(None, "undeclared_vendor"), monkeypatch))


def test_the_kit_refuses_a_range_without_its_version(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(pytest.fail.Exception, match="VendorList's plugin supports plugin API >=2,<3, this dealersync provides 1.0"):
        check_declared_api(connector_in(declaring(">=2,<3", "future_vendor"), monkeypatch))


def test_the_kit_finds_the_declaration_above_the_connector_module(monkeypatch: pytest.MonkeyPatch) -> None:
    package = declaring(">=1.0,<2", "vendor_pkg")
    monkeypatch.setitem(sys.modules, "vendor_pkg", package)
    check_declared_api(connector_in(declaring(None, "vendor_pkg.connector"), monkeypatch))  # passes


def test_the_kit_accepts_an_installed_bundled_plugin() -> None:
    from dealersync_meta import MetaCustomAudiences

    check_declared_api(MetaCustomAudiences)  # passes: found through its entry point


# ------------------------------------------------------------------- through entry points, CLI

OBSERVING = '''
import os
from dealersync import SnapshotDestination, SnapshotResult, hookimpl

DEALERSYNC_API = ">=1.0,<2"


class OkList(SnapshotDestination):
    name = "ok-list"
    channel = "email"
    identifiers = {"email": "meta.email"}

    def write_snapshot(self, snapshot):
        return SnapshotResult(written=sum(len(batch) for batch in snapshot.iter_batches(100)), location="nowhere")


@hookimpl
def dealersync_register_destinations():
    return [OkList]


@hookimpl
def dealersync_sync_finished():
    with open(os.environ["OBSERVED"], "a") as fh:
        fh.write("delivered\\n")
'''

DECLARING = '''
from dealersync import SnapshotDestination, hookimpl

DEALERSYNC_API = {api!r}


class {cls}(SnapshotDestination):
    name = "{name}"
    identifiers = {{"email": "meta.email"}}

    def write_snapshot(self, snapshot):
        raise AssertionError("never used")


@hookimpl
def dealersync_register_destinations():
    return [{cls}]
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("api-dists")
    sources = [
        build_distribution(root / "src", "dealersync-observing", "dealersync_observing", "observing", OBSERVING),
        build_distribution(root / "src", "dealersync-future", "dealersync_future", "future",
                           DECLARING.format(api=">=2,<3", cls="FutureList", name="future-list")),
        build_distribution(root / "src", "dealersync-sloppy", "dealersync_sloppy", "sloppy",
                           DECLARING.format(api="latest", cls="SloppyList", name="sloppy-list")),
    ]
    install_offline(sources, root / "site")
    return root / "site"


@pytest.mark.slow
def test_entry_point_plugins_checked_at_load_and_the_compatible_one_observes(site: Path, tmp_path: Path) -> None:
    listing = run_dealersync(["plugins", "--json"], tmp_path, site)
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    assert data["plugin_api"] == PLUGIN_API_VERSION
    plugins = {p["name"]: p for p in data["plugins"]}
    assert (plugins["future"]["status"], plugins["future"]["api"], plugins["future"]["connectors"]) == ("broken", None, [])
    assert plugins["future"]["error"].startswith("supports plugin API >=2,<3, this dealersync provides 1.0")
    assert plugins["sloppy"]["status"] == "broken"
    assert plugins["sloppy"]["error"].startswith("DEALERSYNC_API = 'latest' is not a version range")
    assert (plugins["observing"]["status"], plugins["observing"]["api"], plugins["observing"]["warnings"]) == ("ok", ">=1.0,<2", [])
    assert {n: plugins[n]["status"] for n in BUNDLED} == {n: "ok" for n in BUNDLED}  # the others load

    table = run_dealersync(["plugins"], tmp_path, site, COLUMNS="250")
    assert "broken: supports plugin API >=2,<3" in table.stdout
    assert "plugin API 1.0" in table.stdout

    write_extract(tmp_path / "dms", {"customers": [{"customer_id": "C1", "email": "ann@example.com", "email_opt_in": True}]})
    (tmp_path / "connectors.toml").write_text(
        dealership(
            destination("ok", "ok-list"), destination("future", "future-list"), everyone_to("ok"),
            audience("later", "everyone", ["future"]),
        )
    )
    observed = tmp_path / "observed.txt"
    refused = run_dealersync(["sync"], tmp_path, site, OBSERVED=str(observed))
    assert refused.returncode == 2
    assert "destinations.future.connector: unknown destination connector 'future-list'" in refused.stderr
    assert "broken plugins: future, sloppy" in refused.stderr
    synced = run_dealersync(["sync", "--audience", "all"], tmp_path, site, OBSERVED=str(observed))
    assert synced.returncode == 0, synced.stderr + synced.stdout
    assert observed.read_text() == "delivered\n"  # a no-argument observer, found through its entry point
