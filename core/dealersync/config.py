"""``connectors.toml``: parsed with tomllib, validated with pydantic, errors as one clear line.

Every error names the table and key (``audiences.winback.mode``), what was found and what was
expected, and is raised as :class:`ConfigError` (the CLI exits 2, no traceback). Secret values
are never echoed.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dealersync.errors import ConfigError, ConfigErrors
from dealersync.secrets import redact
from dealersync.segments import SegmentDef
from dealersync.service_categories.settings import ServiceCategorySettings

_SECRETISH = ("token", "secret", "password", "key", "credential")

#: What a name in the config (a source, destination, segment or audience) may be: it becomes part
#: of warehouse table names, file names and messages, so letters, digits and ``_`` only, starting
#: with a letter, at most 64 characters. Quotes, semicolons, spaces, dashes and comments never reach
#: SQL, which quotes every name anyway (:func:`dealersync.store.quote_ident`).
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
NAME_RULE = "a name of letters, digits and '_', starting with a letter, at most 64 characters"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarehouseSettings(_Strict):
    path: str = Field(".dealersync/warehouse.duckdb", description="DuckDB file, relative to this config")
    memory_limit: str = Field("2GB", description="DuckDB memory limit, e.g. '2GB'")
    threads: int | None = Field(None, ge=1, description="DuckDB threads; default: cores, at most 4")

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, v: str) -> str:
        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", v, re.I):
            raise ValueError("a size such as '512MB' or '2GB'")
        return v.strip()


class IdentitySettings(_Strict):
    default_country: str = Field("US", pattern=r"^[A-Z]{2}$", description="ISO country for numbers without one")

    @field_validator("default_country")
    @classmethod
    def _known_country(cls, v: str) -> str:
        # the identity profiles parse phone numbers with phonenumbers in this region: a code it
        # does not know (XX, UK: the code is GB) would fail the first delivery, after loading
        if v not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("an ISO 3166-1 alpha-2 country code such as 'US', 'CA' or 'GB'")
        return v


class OutputSettings(_Strict):
    dir: str = Field("out", description="where file destinations write, relative to this config")


class GuardSettings(_Strict):
    """Change guards: when the data looks broken, removals and file replacements wait for a person
    (docs/sync.md, "Change guards"). Shares are fractions: 0.5 is 50%."""

    max_table_drop: float = Field(
        0.5, ge=0.0, le=1.0,
        description="hold when a loaded table's rows fell by more than this share since the last good run",
    )
    max_quarantined_share: float = Field(
        0.5, ge=0.0, le=1.0, description="hold when more than this share of a table's rows were quarantined"
    )
    max_removed_share: float = Field(
        0.2, ge=0.0, le=1.0,
        description="hold when a run would remove more than this share of an audience's members",
    )
    min_change: int = Field(
        25, ge=0, description="a fall or removal of fewer rows or members than this never holds anything"
    )


class DeadlineSettings(_Strict):
    """How long a platform may take (docs/sync.md, "Deadlines")."""

    request_seconds: float = Field(
        300.0, gt=0, description="one request, answer read in full, retries not counted"
    )
    destination_seconds: float = Field(
        3600.0, gt=0, description="all requests to one destination in one run, retries and waits included"
    )


class GuardOverrides(_Strict):
    """An audience's own guard limits; a key left out takes the ``[guards]`` value."""

    max_table_drop: float | None = Field(None, ge=0.0, le=1.0, description="see [guards].max_table_drop")
    max_quarantined_share: float | None = Field(
        None, ge=0.0, le=1.0, description="see [guards].max_quarantined_share"
    )
    max_removed_share: float | None = Field(None, ge=0.0, le=1.0, description="see [guards].max_removed_share")
    min_change: int | None = Field(None, ge=0, description="see [guards].min_change")

    def over(self, defaults: GuardSettings) -> GuardSettings:
        """``defaults`` with this audience's keys put over them."""
        return defaults.model_copy(update=self.model_dump(exclude_none=True))


