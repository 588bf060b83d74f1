"""The connectors a configuration names, each built when asked for from its ``connectors.toml`` entry.

Building one finds its plugin class, refuses inline secrets (unless ``allow_inline_secrets``),
resolves secret references (:mod:`dealersync.secrets`), validates the options against the
connector's ``Config`` (a bad one is a :class:`~dealersync.errors.ConfigError` naming the key) and
hands the instance its context.
"""

from __future__ import annotations

from collections.abc import Callable

from dealersync import secrets
from dealersync.config import Config, ConnectorEntry, validate
from dealersync.connectors import Connector, ConnectorContext, Destination, Source
from dealersync.plugins import PluginRegistry


class ConfiguredConnectors:
    """Builds the configured sources and destinations; ``context`` makes a connector's context
    from its instance name."""

    def __init__(self, config: Config, registry: PluginRegistry, context: Callable[[str], ConnectorContext]) -> None:
        self.config = config
        self.registry = registry
        self.context = context

    def source(self, name: str) -> Source:
        entry = self.config.settings.sources[name]
        return self._build("sources", name, entry, "source")  # type: ignore[return-value]

    def destination(self, name: str) -> Destination:
        entry = self.config.settings.destinations[name]
        return self._build("destinations", name, entry, "destination")  # type: ignore[return-value]

    def _build(self, table: str, name: str, entry: ConnectorEntry, kind: str) -> Connector:
        where = f"{table}.{name}"
        info = self.registry.connector(entry.connector, kind, f"{where}.connector")
        if not self.config.settings.allow_inline_secrets:
            secrets.refuse_inline(entry.options, info.cls.Config, where)
        options = {k: secrets.resolve(v, f"{where}.{k}") for k, v in entry.options.items()}
        cfg = validate(options, info.cls.Config, prefix=where)
        return info.cls(cfg, self.context(name))
