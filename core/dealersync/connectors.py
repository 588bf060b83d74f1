"""The connector contracts: what a source or a destination plugin implements.

A connector class declares a ``name`` (what dealers write as ``connector = "..."``), a nested
pydantic ``Config`` (subclass of :class:`ConnectorConfig`: unknown keys forbidden, every field
described, ``SecretStr`` for secrets) and implements one of the ABCs below. Core builds the
instance with the validated config and a :class:`ConnectorContext`; secrets arrive already
resolved from keyring or the environment, as ``SecretStr``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike, fspath
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from dealersync.audiences import AudienceSnapshot

Channel = Literal["ads", "email", "sms"]

CONNECTOR_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class ConnectorConfig(BaseModel):
    """Base of every connector's ``Config``: unknown keys are an error naming the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ConnectorContext:
    """What core tells a connector about the run it is part of."""

    instance: str  # the config table name, e.g. "store_dms" for [sources.store_dms]
    base_dir: Path  # directory of connectors.toml: relative paths resolve against it
    as_of: dt.date
    out_dir: Path  # where file destinations write
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("dealersync"))
    suppression_sink: Callable[..., int] | None = field(default=None, repr=False)

    def suppress(
        self,
        *,
        reason: str,
        email: str | None = None,
        phone: str | None = None,
        customer_id: str | None = None,
        scope: Literal["all", "ads", "email", "sms"] = "all",
    ) -> int:
        """Put a person on the suppression list (a platform reported an unsubscribe, bounce or
        complaint), for every channel (``scope="all"``) or one (``"ads"``, ``"email"``,
        ``"sms"``: a bounced address is an email matter, the person stays in the ads audiences).
        Stored hashed, with this connector's name as the source; from the next selection on, no
        audience of that scope contains them. Returns how many entries were new."""
        if self.suppression_sink is None:
            raise RuntimeError("this context has no suppression list (not built by a dealersync run)")
        return self.suppression_sink(
            reason=reason, source=self.instance, email=email, phone=phone, customer_id=customer_id, scope=scope
        )

    def resolve(self, path: str | Path) -> Path:
        """A config path made absolute against the config file's directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


#: A connector's ``Config`` class, the type parameter of :class:`Connector` and its subclasses.
ConfigT = TypeVar("ConfigT", bound=ConnectorConfig)


class Connector(ABC, Generic[ConfigT]):
    """Common base of sources and destinations, generic over the connector's ``Config``.

    ``class AcmeAds(AudienceDestination[AcmeConfig])`` with ``Config = AcmeConfig`` makes
    ``self.config`` an ``AcmeConfig`` for a type checker (core validates the config with
    ``Config`` before building the connector, so it is one at run time too). A connector whose
    ``Config`` is nested in its class body, where it cannot be a base's parameter, declares
    ``config: Config`` instead.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    Config: ClassVar[type[ConnectorConfig]] = ConnectorConfig

    def __init__(self, config: ConfigT, context: ConnectorContext) -> None:
        self.config: ConfigT = config
        self.context = context

    def check(self) -> None:  # noqa: B027 - optional hook with a sensible default
        """Verify the connector can work (paths exist, credentials accepted). Raise an error kind."""

    def check_config(self, audiences: tuple[str, ...] = ()) -> None:  # noqa: B027 - optional, no-op default
        """Configuration checks ``Config``'s validators cannot make alone, with no network and no
        side effect: a path that must exist, a setting every audience needs (a list id per
        audience), two audiences that would write the same file. Run by the preflight before any
        data moves (``dealersync sync``, ``dealersync check``); raise :class:`ConfigError` naming
        the key (``destinations.<instance>.<key>: found ..., expected ...``): exit 2.

        ``audiences``: for a destination, the audiences this run delivers to it; empty for a source.
        Checks that need the platform (a credential accepted, a list that exists) belong in
        :meth:`check`."""


