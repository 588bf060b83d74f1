"""dealersync: dealer data to segments to ad and email audiences.

Everything a plugin needs is importable from here; bundled plugins import nothing else from the
core. Test helpers for plugin authors live in :mod:`dealersync.testing`.
"""

import sys as _sys

if _sys.argv[:1] == ["-m"] or _sys.argv[0].replace("\\", "/").rsplit("/", 1)[-1] in ("dealersync", "dealersync.exe"):
    # the command line is starting: Ctrl-C while its modules load ends quietly with 130, as it
    # does during a run (dealersync.interrupts); importing the library elsewhere changes nothing
    import signal as _signal

    _signal.signal(_signal.SIGINT, lambda _signum, _frame: _sys.exit(130))

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
    DealersyncError,
    FatalError,
    PluginError,
    RejectedRecords,
    TransientError,
)
from dealersync.facts import Fact
from dealersync.segments import SegmentTemplate
from dealersync.delivery.result import DeliveryResult
from dealersync.hookspecs import hookimpl
from dealersync.http import HttpSession, NormalAnswer
from dealersync.identity import MemberStats, Profile, get_profile, register_profile
from dealersync.model import TABLES, Column, Table
from dealersync.plugin_api import PLUGIN_API_VERSION
from dealersync.rate_limits import ManualClock, RateLimit, RateLimiters
from dealersync.vocabularies import value_map_problems

__version__ = "0.1.0"

__all__ = [
    "AudienceDestination",
    "AudienceSnapshot",
    "AuthError",
    "BatchInfo",
    "BatchLimits",
    "Capability",
    "Channel",
    "Column",
    "ConfigError",
    "Connector",
    "ConnectorConfig",
    "ConnectorContext",
    "DealersyncError",
    "DeliveryResult",
    "Destination",
    "ExtractFile",
    "Fact",
    "FatalError",
    "HttpSession",
    "LookalikeCapable",
    "Located",
    "ManualClock",
    "MemberOutcome",
    "NormalAnswer",
    "MemberStats",
    "PLUGIN_API_VERSION",
    "Profile",
    "PluginError",
    "RateLimit",
    "RateLimiters",
    "RecordBatch",
    "RecordItem",
    "RejectedRecords",
    "ReadBack",
    "RemoteAudience",
    "RequestStatus",
    "SegmentTemplate",
    "SnapshotDestination",
    "SnapshotResult",
    "Source",
    "TABLES",
    "Table",
    "TransientError",
    "Unparsable",
    "__version__",
    "get_profile",
    "hookimpl",
    "register_profile",
    "value_map_problems",
]
