"""Optional capabilities are declared interfaces (connectors.py), never found by a method's name."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dealersync import AudienceDestination, LookalikeCapable, RemoteAudience, hookimpl
from dealersync.cli import audiences_cmd, cli
from dealersync.connectors import capabilities_of
from dealersync.plugins import load_plugins
from dealersync_files import MetaFile
from dealersync_meta import MetaCustomAudiences

from tests.support.configs import dealership, destination, everyone_to


class Listless(AudienceDestination):
    """An audience destination with nothing optional."""

    name = "listless"
    identifiers = {"email": "meta.email"}

    def ensure_audience(self, name: str, description: str = "") -> RemoteAudience:
        return RemoteAudience("L1", name)

    def add(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: Any = None) -> list[Any]:
        return []

    def remove(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: Any = None) -> list[Any]:
        return []


class LookalikeByName(Listless):
    """Has a method called create_lookalike but does not declare the capability."""

    name = "lookalike-by-name"

    def create_lookalike(self, audience: RemoteAudience, *, country: str, ratio: float, name: str | None = None) -> RemoteAudience:
        raise AssertionError("an undeclared capability is never used")


class Lookalikes(Listless, LookalikeCapable):
    name = "lookalikes"

    def create_lookalike(self, audience: RemoteAudience, *, country: str, ratio: float, name: str | None = None) -> RemoteAudience:
        return RemoteAudience("LAL1", name or f"{audience.name} lookalike {country}")


def test_capabilities_are_the_declared_interfaces() -> None:
    assert capabilities_of(MetaCustomAudiences) == ["lookalike", "replace"]
    assert capabilities_of(MetaFile) == []
    assert capabilities_of(LookalikeByName) == []  # a method of that name declares nothing
    assert capabilities_of(Lookalikes) == ["lookalike"]


def test_a_declared_capability_without_its_method_cannot_be_built() -> None:
    class Forgetful(Listless, LookalikeCapable):
        name = "forgetful"

    with pytest.raises(TypeError, match="create_lookalike"):
        Forgetful(Forgetful.Config(), None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("connector", "created"), [("lookalike-by-name", False), ("lookalikes", True)])
def test_lookalike_command_uses_only_declared_capabilities(
    connector: str, created: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = types.ModuleType("capability_plugin")
    plugin.dealersync_register_destinations = hookimpl(lambda: [LookalikeByName, Lookalikes])  # type: ignore[attr-defined]
    monkeypatch.setattr(audiences_cmd, "load_plugins", lambda: load_plugins([plugin]))
    config = tmp_path / "connectors.toml"
    config.write_text(dealership(destination("ads", connector), everyone_to("ads")))
    (tmp_path / "dms").mkdir()
    result = CliRunner().invoke(cli, ["audiences", "lookalike", "all", "--country", "US", "--config", str(config)])
    if created:  # declared: asked, and refused only because the audience was never synced
        assert "audiences.all: not synced to ads yet" in result.output
    else:
        assert "audiences.all: none of its destinations (ads) can create lookalikes" in result.output
    assert result.exit_code == 2
