"""``dealersync new-plugin``: write a plugin distribution that installs and passes its own tests.

The files come from ``templates/`` (package data), filled in with :class:`string.Template`
(``$name``, ``$package``, ...): ``common/`` for every plugin, then the kind's own directory
(``source``, ``destination-audience`` or ``destination-snapshot``) for the connector and its
conformance test.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Literal

from dealersync.connectors import CONNECTOR_NAME
from dealersync.errors import ConfigError

Kind = Literal["source", "destination"]
Style = Literal["audience", "snapshot"]

_EXAMPLES = {
    "source": ("CRM API (mocked in the tests)", " (`customers` and the `/me` answer)"),
    "destination-audience": ("ads API (a fake of it in the tests)", " (the `FakeExampleAds` platform)"),
    "destination-snapshot": ("file layout", ""),
}


@dataclass(frozen=True)
class PluginNames:
    """Every name the scaffold derives from the connector name ``acme-crm``."""

    name: str  # acme-crm: connector name and entry-point name
    kind: Kind

    @property
    def dist(self) -> str:
        return f"dealersync-{self.name}"

    @property
    def package(self) -> str:
        return f"dealersync_{self.name.replace('-', '_')}"

    @property
    def title(self) -> str:
        return " ".join(w.capitalize() for w in self.name.split("-"))

    @property
    def cls(self) -> str:
        return self.title.replace(" ", "") + self.kind.capitalize()


def new_plugin(name: str, kind: Kind, directory: Path, style: Style = "audience") -> Path:
    """Write ``dealersync-NAME/`` under ``directory``; return its path."""
    if not CONNECTOR_NAME.match(name):
        raise ConfigError(f"plugin name {name!r}: use lowercase words joined by '-', e.g. 'acme-crm'")
    names = PluginNames(name, kind)
    root = directory / names.dist
    if root.exists():
        raise ConfigError(f"{root} already exists; choose another name or --dir")
    flavour = "source" if kind == "source" else f"destination-{style}"
    example, mock_hint = _EXAMPLES[flavour]
    values = {
        "name": name, "kind": kind, "dist": names.dist, "package": names.package, "cls": names.cls,
        "title": names.title, "example": example, "mock_hint": mock_hint,
    }
    files = {
        "pyproject.toml": "common/pyproject.toml.tmpl",
        "README.md": "common/README.md.tmpl",
        f"{names.package}/__init__.py": "common/__init__.py.tmpl",
        f"{names.package}/connector.py": f"{flavour}/connector.py.tmpl",
        f"tests/test_{names.package}.py": f"{flavour}/test.py.tmpl",
    }
    templates = resources.files(__package__).joinpath("templates")
    for target, template in files.items():
        text = Template(templates.joinpath(template).read_text(encoding="utf-8")).substitute(values)
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
