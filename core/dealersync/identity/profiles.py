"""Identity profiles: how one destination field is normalized (in SQL) and whether it is hashed.

A :class:`Profile` reads canonical ``customers`` columns and produces a DuckDB SQL expression
that returns the normalized value, or NULL when the input is invalid. Hashing (SHA-256,
lowercase hex, DuckDB's ``sha256()``) is applied by :func:`dealersync.identity.build_members`
after the per-member value is chosen, for profiles with ``hashed=True``.

Profiles are registered by name (``meta.email``, ``google.phone``, ...). A vendor's plugin can
register more with :func:`register_profile`; a destination names one profile per field it sends.

The rules follow DESIGN.md section 8 (where it differs from an SDK, the design wins):
see each profile's ``description``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from dealersync.errors import ConfigError
from dealersync.store import quote_ident
from dealersync.identity.region_codes import (
    COUNTRY_ALIASES,
    COUNTRY_CODES,
    US_STATE_CODES,
    US_STATES,
)

# ------------------------------------------------------------------------------- SQL context


@dataclass
class NormContext:
    """What a profile's SQL function may use.

    * :meth:`col` is a ``customers`` column, text trimmed of spaces and NULL when empty
      (non-text columns as stored); other whitespace (tabs, no-break spaces) is the
      expression's business (a cheap ``trim()`` per column keeps the hot path fast);
    * :meth:`phone` is a phone column already reduced to its canonical digits (E.164 without
      ``+``, see :mod:`dealersync.identity.phones`) or NULL when not a possible number;
    * :meth:`country` is the row's country as ISO alpha-2 lowercase;
    * ``default_country`` is the ISO alpha-2 code (upper case) assumed when a row has none;
    * ``as_of`` is the run's date (for rules such as "birth year not in the future").
    """

    default_country: str = "US"
    as_of: dt.date = field(default_factory=dt.date.today)
    _phones: set[str] = field(default_factory=set, repr=False)
    _columns: set[str] = field(default_factory=set, repr=False)
    _helpers: dict[str, str] = field(default_factory=dict, repr=False)

    def col(self, name: str) -> str:
        self._columns.add(name)
        return f"c.{quote_ident(name)}"

    def phone(self, name: str) -> str:
        self._columns.add(name)
        self._phones.add(name)
        return f"c.{quote_ident('__phone__' + name)}"

    def helper(self, name: str, expr: str) -> str:
        """A reference to ``expr`` (over :meth:`col` columns only), evaluated once per row.

        DuckDB evaluates an expression once per *reference* inside CASE branches; a value a
        profile reads several times (a cleaned key, a lookup) is cheaper as a helper, which the
        engine materializes beside the customer's columns before the profiles run. Profiles
        sharing a helper name must give the same expression.
        """
        key = "__h__" + name
        known = self._helpers.get(key)
        if known is not None and known != expr:
            raise ConfigError(f"identity helper {name!r} is defined twice with different SQL")
        self._helpers[key] = expr
        return f"c.{quote_ident(key)}"

    def country(self) -> str:
        """The row's country, ISO alpha-2 lowercase (see :func:`country_sql`): the default
        country when blank, NULL when not recognized."""
        return self.helper("country", country_sql(self))


@dataclass(frozen=True)
class Profile:
    """One way of normalizing one identifier for one platform.

    ``columns`` are the canonical ``customers`` columns read (checked against the warehouse).
    ``sql(ctx)`` returns a DuckDB expression over ``ctx.col(...)`` / ``ctx.phone(...)`` giving
    the normalized value or NULL when invalid. ``hashed``: SHA-256 lowercase hex of the value is
    sent. ``match_key``: customers sharing the value are the same person (email, phone); other
    profiles are attributes (names, city, zip, country).
    """

    name: str
    columns: tuple[str, ...]
    sql: Callable[[NormContext], str]
    hashed: bool = True
    match_key: bool = False
    description: str = ""


# ---------------------------------------------------------------------------------- registry

#: Every known profile by name. Read it freely; add with :func:`register_profile`.
PROFILES: dict[str, Profile] = {}


def register_profile(profile: Profile, *, replace: bool = False) -> Profile:
    """Add a profile to :data:`PROFILES` (vendors' plugins call this at import time).

    Registering the same object twice is harmless; another profile under a taken name is a
    :class:`ConfigError` unless ``replace=True``.
    """
    if not isinstance(profile, Profile):
        raise ConfigError(
            f"register_profile expects an identity Profile, got {type(profile).__name__}"
        )
    if not profile.name or not isinstance(profile.name, str):
        raise ConfigError("an identity profile needs a non-empty name")
    if not profile.columns:
        raise ConfigError(f"identity profile {profile.name!r} reads no customers column")
    known = PROFILES.get(profile.name)
    if known is not None and known is not profile and not replace:
        raise ConfigError(
            f"identity profile {profile.name!r} is already registered; pass replace=True to override it"
        )
    PROFILES[profile.name] = profile
    return profile


def get_profile(name: str) -> Profile:
    """The profile registered as ``name``; :class:`ConfigError` naming the known ones if none."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown identity profile {name!r}; known profiles: {', '.join(sorted(PROFILES))}"
        ) from None


