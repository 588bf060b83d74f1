"""Plugin discovery: a plugin manager per call, entry points loaded one by one.

There is no global plugin manager. :func:`load_plugins` builds one, loads every entry point of the
``dealersync`` group separately (a plugin that fails to import is recorded as broken and the rest
load), and collects the connectors each plugin registers into a :class:`PluginRegistry`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from dealersync import hookspecs
from dealersync.connectors import CONNECTOR_NAME, Connector, Destination, Source
from dealersync.errors import PluginError

ENTRY_POINT_GROUP = "dealersync"
DISABLE_AUTOLOAD = "DEALERSYNC_DISABLE_PLUGIN_AUTOLOAD"
DISABLE_PLUGINS = "DEALERSYNC_DISABLE_PLUGINS"


@dataclass(frozen=True)
class ConnectorInfo:
    name: str
    kind: str  # "source" or "destination"
    cls: type[Connector]
    plugin: str
    distribution: str


@dataclass
class PluginInfo:
    """One plugin as discovered: where it came from, what it provides, whether it works."""

    name: str
    distribution: str
    version: str
    entry_point: str
    status: str = "ok"  # "ok" or "broken"
    error: str | None = None
    connectors: list[ConnectorInfo] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.entry_point,
            "status": self.status,
            "error": self.error,
            "connectors": [{"name": c.name, "kind": c.kind} for c in self.connectors],
        }


@dataclass
class PluginRegistry:
    """Everything the loaded plugins provide. Connector-name clashes are kept, not resolved."""

    manager: pluggy.PluginManager
    plugins: list[PluginInfo]
    _connectors: dict[str, list[ConnectorInfo]] = field(default_factory=dict)

    def connector(self, name: str, kind: str, where: str) -> ConnectorInfo:
        """The connector called ``name``; ``where`` names the config key for error messages."""
        found = [c for c in self._connectors.get(name, []) if c.kind == kind]
        if len(found) > 1:
            dists = " and ".join(sorted(f"{c.distribution} (plugin {c.plugin})" for c in found))
            raise PluginError(
                f"{where}: connector '{name}' is provided by both {dists}; "
                "uninstall one, or disable one with DEALERSYNC_DISABLE_PLUGINS"
            )
        if not found:
            known = sorted(n for n, cs in self._connectors.items() if any(c.kind == kind for c in cs))
            broken = [p for p in self.plugins if p.status == "broken"]
            hint = f" (broken plugins: {', '.join(p.name for p in broken)}; see `dealersync plugins`)" if broken else ""
            raise PluginError(
                f"{where}: unknown {kind} connector '{name}'; installed {kind}s: "
                f"{', '.join(known) or 'none'}{hint}"
            )
        return found[0]

    def clashes(self) -> dict[str, list[ConnectorInfo]]:
        return {n: cs for n, cs in self._connectors.items() if len(cs) > 1}

    def connectors(self, kind: str | None = None) -> list[ConnectorInfo]:
        return [c for cs in self._connectors.values() for c in cs if kind in (None, c.kind)]

    def hook_results(self, hook: str) -> list[Any]:
        """Flattened results of a registration hook, e.g. ``dealersync_register_features``."""
        results = getattr(self.manager.hook, hook)()
        return [item for batch in results for item in (batch or [])]


def _disabled_names() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_PLUGINS, "").split(",") if n.strip()}


def _dist_of(ep: EntryPoint) -> tuple[str, str]:
    dist = ep.dist
    return (dist.name, dist.version) if dist is not None else ("unknown", "unknown")


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def load_plugins(extra_modules: Iterable[ModuleType | str] = ()) -> PluginRegistry:
    """Build a plugin manager, load installed plugins and ``extra_modules`` (tests, embedding).

    Honours ``DEALERSYNC_DISABLE_PLUGIN_AUTOLOAD=1`` (no entry points are loaded) and
    ``DEALERSYNC_DISABLE_PLUGINS=a,b`` (those plugin names are skipped).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    disabled = _disabled_names()
    if os.environ.get(DISABLE_AUTOLOAD, "").strip() not in ("1", "true", "yes"):
        eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value))
        for ep in eps:
            if ep.name in disabled:
                continue
            dist, version = _dist_of(ep)
            info = PluginInfo(ep.name, dist, version, f"{ep.name} = {ep.value}")
            infos.append(info)
            try:
                module = ep.load()
                pm.register(module, name=ep.name)
            except Exception as exc:  # a broken plugin must not stop the others
                info.status, info.error = "broken", _error_text(exc)
    for extra in extra_modules:
        module = importlib.import_module(extra) if isinstance(extra, str) else extra
        name = module.__name__
        pm.register(module, name=name)
        infos.append(PluginInfo(name, "(in-process)", "", name))
    registry = PluginRegistry(pm, infos)
    for info in infos:
        if info.status == "ok":
            _collect_connectors(registry, info)
    return registry


def _collect_connectors(registry: PluginRegistry, info: PluginInfo) -> None:
    """Call one plugin's registration hooks; a failure marks that plugin broken."""
    plugin = registry.manager.get_plugin(info.name)
    hooks = (("dealersync_register_sources", Source), ("dealersync_register_destinations", Destination))
    found: list[ConnectorInfo] = []
    try:
        for hook, base in hooks:
            impl = getattr(plugin, hook, None)
            for cls in (impl() or []) if impl else []:
                found.append(_validate_connector(cls, base))
    except Exception as exc:
        info.status, info.error = "broken", _error_text(exc)
        registry.manager.unregister(plugin)
        return
    for c in found:
        ci = ConnectorInfo(c.name, c.kind, c.cls, info.name, info.distribution)
        info.connectors.append(ci)
        registry._connectors.setdefault(c.name, []).append(ci)


def _validate_connector(cls: Any, base: type[Connector]) -> ConnectorInfo:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"{cls!r} is not a dealersync.{base.__name__} subclass")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not CONNECTOR_NAME.match(name):
        raise PluginError(f"{cls.__name__}.name must be lowercase words joined by '-', got {name!r}")
    return ConnectorInfo(name, base.kind, cls, "", "")
