"""How the sample extract is written: in the canonical generic layout, or as a dealer's DMS does.

The generator decides the same facts either way (who bought what, when, for how much); a
:class:`Dialect` only decides the words and formats the files carry:

- :data:`PLAIN`: the built-in op-code catalog and canonical values (``performed``, ``customer``,
  ``1234.56``): the benchmark's extract, comparable across sessions;
- :data:`DEALER`: the fictional dealer's service menu, the DMS's letters for line statuses, pay
  types, deal types and new/used, the scheduler's words for appointment statuses, repair-order
  totals as a report writer prints money (``$1,234.56``), and last names typed with a
  typographic apostrophe now and then (``O’Brien``, a Windows-1252 byte when the customers file
  is written in that encoding).

Every spelling is one the loader's built-in vocabularies read (:mod:`dealersync.vocabularies`,
which says where each comes from): pay types ``C``/``W``/``I`` (customer, warranty, internal, the
pay types DealerTeam's standard op codes list:
https://help.dealerteam.com/Service_Department/Service_Repair_Orders/02_Standard_Operation_Codes),
line statuses ``C`` (completed), ``D`` (declined) and ``R`` (recommended), deal types
``C``/``F``/``L``, ``N``/``U`` for new and used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dealersync.sample.service_menu import DEALER_MENU, PLAIN_MENU, MenuLine


@dataclass(frozen=True)
class Dialect:
    """The words and formats of one way of writing the extract."""

    name: str
    menu: tuple[MenuLine, ...]
    #: (table, column) -> {canonical value -> as written}; a column not named is canonical.
    values: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    #: repair_orders.total written as money text: ``$1,234.56``.
    money_text: bool = False
    #: Share of people whose apostrophes are typed as ’ (U+2019).
    curly_apostrophes: float = 0.0

    def words(self, table: str, column: str) -> Mapping[str, str]:
        """Canonical value -> as written, for one enumerated column (empty: canonical)."""
        return self.values.get((table, column), {})


PLAIN = Dialect("plain", PLAIN_MENU)

DEALER = Dialect(
    "dealer",
    DEALER_MENU,
    values={
        ("ro_lines", "status"): {"performed": "C", "declined": "D", "recommended": "R"},
        ("repair_orders", "pay_type"): {"customer": "C", "warranty": "W", "internal": "I"},
        ("deals", "deal_type"): {"cash": "C", "finance": "F", "lease": "L"},
        ("deals", "new_used"): {"new": "N", "used": "U"},
        ("appointments", "status"): {
            "scheduled": "Scheduled",
            "confirmed": "Confirmed",
            "completed": "Shown",
            "no_show": "No Show",
            "cancelled": "Canceled",
        },
    },
    money_text=True,
    curly_apostrophes=0.5,
)

DIALECTS: dict[str, Dialect] = {d.name: d for d in (PLAIN, DEALER)}


def written(expression: str, words: Mapping[str, str]) -> str:
    """SQL for ``expression`` (a canonical value) as the dialect writes it."""
    if not words:
        return expression
    arms = " ".join(f"WHEN '{canonical}' THEN '{word}'" for canonical, word in words.items())
    return f"CASE {expression} {arms} END"
