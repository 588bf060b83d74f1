"""dealersync: dealer data to segments to ad and email audiences.

Everything a plugin needs is importable from here; bundled plugins import nothing else from the
core. Test helpers for plugin authors live in :mod:`dealersync.testing`.

The names load on first use (PEP 562): importing the package itself loads none of the engine, and
the command line sets up its Ctrl-C handling before it does (:mod:`dealersync.__main__`). A new
public name goes in :data:`_PUBLIC` and in the type checkers' imports below (a test keeps them equal).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dealersync.audiences import AudienceSnapshot
    from dealersync.connectors import (
        AudienceDestination,
        BatchInfo,
        BatchLimits,
        Capability,
        Channel,
        Connector,
        ConnectorConfig,
        ConnectorContext,
        Destination,
        ExtractFile,
        LookalikeCapable,
        Located,
        MemberOutcome,
        RecordBatch,
        RecordItem,
        ReadBack,
        RemoteAudience,
        RequestStatus,
        SnapshotDestination,
        SnapshotResult,
        Source,
        Unparsable,
    )
    from dealersync.errors import (
        AuthError,
        ConfigError,
        ConfigErrors,
        DealersyncError,
        FatalError,
        LayoutError,
        PluginError,
        RejectedRecords,
        TransientError,
    )
    from dealersync.facts import Fact
    from dealersync.segments import SegmentTemplate
    from dealersync.delivery.result import DeliveryResult
    from dealersync.hookspecs import hookimpl
    from dealersync.http import (
        HttpSession,
        NormalAnswer,
    )
    from dealersync.identity import (
        MemberStats,
        Profile,
        get_profile,
        register_profile,
    )
    from dealersync.loading.layout import check_layout
    from dealersync.model import (
        TABLES,
        Column,
        Table,
    )
    from dealersync.plugin_api import PLUGIN_API_VERSION
    from dealersync.rate_limits import (
        ManualClock,
        RateLimit,
        RateLimiters,
    )
    from dealersync.vocabularies import value_map_problems

__version__ = "0.1.0"

#: The public names, by the module that defines them.
_PUBLIC: dict[str, tuple[str, ...]] = {
    "dealersync.audiences": ("AudienceSnapshot",),
    "dealersync.connectors": (
        "AudienceDestination",
        "BatchInfo",
        "BatchLimits",
        "Capability",
        "Channel",
        "Connector",
        "ConnectorConfig",
        "ConnectorContext",
        "Destination",
        "ExtractFile",
        "LookalikeCapable",
        "Located",
        "MemberOutcome",
        "RecordBatch",
        "RecordItem",
        "ReadBack",
        "RemoteAudience",
        "RequestStatus",
        "SnapshotDestination",
        "SnapshotResult",
        "Source",
        "Unparsable",
    ),
    "dealersync.errors": (
        "AuthError",
        "ConfigError",
        "ConfigErrors",
        "DealersyncError",
        "FatalError",
        "LayoutError",
        "PluginError",
        "RejectedRecords",
        "TransientError",
    ),
    "dealersync.facts": ("Fact",),
    "dealersync.segments": ("SegmentTemplate",),
    "dealersync.delivery.result": ("DeliveryResult",),
    "dealersync.hookspecs": ("hookimpl",),
    "dealersync.http": ("HttpSession", "NormalAnswer"),
    "dealersync.identity": ("MemberStats", "Profile", "get_profile", "register_profile"),
    "dealersync.loading.layout": ("check_layout",),
    "dealersync.model": ("TABLES", "Column", "Table"),
    "dealersync.plugin_api": ("PLUGIN_API_VERSION",),
    "dealersync.rate_limits": ("ManualClock", "RateLimit", "RateLimiters"),
    "dealersync.vocabularies": ("value_map_problems",),
}
_MODULE_OF = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = sorted([*_MODULE_OF, "__version__"])


def __getattr__(name: str) -> object:
    """A public name, imported from its module the first time it is used."""
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'dealersync' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