# ---------------------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class ExtractFile:
    """A file the engine loads set-oriented through DuckDB's CSV reader, with quarantine.

    ``columns`` maps canonical column name to the file's header name; canonical columns not
    mapped are read under their own name, and absent ones load as NULL; a header the mapping
    names that the file lacks is a :class:`~dealersync.errors.LayoutError`, as is a missing key
    column (:func:`dealersync.check_layout` finds both from the file's first lines).
    """

    path: Path
    table: str
    columns: Mapping[str, str] = field(default_factory=dict)
    delimiter: str = ","
    quote: str = '"'
    date_format: str | None = None  # strftime format when dates are not ISO 8601
    timestamp_format: str | None = None
    #: The file's text encoding, any name Python's codecs know ("cp1252", "latin-1",
    #: "utf-16", ...); None detects it: a BOM decides, else UTF-8, and a file that is not
    #: UTF-8 but is Windows-1252 loads as cp1252 with a warning (see docs/data-model.md).
    #: "utf-8" is strict: lines that are not UTF-8 are quarantined.
    encoding: str | None = None
    #: Title lines above the header (report writers); None finds the header among the first
    #: lines by the table's key column names.
    skip_rows: int | None = None
    #: The dealer's own words for enumerated columns: canonical column -> {value as the DMS
    #: writes it -> canonical value}, e.g. ``{"status": {"WIP": "recommended"}}``; it comes
    #: before the built-in spellings (:mod:`dealersync.vocabularies`). Case and surrounding
    #: spaces are ignored.
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: The decimal separator of numbers: "." (``1,234.56``) or "," (``1.234,56``); see
    #: :mod:`dealersync.loading.numbers`.
    decimal_separator: str = "."


@dataclass(frozen=True, slots=True)
class Located:
    """A record with where it came from: the file and the 1-based physical line it was read on.

    Put it in :attr:`RecordBatch.records` in place of the bare dict. When the record fails
    validation (a type, a vocabulary, a missing key) or repeats a key, the quarantine names this
    file and line instead of the record's position in the stream, and a loaded row keeps the
    line as its ``_line``. A record written over several lines is located at its first line.
    """

    record: Mapping[str, Any]
    file: str | PathLike[str]
    line: int

    def __post_init__(self) -> None:
        _check_origin(self.file, self.line, "Located")


@dataclass(frozen=True, slots=True)
class Unparsable:
    """A line the source could not turn into a record (not JSON, not UTF-8, a broken element).

    Put it in :attr:`RecordBatch.records` where the record would have been: it is quarantined
    like a bad CSV row (file, physical line, column, reason) and the load goes on. ``reason``
    says what is wrong, **never the value** (no cell, no text of the line: it may be an email
    or a name); core keeps its first line, at most 200 characters, with quoted text replaced by
    ``'...'``. ``column``: the canonical column (or the source's field) at fault, when known.
    """

    file: str | PathLike[str]
    line: int
    reason: str
    column: str | None = None

    def __post_init__(self) -> None:
        _check_origin(self.file, self.line, "Unparsable")
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError("Unparsable.reason must say what is wrong with the line (never its value)")
        if self.column is not None and not isinstance(self.column, str):
            raise TypeError(f"Unparsable.column must be a column name or None, not {type(self.column).__name__}")


def _check_origin(file: object, line: object, what: str) -> None:
    """A located item names a file and a 1-based physical line: a plugin bug otherwise."""
    if not isinstance(file, str | PathLike) or not fspath(file):
        raise TypeError(f"{what}.file must be the path of the file the line was read from")
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        raise ValueError(f"{what}.line must be the 1-based physical line number, not {line!r}")


#: What :attr:`RecordBatch.records` holds: records (bare, or :class:`Located` in their file)
#: and the lines that could not be parsed (:class:`Unparsable`).
RecordItem = Mapping[str, Any] | Located | Unparsable


@dataclass(frozen=True)
class RecordBatch:
    """Records a source read (an API's page, a part of a JSON-lines file), validated against the
    table's canonical model. Each item is a record (a dict of canonical column names), a
    :class:`Located` record (quarantined at its file and line), or an :class:`Unparsable` line.
    Bare records are quarantined as ``<source>:<table>:records`` at their position in the stream.
    """

    table: str
    records: Sequence[RecordItem]
    cursor: dict[str, Any] | None = None  # saved after the batch loads; passed back to read()
    #: The source's own words for enumerated columns, as :attr:`ExtractFile.values`.
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class Source(Connector[ConfigT]):
    """A DMS, CRM or engagement source. By default each read is a full snapshot of the source."""

    kind: ClassVar[str] = "source"

    @abstractmethod
    def streams(self) -> list[str]:
        """The canonical tables (``dealersync.TABLES`` names) this source provides."""

    @abstractmethod
    def read(self, stream: str, state: dict[str, Any] | None) -> Iterator[ExtractFile | RecordBatch]:
        """Yield the stream's data as extract files or record batches.

        ``state`` is the cursor of the last batch of the previous run (``None`` the first time).
        """