# ------------------------------------------------------------------------------- SQL helpers


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _sql_map(mapping: dict[str, str]) -> str:
    items = ", ".join(f"{sql_str(k)}: {sql_str(v)}" for k, v in sorted(mapping.items()))
    return f"MAP {{{items}}}"


def _sql_in(values: frozenset[str] | set[str]) -> str:
    return "(" + ", ".join(sql_str(v) for v in sorted(values)) + ")"


#: Whitespace, Unicode separators included (RE2 class body).
WS = r"\s\p{Z}\x{FEFF}"
#: One ``@``, no whitespace, a dot inside the domain.
EMAIL_RE = rf"[^@{WS}]+@[^@{WS}]+\.[^@{WS}]+"


def letters_only(expr: str) -> str:
    """Lowercase, NFC, letters (any script, with their combining marks) only; '' stays ''."""
    return rf"regexp_replace(lower(nfc_normalize({expr})), '[^\p{{L}}\p{{M}}]', '', 'g')"


def country_sql(ctx: NormContext) -> str:
    """ISO alpha-2 lowercase of the ``country`` column; the default country when blank;
    NULL when not recognized. Accepts codes, alpha-3 and common names (``USA``, ``Canada``).

    Profiles use ``ctx.country()``, which evaluates this once per row."""
    x = ctx.col("country")
    key = letters_only(x)
    known = {c: c for c in COUNTRY_CODES} | COUNTRY_ALIASES
    return (
        f"(CASE WHEN {x} IS NULL THEN {sql_str(ctx.default_country.lower())}"
        f" WHEN {key} IN ('us', 'usa') THEN 'us'"
        f" ELSE {_sql_map(known)}[{key}] END)"
    )


def _is_us(ctx: NormContext) -> str:
    return f"(coalesce({ctx.country()}, '') = 'us')"


# ---------------------------------------------------------------------------- the profiles


def _meta_email(ctx: NormContext) -> str:
    x = ctx.col("email")
    # the common case first (RE2 full matches run as a DFA; capture groups cost 4x); the
    # second branch, evaluated only for rows the first refused, trims other whitespace
    return (
        f"CASE WHEN regexp_full_match({x}, '{EMAIL_RE}') THEN lower({x})"
        f" WHEN regexp_full_match({x}, '[{WS}]*{EMAIL_RE}[{WS}]*')"
        f" THEN lower(regexp_replace({x}, '^[{WS}]+|[{WS}]+$', '', 'g')) END"
    )


