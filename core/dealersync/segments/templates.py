"""Segment templates: named, parameterized rules (``template = "service_status"``).

A :class:`SegmentTemplate` turns validated parameters into a :data:`~dealersync.segments.Rule`;
the rule then compiles through the same compiler as a hand-written one, so a template never holds
SQL and its values are bound like any other. The core's dealer library
(:mod:`dealersync.segments.library`) is registered first, then whatever plugins return from
``dealersync_register_segment_templates``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from dealersync.errors import ConfigError
from dealersync.facts.registry import suggest
from dealersync.segments.rules import Rule

if TYPE_CHECKING:
    from dealersync.plugins import PluginRegistry

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_RULE: TypeAdapter[Any] = TypeAdapter(Rule)


@dataclass(frozen=True)
class SegmentTemplate:
    """A named rule with parameters.

    ``params`` is a pydantic model (``extra="forbid"``) whose every field has a default and a
    ``Field(description=...)``; ``build`` turns a validated instance into a rule: a tree in its
    ``connectors.toml`` shape (``{"fact": "service_visits", "op": ">=", "value": 2}``) or rule
    nodes. It is validated and compiled like a hand-written rule.
    """

    name: str
    description: str
    params: type[BaseModel]
    build: Callable[[Any], Mapping[str, Any] | Any]

    def rule(self, params: Mapping[str, Any], where: str) -> Any:
        """The rule for ``params`` (raw, from config); ``where`` prefixes error messages."""
        from dealersync.config import (
            describe_error,  # config imports segments: import late
        )

        try:
            validated = self.params.model_validate(dict(params))
        except ValidationError as exc:
            raise ConfigError(describe_error(exc, f"{where}.params", self.params)) from None
        return _RULE.validate_python(self.build(validated))

    def defaults(self) -> dict[str, Any]:
        """Every parameter with its default value."""
        return self.params().model_dump()


class TemplateRegistry:
    """The segment templates known to this run, by name."""

    def __init__(self, templates: Iterable[SegmentTemplate] = (), *, origin: str = "dealersync"):
        self._templates: dict[str, SegmentTemplate] = {}
        self._origins: dict[str, str] = {}
        for t in templates:
            self.register(t, origin=origin)

    def register(self, template: SegmentTemplate, *, origin: str = "dealersync") -> None:
        """Add ``template``; ``origin`` (a plugin or distribution name) is used in errors."""
        if not isinstance(template, SegmentTemplate):
            raise ConfigError(
                f"{origin}: expected a dealersync.SegmentTemplate, found {type(template).__name__}"
            )
        where = f"segment template {template.name!r} ({origin})"
        if not isinstance(template.name, str) or not _NAME_RE.match(template.name):
            raise ConfigError(f"{where}: invalid name; expected lower-case letters, digits, '_'")
        if not (isinstance(template.params, type) and issubclass(template.params, BaseModel)):
            raise ConfigError(f"{where}: params must be a pydantic model class")
        for key, field in template.params.model_fields.items():
            if field.is_required() or not field.description:
                raise ConfigError(f"{where}: parameter {key!r} needs a default and a description")
        if template.name in self._templates:
            raise ConfigError(
                f"segment template {template.name!r} is defined twice: by"
                f" {self._origins[template.name]} and by {origin}"
            )
        self._templates[template.name] = template
        self._origins[template.name] = origin

    def get(self, name: str) -> SegmentTemplate:
        """The template ``name``; unknown names raise :class:`ConfigError` with suggestions."""
        try:
            return self._templates[name]
        except KeyError:
            raise ConfigError(
                f"unknown template {name!r} ({suggest(name, self._templates, 'templates')})"
            ) from None

    def origin(self, name: str) -> str:
        """Who registered ``name`` (``"dealersync"`` for the core library)."""
        self.get(name)
        return self._origins[name]

    def names(self) -> list[str]:
        return list(self._templates)

    def __iter__(self) -> Iterator[SegmentTemplate]:
        return iter(list(self._templates.values()))

    def __len__(self) -> int:
        return len(self._templates)

    def __contains__(self, name: object) -> bool:
        return name in self._templates


def core_templates() -> TemplateRegistry:
    """A registry holding the core's dealer library only."""
    from dealersync.segments.library import LIBRARY

    return TemplateRegistry(LIBRARY)


def template_registry(plugins: PluginRegistry | None = None) -> TemplateRegistry:
    """The core library, then every template the loaded plugins registered, in load order (the
    hook was called when the plugins loaded: :func:`dealersync.plugins.load_plugins`)."""
    registry = core_templates()
    for plugin in plugins.loaded() if plugins is not None else []:
        for template in plugin.segment_templates:
            registry.register(template, origin=plugin.name)
    return registry