class ConnectorEntry(BaseModel):
    """A ``[sources.X]`` or ``[destinations.X]`` table: ``connector`` plus the connector's own keys."""

    model_config = ConfigDict(extra="allow")
    connector: str = Field(description="the connector name, e.g. 'dms-csv' or 'meta-file'")
    rooftop: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="sources only: the store (rooftop) of a dealer group whose extract this is; see docs/dealer-groups.md",
    )

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RooftopSettings(_Strict):
    opt_outs: Literal["group", "rooftop"] = Field(
        "group",
        description="'group': an opt-out recorded at this store keeps the person out at every store;"
        " 'rooftop': only this store's record (see docs/dealer-groups.md)",
    )


class AudienceSettings(_Strict):
    segment: str = Field(description="the segment whose customers make the audience")
    exclude: list[str] = Field(default_factory=list, description="segments whose customers are left out")
    destinations: list[str] = Field(min_length=1, description="destination names from [destinations]")
    mode: Literal["mirror", "add", "replace"] = Field("mirror", description="how changes reach the platform")
    description: str = ""
    holdout: float = Field(0.0, ge=0.0, lt=1.0, description="share of customers held out, e.g. 0.1")
    holdout_salt: str | None = Field(None, description="changes who is held out; default: the audience name")
    priority_group: str | None = Field(None, description="audiences competing for the same customers")
    priority: int = Field(1, ge=1, description="rank in the priority group: 1 is the highest")
    guards: GuardOverrides = Field(default_factory=GuardOverrides, description="this audience's change guard limits")


class Settings(_Strict):
    as_of: dt.date | None = Field(None, description="the day relative rules are evaluated against; default today")
    allow_inline_secrets: bool = Field(
        False, description="accept secrets written as plain values in this file (default: refused with the fix)"
    )
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    output: OutputSettings = Field(default_factory=OutputSettings)
    guards: GuardSettings = Field(default_factory=GuardSettings, description="change guard limits for every audience")
    deadlines: DeadlineSettings = Field(default_factory=DeadlineSettings, description="time limits for platforms")
    opcodes: dict[str, str | list[str]] = Field(
        default_factory=dict, description="exact op code -> service category (same as [service_categories.opcodes])"
    )
    service_categories: ServiceCategorySettings = Field(default_factory=ServiceCategorySettings)
    home_rooftop: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="the rooftop whose ids stay as the DMS writes them; default: the first rooftop named in [sources]",
    )
    rooftops: dict[str, RooftopSettings] = Field(default_factory=dict, description="per rooftop: opt_outs")
    sources: dict[str, ConnectorEntry] = Field(default_factory=dict)
    destinations: dict[str, ConnectorEntry] = Field(default_factory=dict)
    segments: dict[str, SegmentDef] = Field(default_factory=dict)
    audiences: dict[str, AudienceSettings] = Field(default_factory=dict)


class Config:
    """A loaded, validated ``connectors.toml`` and where it lives."""

    def __init__(self, settings: Settings, path: Path) -> None:
        self.settings = settings
        self.path = path
        self.base_dir = path.parent

    def resolve(self, p: str | Path) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else self.base_dir / q

    def as_of(self, override: dt.date | None = None) -> dt.date:
        return override or self.settings.as_of or dt.date.today()


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (pass --config PATH)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    settings = validate(raw, Settings)
    problems = [*_name_problems(settings), *_reference_problems(settings)]
    if problems:
        raise ConfigErrors(problems)
    return Config(settings, path.resolve())


