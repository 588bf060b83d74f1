"""Rooftops: the stores of a dealer group, and ids that stay unique across them.

Each store runs a DMS of its own, and their numbers collide: customer "1001" at the north
store is not customer "1001" at the south store. A source names its store with
``rooftop = "north"`` on ``[sources.X]``. The rule that keeps ids apart:

* the **home rooftop** (``home_rooftop`` in ``connectors.toml``; default: the first rooftop a
  source names, in file order) and every source that names no rooftop keep their ids as the
  DMS writes them;
* every other rooftop's ids are qualified ``<rooftop>:<id>`` while loading (every id column of
  every table: customer, vehicle, deal, RO, appointment, lead and event ids, and the references
  to them), in the SQL that replaces the source's rows (:mod:`dealersync.loading.replace`).

So a single-store setup (no rooftop, or one) keeps its ids, and with them its suppressions by
customer id, its holdout draws and its sync state; adding a second store later leaves the first
store's ids as they were. A rooftop name is lower-case letters, digits, ``_`` and ``-`` (never
``:``), so a qualified id cannot be read two ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dealersync.config import ConnectorEntry, RooftopSettings, Settings
from dealersync.errors import ConfigError
from dealersync.facts.registry import Fact
from dealersync.store import quote_literal

#: The id columns of the canonical tables: keys and the references to them.
ID_COLUMNS: frozenset[str] = frozenset(
    {"customer_id", "co_buyer_customer_id", "vehicle_id", "deal_id", "ro_id", "appointment_id", "lead_id", "event_id"}
)


@dataclass(frozen=True)
class Rooftops:
    """The configured rooftops: which source belongs to which store, and whose ids are qualified."""

    by_source: Mapping[str, str | None]
    home: str | None
    #: rooftops whose opt-outs keep only their own record out (``[rooftops.X] opt_outs = "rooftop"``)
    local_opt_outs: frozenset[str] = frozenset()

    @classmethod
    def configure(
        cls,
        sources: Mapping[str, ConnectorEntry],
        home_rooftop: str | None = None,
        settings: Mapping[str, RooftopSettings] | None = None,
    ) -> Rooftops:
        by_source = {name: entry.rooftop for name, entry in sources.items()}
        named = [r for r in by_source.values() if r is not None]
        if home_rooftop is not None and named and home_rooftop not in named:
            raise ConfigError(
                f"home_rooftop: found {home_rooftop!r}, expected one of the rooftops the sources name"
                f" ({', '.join(sorted(set(named)))})"
            )
        home = home_rooftop or (named[0] if named else None)
        for name in settings or {}:
            if name not in named and name != home:
                raise ConfigError(
                    f"rooftops.{name}: not a rooftop any [sources.X] names (expected one of:"
                    f" {', '.join(sorted(set(named))) or 'none configured'})"
                )
        local = frozenset(n for n, r in (settings or {}).items() if r.opt_outs == "rooftop")
        return cls(by_source, home, local)

    @classmethod
    def of(cls, settings: Settings) -> Rooftops:
        """The rooftops a loaded ``connectors.toml`` configures."""
        return cls.configure(settings.sources, settings.home_rooftop, settings.rooftops)

    @property
    def qualified_sources(self) -> list[str]:
        """The sources whose ids are rooftop-qualified (not the home rooftop's)."""
        return [s for s in self.by_source if self.id_prefix(s)]

    @property
    def rooftop_only_opt_out_sources(self) -> list[str]:
        """The sources whose opt-outs apply to their own record only."""
        return [s for s in self.by_source if self.of_source(s) in self.local_opt_outs]

    @property
    def names(self) -> list[str]:
        """Every rooftop, the home one included, sorted."""
        return sorted({r for r in self.by_source.values() if r is not None} | ({self.home} if self.home else set()))

    @property
    def several(self) -> bool:
        return len(self.names) > 1

    def of_source(self, source: str) -> str | None:
        """The source's rooftop (a source that names none belongs to the home rooftop)."""
        return self.by_source.get(source) or self.home

    def id_prefix(self, source: str) -> str:
        """What the loader puts before each id of ``source``: empty for the home rooftop."""
        rooftop = self.of_source(source)
        return "" if rooftop is None or rooftop == self.home else f"{rooftop}:"

    def qualify(self, customer_id: str, rooftop: str | None) -> str:
        """A customer id as the warehouse holds it, for the id ``customer_id`` of ``rooftop``
        (``suppress --customer-id ... --rooftop ...``). With several rooftops one must be named."""
        if rooftop is None:
            if self.several:
                raise ConfigError(
                    f"--rooftop: this group has several rooftops ({', '.join(self.names)}); name the"
                    " store whose customer id this is"
                )
            return customer_id
        if rooftop not in self.names:
            known = ", ".join(self.names) or "none configured"
            raise ConfigError(f"--rooftop: found {rooftop!r}, expected one of the configured rooftops ({known})")
        return customer_id if rooftop == self.home else f"{rooftop}:{customer_id}"

    def fact(self) -> Fact:
        """The ``rooftop`` fact: the store of the customer's record (NULL when none is configured)."""
        cases = " ".join(
            f"WHEN {quote_literal(source)} THEN {quote_literal(rooftop)}"
            for source, rooftop in sorted(self.by_source.items())
            if rooftop is not None and rooftop != self.home
        )
        home = quote_literal(self.home) if self.home else "CAST(NULL AS VARCHAR)"
        sql = f"CASE c._source {cases} ELSE {home} END" if cases else home
        return Fact(
            "rooftop",
            "text",
            sql,
            "The store (rooftop) whose DMS the customer's record comes from ([sources.X] rooftop);"
            " NULL when no rooftop is configured. A person known to two stores has a record at each.",
        )


def qualify_ids_sql(select: str, columns: list[str], prefix: str) -> str:
    """``select`` with each id column among ``columns`` prefixed by ``prefix`` (set-oriented:
    one ``SELECT * REPLACE`` over the staged rows). An empty prefix returns ``select`` as is."""
    ids = [c for c in columns if c in ID_COLUMNS]
    if not prefix or not ids:
        return select
    replaced = ", ".join(f'{quote_literal(prefix)} || "{c}" AS "{c}"' for c in ids)
    return f"SELECT * REPLACE ({replaced}) FROM ({select})"
