"""Plugin discovery: a plugin manager per call, entry points loaded one by one.

There is no global plugin manager. :func:`load_plugins` builds one, loads every entry point of the
``dealersync`` group separately (a plugin that fails to import, declares a plugin API range
without this version, or whose registration hooks fail is recorded as broken and the rest load),
and collects what each plugin registers (connectors, facts, segment templates) into a
:class:`PluginRegistry`, once, when plugins load.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from dealersync import hookspecs
from dealersync.connectors import CONNECTOR_NAME, Connector, capabilities_of
from dealersync.errors import PluginError
from dealersync.facts.registry import Fact
from dealersync.hooks import Hooks
from dealersync.plugin_api import UNDECLARED, check_plugin_api
from dealersync.segments.templates import SegmentTemplate

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

    @property
    def capabilities(self) -> list[str]:
        return capabilities_of(self.cls)


@dataclass
class PluginInfo:
    """One plugin as discovered: where it came from, what it provides, whether it works."""

    name: str
    distribution: str
    version: str
    entry_point: str
    status: str = "ok"  # "ok" or "broken"
    error: str | None = None
    #: the plugin API range it declares (``DEALERSYNC_API``), None when it declares none
    api: str | None = None
    warnings: list[str] = field(default_factory=list)
    connectors: list[ConnectorInfo] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    segment_templates: list[SegmentTemplate] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.entry_point,
            "status": self.status,
            "error": self.error,
            "api": self.api,
            "warnings": list(self.warnings),
            "connectors": [{"name": c.name, "kind": c.kind, "capabilities": c.capabilities} for c in self.connectors],
            "facts": [f.name for f in self.facts],
            "segment_templates": [t.name for t in self.segment_templates],
        }

    def _broken(self, exc: BaseException) -> None:
        self.status, self.error = "broken", _error_text(exc)
        self.connectors, self.facts, self.segment_templates = [], [], []


@dataclass
class PluginRegistry:
    """Everything the loaded plugins provide. Connector-name clashes are kept, not resolved."""

    manager: pluggy.PluginManager
    plugins: list[PluginInfo]
    _connectors: dict[str, list[ConnectorInfo]] = field(default_factory=dict)

    @property
    def hooks(self) -> Hooks:
        """The hooks of the plugins that loaded (broken ones are unregistered)."""
        return Hooks(self.manager)

    def loaded(self) -> list[PluginInfo]:
        """The plugins that work, in load order (entry points by name, then in-process ones)."""
        return [p for p in self.plugins if p.status == "ok"]

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


def _disabled_names() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_PLUGINS, "").split(",") if n.strip()}


def _dist_of(ep: EntryPoint) -> tuple[str, str]:
    dist = ep.dist
    return (dist.name, dist.version) if dist is not None else ("unknown", "unknown")


def _error_text(exc: BaseException) -> str:
    """One line for ``dealersync plugins``: pluggy's validation errors span several lines (the
    last names the offending argument), so the lines are joined rather than cut."""
    text = exc.message if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())[:300]


def load_plugins(extra_modules: Iterable[ModuleType | str] = ()) -> PluginRegistry:
    """Build a plugin manager, load installed plugins and ``extra_modules`` (tests, embedding).

    Each plugin is taken on its own: its module is imported, its declared plugin API range
    checked (:mod:`dealersync.plugin_api`), it is registered, and its registration hooks are
    called; a failure at any step marks that plugin broken, with the reason, and the others load.
    Honours ``DEALERSYNC_DISABLE_PLUGIN_AUTOLOAD=1`` (no entry points are loaded) and
    ``DEALERSYNC_DISABLE_PLUGINS=a,b`` (those plugin names are skipped).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = PluginRegistry(pm, [])
    disabled = _disabled_names()
    if os.environ.get(DISABLE_AUTOLOAD, "").strip() not in ("1", "true", "yes"):
        eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value))
        for ep in eps:
            if ep.name not in disabled:
                dist, version = _dist_of(ep)
                _load(registry, PluginInfo(ep.name, dist, version, f"{ep.name} = {ep.value}"), ep.load)
    for extra in extra_modules:
        if isinstance(extra, str):
            _load(registry, PluginInfo(extra, "(in-process)", "", extra), partial(importlib.import_module, extra))
        else:
            _load(registry, PluginInfo(extra.__name__, "(in-process)", "", extra.__name__), partial(_given, extra))
    return registry


def _given(module: ModuleType) -> ModuleType:
    return module


def _load(registry: PluginRegistry, info: PluginInfo, importer: Callable[[], Any]) -> None:
    """Import, check, register and collect one plugin; a failure marks only this one broken."""
    registry.plugins.append(info)
    try:
        module = importer()
        info.api = check_plugin_api(module)
        registry.manager.register(module, name=info.name)
    except Exception as exc:  # a broken plugin must not stop the others
        info._broken(exc)
        return
    if info.api is None:
        info.warnings.append(UNDECLARED)
    _collect(registry, info)


def _collect(registry: PluginRegistry, info: PluginInfo) -> None:
    """Call one plugin's registration hooks; a failure unregisters it and marks it broken."""
    hooks = registry.hooks.of_plugin(info.name)
    try:
        connectors = [_named(cls, info) for cls in [*hooks.sources(), *hooks.destinations()]]
        info.facts = hooks.facts()
        info.segment_templates = hooks.segment_templates()
    except Exception as exc:
        info._broken(exc)
        registry.manager.unregister(name=info.name)
        return
    info.connectors = connectors
    for c in connectors:
        registry._connectors.setdefault(c.name, []).append(c)


def _named(cls: type[Connector[Any]], info: PluginInfo) -> ConnectorInfo:
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not CONNECTOR_NAME.match(name):
        raise PluginError(f"{cls.__name__}.name must be lowercase words joined by '-', got {name!r}")
    return ConnectorInfo(name, cls.kind, cls, info.name, info.distribution)