# ----------------------------------------------------------------------------------- destinations


@dataclass(frozen=True)
class BatchLimits:
    """What one request to the platform may carry."""

    rows: int = 10_000
    bytes: int | None = None
    identifiers_per_member: int | None = None


class Destination(Connector[ConfigT]):
    """An ad, email or file destination.

    ``identifiers`` maps each field the destination sends to an identity profile
    (see :mod:`dealersync.identity`), e.g. ``{"email": "meta.email", "zip": "meta.zip"}``.
    Core normalizes, hashes and dedupes members with those profiles, in the engine.
    """

    kind: ClassVar[str] = "destination"
    channel: ClassVar[Channel] = "ads"
    identifiers: ClassVar[Mapping[str, str]]
    #: What one request may carry; a connector may narrow it per instance from its config
    #: (``self.limits = BatchLimits(...)`` in ``__init__``).
    limits: BatchLimits = BatchLimits()
    #: Below this many members the platform does not serve the audience: the sync warns.
    min_members: ClassVar[int] = 0


@dataclass(frozen=True)
class SnapshotResult:
    """What a snapshot destination reports back."""

    written: int  # rows of the full audience written (0 when only changes were written)
    location: str
    added: int = 0  # rows written to a file of additions (see AudienceSnapshot.write_changes_csv)
    removed: int = 0  # rows written to a file of removals


class SnapshotDestination(Destination[ConfigT]):
    """A destination that receives the whole current audience each run (upload files)."""

    @abstractmethod
    def write_snapshot(self, snapshot: AudienceSnapshot) -> SnapshotResult:
        """Write the full audience atomically; return how many rows were written and where."""


@dataclass(frozen=True)
class RemoteAudience:
    """The platform's list an audience is synced into."""

    id: str
    name: str
    size: int | None = None  # as the platform reports it, when it does
    created: bool = False  # ensure_audience created it just now (it holds no one yet)


@dataclass(frozen=True)
class MemberOutcome:
    """What the platform said about one member of a batch. ``code``/``reason`` never hold raw PII."""

    member_key: str
    accepted: bool
    code: str | None = None
    reason: str | None = None
    #: Accepted, *pending confirmation*: the platform's id of the request whose outcome comes
    #: later (:meth:`AudienceDestination.resolve`). The member is committed as synced only once
    #: the request is confirmed.
    request_id: str | None = None
    #: The platform's own id of the member (a contact id; never PII), kept in the state for
    #: later removals by id.
    platform_id: str | None = None