def validate(raw: Mapping[str, Any], model: type[BaseModel], prefix: str = "") -> Any:
    """``model.model_validate(raw)``; every error becomes one line of a :class:`ConfigErrors`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigErrors(describe_errors(exc, prefix, model)) from None


def describe_errors(exc: ValidationError, prefix: str, model: type[BaseModel]) -> list[str]:
    """One line per key in error (pydantic reports a bad value of a union once per member: the
    first of those is kept)."""
    lines: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        where, line = _describe(err, prefix, model)
        lines.setdefault(where, line)
    return list(lines.values())


def describe_error(exc: ValidationError, prefix: str, model: type[BaseModel]) -> str:
    """The first error as one line."""
    return describe_errors(exc, prefix, model)[0]


def _describe(err: Any, prefix: str, model: type[BaseModel]) -> tuple[str, str]:
    """(the key, the line naming it, what was found and what was expected)."""
    loc = [str(p) for p in err["loc"] if not _is_union_tag(p)]
    where = ".".join([p for p in (prefix,) if p] + loc) or "(top level)"
    kind = err["type"]
    if kind == "missing":
        return where, f"{where}: missing required key"
    if kind == "extra_forbidden":
        return where, f"{where}: unknown key{_expected_keys(model, err['loc'][:-1])}"
    found = _found(err.get("input"), loc)
    return where, f"{where}: found {found}, expected {_expected(err)}"


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the union member's name in the location; readers think in keys, not types
    return isinstance(part, str) and (part[:1].isupper() or "[" in part)


def _found(value: Any, loc: list[str]) -> str:
    if any(s in part.lower() for part in loc for s in _SECRETISH):
        return "a value (hidden)"
    text = redact(repr(value)) if not isinstance(value, dict | list) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(err: Any) -> str:
    kind: str = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        what = kind.removesuffix("_type").removesuffix("_parsing").replace("_", " ")
        return {"int": "a whole number", "float": "a number", "bool": "true or false", "string": "a string",
                "date from datetime": "a date", "list": "a list", "dict": "a table"}.get(what, f"a {what}")
    if kind in _BOUNDS:
        key, text = _BOUNDS[kind]
        bound = ctx.get(key)
        return text.format(int(bound) if isinstance(bound, float) and bound.is_integer() else bound)
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


#: Range errors in the dealer's words (pydantic says "Input should be greater than or equal to 1").
_BOUNDS = {
    "greater_than_equal": ("ge", "a value of at least {}"),
    "greater_than": ("gt", "a value above {}"),
    "less_than_equal": ("le", "a value of at most {}"),
    "less_than": ("lt", "a value below {}"),
}


def _expected_keys(model: type[BaseModel], parent: tuple[Any, ...]) -> str:
    """The keys allowed where an unknown one was found, when the path leads through models."""
    for part in parent:
        field = model.model_fields.get(str(part)) if isinstance(part, str) else None
        inner = getattr(field, "annotation", None) if field else None
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return ""
        model = inner
    return f"; expected one of: {', '.join(model.model_fields)}"


def _name_problems(s: Settings) -> list[str]:
    """Every name the config defines is a plain identifier (see :data:`NAME_PATTERN`)."""
    return [
        f"{table}.{_shown(name)}: found this name, expected {NAME_RULE}"
        for table, names in (("sources", s.sources), ("destinations", s.destinations),
                             ("segments", s.segments), ("audiences", s.audiences))
        for name in names
        if not NAME_PATTERN.fullmatch(name)
    ]


def _shown(name: str) -> str:
    """A bad name as it may be printed: its safe characters, the others as '?', at most 40."""
    text = "".join(c if c.isalnum() or c in "_-" else "?" for c in name)
    return text if len(text) <= 40 else text[:37] + "..."


def _reference_problems(s: Settings) -> list[str]:
    """Audience names distinct beyond case, priority ranks distinct per group, and every segment
    and destination an audience names defined."""
    problems = []
    lowered: dict[str, str] = {}
    for name in s.audiences:
        other = lowered.setdefault(name.lower(), name)
        if other != name:
            problems.append(
                f"audiences.{name}: the name differs from audiences.{other} only in case; expected"
                " names that differ otherwise (the warehouse's table names ignore case)"
            )
    ranks: dict[tuple[str, int], str] = {}
    for name, aud in s.audiences.items():
        if aud.priority_group is not None:
            other = ranks.setdefault((aud.priority_group, aud.priority), name)
            if other != name:
                problems.append(
                    f"audiences.{name}.priority: found {aud.priority}, already the rank of audiences.{other} "
                    f"in priority group '{aud.priority_group}'; expected a distinct rank"
                )
        for i, seg in enumerate([aud.segment, *aud.exclude]):
            key = "segment" if i == 0 else "exclude"
            if seg not in s.segments:
                known = ", ".join(sorted(s.segments)) or "none"
                problems.append(f"audiences.{name}.{key}: unknown segment '{seg}' (defined: {known})")
        for dest in aud.destinations:
            if dest not in s.destinations:
                known = ", ".join(sorted(s.destinations)) or "none"
                problems.append(f"audiences.{name}.destinations: unknown destination '{dest}' (defined: {known})")
    return problems