def _google_email(ctx: NormContext) -> str:
    y = ctx.helper(
        "email_nospace", f"lower(regexp_replace({ctx.col('email')}, '[{WS}]+', '', 'g'))"
    )
    local, domain = f"split_part({y}, '@', 1)", f"split_part({y}, '@', 2)"
    gmail = (
        f"(CASE WHEN {domain} IN ('gmail.com', 'googlemail.com')"
        f" THEN replace(split_part({local}, '+', 1), '.', '') || '@' || {domain} ELSE {y} END)"
    )
    return f"CASE WHEN regexp_full_match({y}, '{EMAIL_RE}') AND NOT starts_with({gmail}, '@') THEN {gmail} END"


def _phone_digits(ctx: NormContext) -> str:
    # mobile first; home when the mobile is missing or not a possible number
    return f"coalesce({ctx.phone('phone_mobile')}, {ctx.phone('phone_home')})"


def _meta_phone(ctx: NormContext) -> str:
    return _phone_digits(ctx)


def _google_phone(ctx: NormContext) -> str:
    return f"'+' || {_phone_digits(ctx)}"


def _meta_name(column: str) -> Callable[[NormContext], str]:
    def sql(ctx: NormContext) -> str:
        return f"nullif({letters_only(ctx.col(column))}, '')"

    return sql


def _meta_state(ctx: NormContext) -> str:
    k = ctx.helper("state_letters", letters_only(ctx.col("state")))
    return (
        f"(CASE WHEN {k} = '' THEN NULL WHEN {k} IN {_sql_in(US_STATE_CODES)} THEN {k}"
        f" ELSE coalesce({_sql_map(US_STATES)}[{k}], CASE WHEN NOT {_is_us(ctx)} THEN {k} END) END)"
    )


def _us_zip(x: str) -> str:
    """First 5 digits of a US ZIP or ZIP+4 (``75001``, ``75001-1234``, ``75001 1234``)."""
    return (
        f"(CASE WHEN regexp_full_match({x}, '[0-9]{{5}}') THEN {x}"
        f" WHEN regexp_full_match({x}, '[{WS}]*[0-9]{{5}}(?:[{WS}-]*[0-9]{{4}})?[{WS}]*')"
        f" THEN left(regexp_replace({x}, '[^0-9]', '', 'g'), 5) END)"
    )


def _meta_zip(ctx: NormContext) -> str:
    x = ctx.col("postal_code")
    return (
        f"(CASE WHEN {_is_us(ctx)} THEN {_us_zip(x)}"
        f" ELSE nullif(lower(regexp_replace({x}, '[{WS}]+', '', 'g')), '') END)"
    )


def _meta_doby(ctx: NormContext) -> str:
    y = f"TRY_CAST({ctx.col('birth_year')} AS BIGINT)"
    return f"CASE WHEN {y} BETWEEN 1900 AND {ctx.as_of.year} THEN CAST({y} AS VARCHAR) END"


_PREFIX_RE = r"^(?:(?:mr|mrs|ms|miss|dr)(?:\.\s*|\s+))+"
_SUFFIX_RE = r"(?:\s*,\s*|\s+)(?:jr|sr|ii|iii|iv|md|m\.d|phd|ph\.d)\.?(?:(?:\s*,\s*|\s+)(?:jr|sr|ii|iii|iv|md|m\.d|phd|ph\.d)\.?)*$"


def _google_name(column: str) -> Callable[[NormContext], str]:
    """Google ``AddressInfo`` names: "all lowercase, with no punctuation, no leading or trailing
    whitespace" (googleapis ``google/ads/datamanager/v1/user_data.proto``, ``AddressInfo.given_name``
    / ``family_name``), without prefixes such as Mrs. or suffixes such as Jr. (Data Manager guide
    "Format user data", https://developers.google.com/data-manager/api/devguides/concepts/formatting).
    Prefixes and suffixes go first (their periods mark them), then punctuation and symbols
    (``O'Brien`` -> ``obrien``, ``Mary-Jane`` -> ``maryjane``); inner spaces stay single."""

    def sql(ctx: NormContext) -> str:
        y = f"lower(trim(regexp_replace(nfc_normalize({ctx.col(column)}), '[{WS}]+', ' ', 'g')))"
        stripped = f"regexp_replace(regexp_replace({y}, '{_PREFIX_RE}', ''), '{_SUFFIX_RE}', '')"
        bare = rf"regexp_replace(regexp_replace({stripped}, '[\p{{P}}\p{{S}}]', '', 'g'), ' {{2,}}', ' ', 'g')"
        return f"nullif(trim({bare}), '')"

    return sql