@dataclass(frozen=True)
class RequestStatus:
    """The platform's outcome of a request that was accepted pending confirmation.

    ``state``: ``pending`` (still processing: asked again next run), ``success``, ``partial`` (some
    members failed; the platform does not say which, so the whole request is sent again) or
    ``failed``. ``counts``: what the platform reported (errors per reason, records, a match-rate
    range as a code), for the run history. Never PII."""

    state: Literal["pending", "success", "partial", "failed"]
    counts: Mapping[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadBack:
    """The platform's own view of a list after a delivery, for the run history (never PII).

    ``size_lower``/``size_upper``: the audience size as the platform reports it (Meta gives bounds,
    Mailchimp an exact count: both the same); ``status``: its status in the platform's words
    (Meta ``operation_status``); ``healthy`` false when that status is a failure (a warning);
    ``match_rate``: a rate or range as the platform says it (Google's ``MATCH_RANGE_50_60``);
    ``deleted``: the list no longer exists on the platform."""

    size_lower: int | None = None
    size_upper: int | None = None
    status: str | None = None
    healthy: bool = True
    match_rate: str | None = None
    deleted: bool = False


@dataclass(frozen=True)
class BatchInfo:
    """Where a batch stands in its upload session (platforms such as Meta number the batches).

    A session is one operation (add, remove or replace) of one run for one audience; a re-run
    after an interruption starts a new session from ``seq`` 1.
    """

    session_id: int
    seq: int = 1  # 1-based
    last: bool = True
    estimated_total: int = 0  # members in the whole session


class AudienceDestination(Destination[ConfigT]):
    """A platform list kept in sync incrementally (ad and email APIs).

    Core computes who to add and remove, splits them into batches within ``limits``, and commits
    a batch to the sync state only after the platform accepted it. Each member is a dict with
    ``member_key`` and the fields named in ``identifiers`` (normalized; hashed where the profile
    says so). ``add`` and ``remove`` must be idempotent: re-sending a batch leaves each member once.
    ``batch`` is ``None`` when the call is a session of its own (one batch).

    ``state_fields`` are the fields core keeps per member to remove it later, after the source row
    changed or vanished (default: every field). They must not hold raw PII: name hashed fields.
    """

    state_fields: ClassVar[tuple[str, ...] | None] = None
    #: Fields (among ``identifiers``) that describe a member without identifying it (a first name
    #: for a merge field). Core keeps a hash of them per member and sends a member whose hash
    #: changed through :meth:`update`; a change of ``state_fields`` is a new identity instead.
    #: May be set per instance from the config.
    attributes: tuple[str, ...] = ()
    #: Members whose last confirmed upload is older than this many days are sent again (a
    #: platform that expires members, such as Customer Match); None: never. May be set per
    #: instance from the config.
    refresh_after_days: int | None = None
    supports_replace: ClassVar[bool] = False

    @abstractmethod
    def ensure_audience(self, name: str, description: str = "") -> RemoteAudience:
        """Find the platform list for this audience, creating it if needed (or take it from config)."""

    @abstractmethod
    def add(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        """Add one batch; return one outcome per member, in any order."""

    @abstractmethod
    def remove(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        """Remove one batch (members carry only ``state_fields``, and ``platform_id`` when the add
        returned one: :attr:`MemberOutcome.platform_id`); one outcome per member."""

    def update(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        """Send members already on the list whose ``attributes`` changed (every field, as for
        ``add``). The default is :meth:`add`, right when adding is an upsert; one outcome per member."""
        return self.add(audience, members, batch)

    def replace(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        """Platform-side replace, batch by batch: after the ``last`` batch the list holds exactly
        the members sent in the session. Only when ``supports_replace`` is true."""
        raise NotImplementedError(f"{self.name} does not support replace")

    def resolve(self, audience: RemoteAudience, requests: Mapping[str, str]) -> Mapping[str, RequestStatus]:
        """The outcome of requests this destination answered with a ``request_id`` (request id ->
        ``"add"`` or ``"remove"``); a request left out of the answer is still pending. Called on
        later runs, and right after sending in the same run (a quick platform confirms at once).
        Must be implemented by a destination whose outcomes carry a ``request_id``."""
        raise NotImplementedError(f"{self.name} returned pending requests but cannot resolve them")

    def read_back(self, audience: RemoteAudience) -> ReadBack | None:
        """After a delivery: what the platform says it holds (size, status, match rate), or None
        when it cannot say. Called once per delivery; an error here fails nothing (a warning)."""
        return None

    def platform_counts(self) -> Mapping[str, int]:
        """Counts the platform reported during this run (e.g. Meta ``num_received``), for run history."""
        return {}


# ----------------------------------------------------------------------------------- capabilities


class Capability(ABC):  # noqa: B024 - a marker base: each capability adds its abstract methods
    """Base of the optional capabilities a connector declares by inheriting one.

    Core asks ``isinstance(connector, LookalikeCapable)``, never whether a method happens to
    exist; ``dealersync plugins`` lists each connector's capabilities by their ``capability``.
    """

    capability: ClassVar[str]


class LookalikeCapable(Capability):
    """A destination that can create a lookalike audience seeded from one it keeps in sync
    (``dealersync audiences lookalike``)."""

    capability = "lookalike"

    @abstractmethod
    def create_lookalike(
        self, audience: RemoteAudience, *, country: str, ratio: float, name: str | None = None
    ) -> RemoteAudience:
        """Create, on the platform, an audience of people in ``country`` (ISO 3166 two-letter
        code) resembling the members of ``audience``, ``ratio`` (0.01 to 0.20) of the country's
        population; ``name`` defaults to one derived from the seed. Raise :class:`ConfigError`
        for a country or ratio the platform refuses; return the new audience."""


def capabilities_of(cls: type[Connector[Any]]) -> list[str]:
    """The optional capabilities a connector class declares, by name, sorted: each
    :class:`Capability` it inherits, and ``replace`` for an :class:`AudienceDestination` with
    ``supports_replace``."""
    found = {base.capability for base in cls.__mro__ if issubclass(base, Capability) and "capability" in vars(base)}
    if issubclass(cls, AudienceDestination) and cls.supports_replace:
        found.add("replace")
    return sorted(found)
