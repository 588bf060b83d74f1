"""The hooks as typed calls: the one place core calls plugins (in the style of tox's plugin manager).

Core never calls a hook implementation by itself: :class:`Hooks` goes through pluggy's hook
callers, which pass an implementation only the arguments it names (so a hook can gain arguments
without breaking plugins), and checks what each registration hook returns, so the return types
below hold whatever a plugin sends back.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from dealersync.connectors import Destination, Source
from dealersync.errors import PluginError
from dealersync.facts.registry import Fact
from dealersync.segments.templates import SegmentTemplate

if TYPE_CHECKING:
    from dealersync.sync import DeliveryResult

log = logging.getLogger("dealersync")

ItemT = TypeVar("ItemT")


class Hooks:
    """The dealersync hooks of one plugin manager, as methods with precise types.

    ``Hooks(manager)`` calls every registered plugin; :meth:`of_plugin` returns the same methods
    restricted to one plugin (pluggy's ``subset_hook_caller``), which is how plugins are loaded:
    a registration hook that raises or returns the wrong thing must mark only its own plugin
    broken, and a single call over all plugins cannot say whose implementation failed.
    """

    def __init__(self, manager: pluggy.PluginManager, *, excluded: Iterable[object] = ()) -> None:
        self._manager = manager
        self._excluded = tuple(excluded)

    def of_plugin(self, name: str) -> Hooks:
        """These hooks, calling only the plugin registered as ``name``."""
        plugin = self._manager.get_plugin(name)
        if plugin is None:
            raise PluginError(f"no plugin registered as {name!r}")
        return Hooks(self._manager, excluded=[p for p in self._manager.get_plugins() if p is not plugin])

    # --------------------------------------------------------------------- registration
    def sources(self) -> list[type[Source]]:
        """``dealersync_register_sources``: the source classes, each checked to be a ``Source``."""
        return self._classes("dealersync_register_sources", Source)

    def destinations(self) -> list[type[Destination]]:
        """``dealersync_register_destinations``: the destination classes."""
        return self._classes("dealersync_register_destinations", Destination)

    def facts(self) -> list[Fact]:
        """``dealersync_register_features``: extra facts."""
        return self._instances("dealersync_register_features", Fact)

    def segment_templates(self) -> list[SegmentTemplate]:
        """``dealersync_register_segment_templates``: segment templates."""
        return self._instances("dealersync_register_segment_templates", SegmentTemplate)

    # ------------------------------------------------------------------------ observers
    def sync_finished(self, result: DeliveryResult) -> None:
        """``dealersync_sync_finished``: tell every observer, one implementation at a time.

        pluggy's own call stops at the first exception, so one failing observer would silence the
        ones after it; here each is called on its own, with only the arguments it names (as pluggy
        would), and a failure is logged with the plugin, the exception type and where it was
        raised (never its message, which may hold a customer's data) and the others go on.
        """
        self._observe("dealersync_sync_finished", result=result)

    def _observe(self, hook: str, **kwargs: Any) -> None:
        for impl in self._caller(hook).get_hookimpls():
            try:
                impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception as exc:  # an observer cannot fail what already happened
                log.warning(
                    "%s in plugin %s failed: %s%s (ignored)", hook, impl.plugin_name, type(exc).__name__, _raised_at(exc)
                )

    # -------------------------------------------------------------------------- helpers
    def _caller(self, hook: str) -> pluggy.HookCaller:
        return self._manager.subset_hook_caller(hook, self._excluded)

    def _returned(self, hook: str) -> list[object]:
        items: list[object] = []
        for batch in self._caller(hook)():
            if batch is None:
                continue
            if not isinstance(batch, list | tuple):
                raise PluginError(f"{hook} returned {type(batch).__name__}, expected a list")
            items.extend(batch)
        return items

    def _classes(self, hook: str, base: type) -> list[Any]:
        """Every class ``hook`` returned, each checked to subclass ``base`` (an abstract class, so
        typed ``type``; the public methods above state the precise type this check ensures)."""
        classes = self._returned(hook)
        for item in classes:
            if not (isinstance(item, type) and issubclass(item, base)):
                raise PluginError(f"{hook} returned {item!r}, which is not a dealersync.{base.__name__} subclass")
        return classes

    def _instances(self, hook: str, kind: type[ItemT]) -> list[ItemT]:
        instances: list[ItemT] = []
        for item in self._returned(hook):
            if not isinstance(item, kind):
                raise PluginError(f"{hook} returned a {type(item).__name__}, expected dealersync.{kind.__name__}")
            instances.append(item)
        return instances


def _raised_at(exc: BaseException) -> str:
    """`` at module.py:12`` for the innermost frame of ``exc`` (no values: a location only)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
