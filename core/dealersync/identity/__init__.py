"""Identity: normalize and hash identifiers per destination profile, then build members.

* :class:`Profile`, :data:`PROFILES`, :func:`register_profile`, :func:`get_profile`: how each
  destination field is normalized (SQL), hashed or not, and whether it is a match key;
* :func:`build_members`: the audience's customers -> one row per member (a person as the platform
  sees it), set-oriented in DuckDB;
* :class:`IdentityIndexes` / :class:`IdentityIndex`: every customer normalized and hashed once
  per profile set, kept in the warehouse and refreshed for the customers a load changed; a sync
  builds every audience's members from it;
* :class:`KeptMembers`: one (audience, destination)'s members kept in the warehouse and rebuilt
  only where a change can touch them.
"""

from dealersync.identity.index import IdentityIndex, IdentityIndexes, MemberStats
from dealersync.identity.kept import KeptMembers
from dealersync.identity.members import build_members
from dealersync.identity.phones import e164_digits
from dealersync.identity.profiles import (
    PROFILES,
    NormContext,
    Profile,
    country_sql,
    get_profile,
    letters_only,
    register_profile,
)

__all__ = [
    "PROFILES",
    "IdentityIndex",
    "IdentityIndexes",
    "KeptMembers",
    "MemberStats",
    "NormContext",
    "Profile",
    "build_members",
    "country_sql",
    "e164_digits",
    "get_profile",
    "letters_only",
    "register_profile",
]
