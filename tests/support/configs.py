"""connectors.toml text the tests build their dealerships from.

``dealership(destination("meta", "meta-file"), everyone_to("meta"))`` is the usual one: the day
2026-11-23, the warehouse ``wh.duckdb`` beside the file, a ``dms-csv`` source reading ``dms/``,
one file destination, and an audience of every customer sent to it. Values are Python values
(``{"env": "TOKEN"}`` is an inline table), written as TOML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AS_OF = "2026-11-23"

#: The rule every customer passes.
EVERYONE_RULE = {"fact": "customer_id", "op": "is_null", "value": False}


def dealership(*sections: str, sources: tuple[str, ...] = ("dms",), as_of: str | None = AS_OF) -> str:
    """as_of, the warehouse ``wh.duckdb``, a ``dms-csv`` source per name in ``sources`` (reading
    the folder of that name), then ``sections``."""
    head = (f"as_of = {toml_value(as_of)}\n" if as_of else "") + '[warehouse]\npath = "wh.duckdb"\n'
    return head + "".join(dms_source(name) for name in sources) + "".join(sections)


def table(header: str, **keys: Any) -> str:
    """``[header]`` and its ``keys``."""
    return f"[{header}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in keys.items())


def dms_source(name: str = "dms", **keys: Any) -> str:
    return table(f"sources.{name}", connector="dms-csv", dir=name, **keys)


def destination(name: str, connector: str, **keys: Any) -> str:
    return table(f"destinations.{name}", connector=connector, **keys)


def audience(name: str, segment: str, destinations: list[str], **keys: Any) -> str:
    return table(f"audiences.{name}", segment=segment, destinations=destinations, **keys)


def everyone_to(*destinations: str, name: str = "all", **keys: Any) -> str:
    """The segment of every customer and audience ``name`` sending it to ``destinations``."""
    return EVERYONE + audience(name, "everyone", list(destinations), **keys)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {type(value).__name__}")


#: The segment of every customer.
EVERYONE = table("segments.everyone", rule=EVERYONE_RULE)
