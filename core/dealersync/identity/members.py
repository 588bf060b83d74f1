"""Member building: the audience's customers -> normalized, hashed, deduplicated members. All SQL.

A member is a person as the platform sees it: customers sharing any match-key value (the same
normalized email or phone under the destination's profiles) are one member, transitively
(connected components, by min-label propagation over the customers that share a value).

The work runs through an identity index (:mod:`dealersync.identity.index`): a sync keeps one
per profile set in the warehouse and builds every audience's members from it by joins;
:func:`build_members` on its own indexes just the audience's customers, in temp tables.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping

import duckdb

from dealersync.errors import ConfigError
from dealersync.identity.index import (
    IdentityIndex,
    MemberStats,
    _drop,
    _fatal,
    resolve,
)
from dealersync.identity.profiles import Profile, get_profile, quote_ident

__all__ = ["MemberStats", "build_members"]

_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")
_TARGET = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*){0,2}$")
_RESERVED = {"member_key", "customer_ids"}


def build_members(
    con: duckdb.DuckDBPyConnection,
    customer_ids_sql: str,
    identifiers: Mapping[str, str],
    *,
    target: str,
    default_country: str = "US",
    params: list | None = None,
    as_of: dt.date | None = None,
) -> MemberStats:
    """Create (or replace) table ``target``: one row per member, ordered by ``member_key``.

    ``customer_ids_sql`` is a SELECT returning a ``customer_id`` column (``?`` placeholders bound
    from ``params``); the customers are read from the warehouse table ``customers``.
    ``identifiers`` maps output field -> profile name, e.g. ``{"email": "meta.email"}``.

    Columns: ``member_key VARCHAR`` (SHA-256 hex of the member's smallest match-key token,
    ``"<profile>:<normalized value>"``: stable while the member's identifiers do not change),
    ``customer_ids VARCHAR[]`` (sorted), then one column per field in ``identifiers`` order
    (SHA-256 lowercase hex for hashed profiles, plain otherwise). Each field takes the value of
    the member's smallest customer id that has a valid one.

    This call normalizes and hashes the audience's customers itself (a temp index, dropped at
    the end); a sync builds many audiences from a persistent index instead
    (:class:`dealersync.identity.IdentityIndexes`), with the same result.

    Error messages and logs never carry a raw value.
    """
    _, profs = check_identifiers(identifiers)
    check_target(target)
    spec = resolve(con, [p.name for p in profs], default_country=default_country, as_of=as_of)
    tmp = f"_dsid_{uuid.uuid4().hex[:10]}"
    t_aud = f"{tmp}_aud"
    index = IdentityIndex(con, spec, table=f"{tmp}_ix", temp=True)
    created: list[str] = []
    try:
        try:
            con.execute(
                f"CREATE TEMP TABLE {t_aud} AS SELECT DISTINCT customer_id FROM ({customer_ids_sql})",
                params or [],
            )
        except duckdb.Error as e:
            _fatal(e, f"building members into {target}")
        created.append(t_aud)
        audience = f"SELECT customer_id FROM {t_aud}"
        created += [index.table, index.shared]
        index.build_for(audience)
        return index.build_members(audience, identifiers, target=target)
    finally:
        _drop(con, created)


def check_identifiers(identifiers: Mapping[str, str]) -> tuple[list[str], list[Profile]]:
    if not identifiers:
        raise ConfigError("build_members: no identifiers given (field -> identity profile)")
    fields, profs = [], []
    for f, name in identifiers.items():
        if not isinstance(f, str) or not _FIELD.match(f) or f in _RESERVED:
            raise ConfigError(
                f"identifier field {f!r} must be lowercase letters, digits and _ and not one of"
                f" {sorted(_RESERVED)}"
            )
        fields.append(f)
        profs.append(get_profile(name))
    if not any(p.match_key for p in profs):
        raise ConfigError(
            "identifiers "
            + ", ".join(f"{f}={p.name}" for f, p in zip(fields, profs, strict=True))
            + " include no match key (an email or phone profile): no member could be built"
        )
    return fields, profs


def check_target(target: str) -> None:
    if not _TARGET.match(target):
        raise ConfigError(
            f"build_members: target {target!r} is not a table name (letters, digits, _ and -)"
        )


def quote_target(target: str) -> str:
    return ".".join(quote_ident(part) for part in target.split("."))
