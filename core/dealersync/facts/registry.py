"""What a fact is, and the registry of the facts (and related-record sets) known to a run."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from dealersync.errors import ConfigError
from dealersync.model import DUCKDB_TYPES

if TYPE_CHECKING:
    from dealersync.plugins import PluginRegistry

FactType = Literal["text", "integer", "decimal", "date", "timestamp", "boolean", "text_list"]
Grain = Literal["customer", "vehicle"]

#: Every fact type and its DuckDB column type.
FACT_TYPES: dict[str, str] = {**DUCKDB_TYPES, "text_list": "VARCHAR[]"}

#: The table of customer-grain facts (one row per customer).
FACTS_TABLE = "customer_facts"
#: The table of vehicle-grain facts (one row per vehicle).
VEHICLE_FACTS_TABLE = "vehicle_facts"
#: Table per grain.
GRAIN_TABLES: dict[str, str] = {"customer": FACTS_TABLE, "vehicle": VEHICLE_FACTS_TABLE}

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Fact:
    """One column of ``customer_facts`` (``grain="customer"``) or ``vehicle_facts``.

    ``sql`` is an expression over the aliases documented in :mod:`dealersync.facts`
    (customer grain: ``c``, ``ro``, ``svc``, ``dl``, ``vh``, ``ev``, ``ld``, ``hh``; vehicle
    grain: ``v``; both: ``{as_of}``), or a correlated scalar subquery.
    """

    name: str
    type: FactType
    sql: str
    description: str
    grain: Grain = "customer"


@dataclass(frozen=True)
class Relation:
    """A set of records related to a customer, counted by a segment's ``count`` rule.

    The warehouse view (or table) ``table`` has one row per record, a ``customer_id`` column, the
    ``date_field`` that windows (``within_days``...) apply to, and ``fields`` (name -> type)
    that ``where`` may test. Records dated after ``as_of`` are not in it.
    """

    name: str
    table: str
    description: str
    fields: Mapping[str, FactType]
    date_field: str = "date"
    field_docs: Mapping[str, str] = field(default_factory=dict)


def closest(name: object, names: Iterable[str], n: int = 2) -> list[str]:
    """Up to ``n`` of ``names`` closest to ``name`` (difflib), best first."""
    return difflib.get_close_matches(str(name), list(names), n=n, cutoff=0.6)


def suggest(name: object, names: Iterable[str], what: str) -> str:
    """``closest: a, b`` or ``no close match among N <what>``, for error messages."""
    names = list(names)
    close = closest(name, names)
    if close:
        return "closest: " + ", ".join(close)
    return f"no close match among {len(names)} {what}"


class FactRegistry:
    """The facts known to this run: core defaults plus whatever plugins register.

    ``FactRegistry(default_facts())`` is the usual starting point; :meth:`register` adds one.
    Customer-grain and vehicle-grain facts share one namespace.
    """

    def __init__(self, facts: Iterable[Fact] = (), *, origin: str = "dealersync") -> None:
        self._facts: dict[str, Fact] = {}
        self._origins: dict[str, str] = {}
        for f in facts:
            self.register(f, origin=origin)

    @classmethod
    def default(cls) -> FactRegistry:
        """A registry holding :func:`~dealersync.facts.default_facts`."""
        from dealersync.facts.defaults import default_facts

        return cls(default_facts())

    def register(self, fact: Fact, *, origin: str = "dealersync") -> None:
        """Add ``fact``; ``origin`` (a distribution name) is used in error messages."""
        if not isinstance(fact, Fact):
            raise ConfigError(f"{origin}: expected a dealersync.Fact, found {type(fact).__name__}")
        where = f"fact {fact.name!r} ({origin})"
        if not isinstance(fact.name, str) or not _NAME_RE.match(fact.name):
            raise ConfigError(
                f"{where}: invalid name; expected lower-case letters, digits and '_',"
                " starting with a letter or '_'"
            )
        if fact.type not in FACT_TYPES:
            raise ConfigError(
                f"{where}: unknown type {fact.type!r}; expected one of {', '.join(FACT_TYPES)}"
            )
        if fact.grain not in GRAIN_TABLES:
            raise ConfigError(
                f"{where}: unknown grain {fact.grain!r}; expected one of {', '.join(GRAIN_TABLES)}"
            )
        if not isinstance(fact.sql, str) or not fact.sql.strip():
            raise ConfigError(f"{where}: empty sql")
        if fact.name in self._facts:
            other = self._facts[fact.name]
            raise ConfigError(
                f"fact {fact.name!r} is defined twice: by {self._origins[fact.name]}"
                f" ({other.description or other.sql}) and by {origin}"
                f" ({fact.description or fact.sql})"
            )
        self._facts[fact.name] = fact
        self._origins[fact.name] = origin

    def get(self, name: str, grain: Grain = "customer") -> Fact:
        """The ``grain`` fact called ``name``; unknown names raise :class:`ConfigError`."""
        fact = self._facts.get(name)
        if fact is None or fact.grain != grain:
            raise ConfigError(
                f"unknown fact {name!r} ({suggest(name, self.names(grain), 'facts')})"
            )
        return fact

    def origin(self, name: str) -> str:
        """Who registered ``name`` (``"dealersync"`` for the defaults)."""
        if name not in self._facts:
            raise ConfigError(f"unknown fact {name!r} ({self._suggest(name)})")
        return self._origins[name]

    def closest(self, name: str, n: int = 2) -> list[str]:
        """Up to ``n`` registered names closest to ``name`` (difflib), best first."""
        return closest(name, self._facts, n)

    def _suggest(self, name: str) -> str:
        return suggest(name, self._facts, "facts")

    def names(self, grain: Grain | None = None) -> list[str]:
        """Registered fact names (of one grain if given), in registration order."""
        return [n for n, f in self._facts.items() if grain in (None, f.grain)]

    def of_grain(self, grain: Grain) -> list[Fact]:
        """The facts of one grain, in registration order."""
        return [f for f in self._facts.values() if f.grain == grain]

    def relations(self) -> dict[str, Relation]:
        """Every related-record set a ``count`` rule can use, by name."""
        from dealersync.facts.relations import RELATIONS, vehicle_relation

        return {**RELATIONS, "vehicles": vehicle_relation(self.of_grain("vehicle"))}

    def relation(self, name: str) -> Relation:
        """The related-record set ``name``; unknown names raise :class:`ConfigError`."""
        known = self.relations()
        if name not in known:
            raise ConfigError(
                f"unknown related records {name!r} ({suggest(name, known, 'record sets')})"
            )
        return known[name]

    def __iter__(self) -> Iterator[Fact]:
        return iter(list(self._facts.values()))

    def __len__(self) -> int:
        return len(self._facts)

    def __contains__(self, name: object) -> bool:
        return name in self._facts


def fact_registry(plugins: PluginRegistry | None = None) -> FactRegistry:
    """The default facts, then every fact the loaded plugins registered (origin: the plugin), in
    load order; the hook was called when the plugins loaded (:func:`dealersync.plugins.load_plugins`)."""
    registry = FactRegistry.default()
    for plugin in plugins.loaded() if plugins is not None else []:
        for fact in plugin.facts:
            registry.register(fact, origin=plugin.name)
    return registry