def _google_country(ctx: NormContext) -> str:
    return f"upper({ctx.country()})"


def _google_postal(ctx: NormContext) -> str:
    x = ctx.col("postal_code")
    return (
        f"(CASE WHEN {_is_us(ctx)} THEN {_us_zip(x)}"
        f" ELSE nullif(trim(regexp_replace({x}, '[{WS}]+', ' ', 'g')), '') END)"
    )


BUILTIN_PROFILES: tuple[Profile, ...] = (
    Profile(
        "meta.email",
        ("email",),
        _meta_email,
        match_key=True,
        description="EMAIL: trimmed, lowercase; one @, no spaces, a dot in the domain.",
    ),
    Profile(
        "meta.phone",
        ("phone_mobile", "phone_home"),
        _meta_phone,
        match_key=True,
        description="PHONE: digits with country code, no +, no leading zero (US 1XXXXXXXXXX); "
        "mobile, else home.",
    ),
    Profile(
        "meta.fn",
        ("first_name",),
        _meta_name("first_name"),
        description="FN: lowercase letters only; non a-z letters kept as UTF-8 (é stays é).",
    ),
    Profile(
        "meta.ln",
        ("last_name",),
        _meta_name("last_name"),
        description="LN: lowercase letters only; non a-z letters kept as UTF-8.",
    ),
    Profile(
        "meta.ct",
        ("city",),
        _meta_name("city"),
        description="CT: lowercase letters only, no spaces or punctuation; non a-z letters kept.",
    ),
    Profile(
        "meta.st",
        ("state", "country"),
        _meta_state,
        description="ST: US 2-letter code lowercase (state names mapped); elsewhere lowercase "
        "letters only.",
    ),
    Profile(
        "meta.zip",
        ("postal_code", "country"),
        _meta_zip,
        description="ZIP: US first 5 digits (ZIP+4 accepted); elsewhere lowercase, no spaces.",
    ),
    Profile(
        "meta.country",
        ("country",),
        lambda ctx: ctx.country(),
        description="COUNTRY: ISO alpha-2 lowercase; the default country when blank.",
    ),
    Profile(
        "meta.doby",
        ("birth_year",),
        _meta_doby,
        description="DOBY: YYYY, 1900 to the current year.",
    ),
    Profile(
        "google.email",
        ("email",),
        _google_email,
        match_key=True,
        description="email: lowercase, whitespace removed; gmail.com/googlemail.com without dots "
        "before @ or +suffix.",
    ),
    Profile(
        "google.phone",
        ("phone_mobile", "phone_home"),
        _google_phone,
        match_key=True,
        description="phone: E.164 with + ((800)555-0100 -> +18005550100); mobile, else home.",
    ),
    Profile(
        "google.given_name",
        ("first_name",),
        _google_name("first_name"),
        description="given name: lowercase, trimmed, prefixes (mr, mrs, ms, miss, dr) and "
        "suffixes (jr, sr, ii, iii, iv, md, phd) removed, then punctuation removed (O'Brien -> obrien).",
    ),
    Profile(
        "google.family_name",
        ("last_name",),
        _google_name("last_name"),
        description="family name: lowercase, trimmed, prefixes and suffixes removed, then punctuation "
        "removed (Mary-Jane -> maryjane).",
    ),
    Profile(
        "google.country",
        ("country",),
        _google_country,
        hashed=False,
        description="region code: ISO alpha-2 upper case, not hashed; default country when blank.",
    ),
    Profile(
        "google.postal_code",
        ("postal_code", "country"),
        _google_postal,
        hashed=False,
        description="postal code: US 5 digits, not hashed; elsewhere as written.",
    ),
)

for _p in BUILTIN_PROFILES:
    register_profile(_p)
