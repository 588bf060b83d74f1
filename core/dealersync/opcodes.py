"""The op-code catalog: which service category each repair-order op code belongs to.

DMSs use their own op codes; a dealer extends or overrides this default in ``connectors.toml``
(``[opcodes] "XYZ1" = "tires"``). Categories drive "purchased category" and "declined work"
segments.
"""

from __future__ import annotations

#: Default catalog: op code (upper case) -> service category.
DEFAULT_OPCODES: dict[str, str] = {
    "LOF": "oil",
    "LOFS": "oil",
    "OILCHG": "oil",
    "TIRE2": "tires",
    "TIRE4": "tires",
    "TIRES": "tires",
    "TROT": "rotation",
    "BRKF": "brakes",
    "BRKR": "brakes",
    "BRAKES": "brakes",
    "BATT": "battery",
    "BATTEST": "battery",
    "ALIGN": "alignment",
    "WIPER": "wipers",
    "CABFLT": "filters",
    "ENGFLT": "filters",
    "TRANS": "fluids",
    "COOL": "fluids",
    "MPI": "inspection",
    "RECALL": "recall",
    "DIAG": "diagnosis",
}

#: Every category the default catalog knows.
CATEGORIES: tuple[str, ...] = tuple(sorted(set(DEFAULT_OPCODES.values())))
