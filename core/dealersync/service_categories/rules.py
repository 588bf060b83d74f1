"""The rules of the four layers, checked and merged from the built-in ones and the dealer's config.

Layers, in order (the first layer that decides a line decides its whole set of categories):

1. ``dealer code``: the dealer's exact op codes (``[service_categories.opcodes]``, ``[opcodes]``,
   the ``opcodes_file``);
2. ``dealer pattern``: the dealer's op-code patterns, the first matching one in file order;
3. ``keyword``: keyword rules on the description, built in and the dealer's; every category whose
   rule matches is given (``LOF W/ TIRE ROTATION`` is oil and rotation);
4. ``built-in code``: the built-in exact op codes (:data:`dealersync.opcodes.DEFAULT_OPCODES`).

A dealer code or pattern may give no category (``[]`` or ``"none"``): the line is then
uncategorized and the later layers are not asked. A line no layer decides stays uncategorized.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dealersync.errors import ConfigError
from dealersync.opcodes import DEFAULT_OPCODES
from dealersync.service_categories.builtin import KEYWORDS
from dealersync.service_categories.settings import ServiceCategorySettings

#: The layers, in the order they are asked.
LAYERS: tuple[str, ...] = ("dealer code", "dealer pattern", "keyword", "built-in code")

_CATEGORY_RE = re.compile(r"^[a-z0-9_]+$")
#: The value that gives no category (as a string; ``[]`` in TOML too).
NONE = "none"


@dataclass(frozen=True)
class PatternRule:
    """A dealer op-code pattern as written (``4TIRE*``), its RE2 form, and its categories."""

    pattern: str
    regex: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class KeywordRule:
    """One category's description keywords: ``match`` and the ``exclude`` phrases that veto it."""

    category: str
    match: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    dealer: bool = False  # the dealer extended or replaced the built-in rule

    @property
    def name(self) -> str:
        return f"keyword {self.category}" + (" (dealer)" if self.dealer else "")


@dataclass(frozen=True)
class CategoryRules:
    """Every rule of the four layers (see the module docstring). Build with :func:`category_rules`."""

    dealer_codes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    patterns: tuple[PatternRule, ...] = ()
    keywords: tuple[KeywordRule, ...] = ()
    builtin_codes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    uncategorized_warning: float = 0.10

    def categories(self) -> list[str]:
        """Every category a rule can give, sorted (the facts have a column pair for each)."""
        found: set[str] = set()
        for cats in (*self.dealer_codes.values(), *self.builtin_codes.values()):
            found.update(cats)
        found.update(c for p in self.patterns for c in p.categories)
        found.update(k.category for k in self.keywords if k.match)
        return sorted(found)

    def describe(self) -> dict[str, Any]:
        """The rules as plain data: what the facts fingerprint covers (a rule change rebuilds)."""
        return {
            "dealer_codes": sorted((k, list(v)) for k, v in self.dealer_codes.items()),
            "patterns": [[p.pattern, p.regex, list(p.categories)] for p in self.patterns],
            "keywords": [[k.category, list(k.match), list(k.exclude), k.dealer] for k in self.keywords],
            "builtin_codes": sorted((k, list(v)) for k, v in self.builtin_codes.items()),
        }


def category_rules(
    settings: ServiceCategorySettings | None = None,
    *,
    opcodes: Mapping[str, Any] | None = None,
    base_dir: Path | None = None,
) -> CategoryRules:
    """The rules from ``[service_categories]`` (``settings``) and the older ``[opcodes]`` table
    (``opcodes``) on top of the built-in ones. ``base_dir`` resolves ``opcodes_file``.

    Exact overrides, lowest first: the ``opcodes_file``, ``[opcodes]``,
    ``[service_categories.opcodes]``. Raises :class:`ConfigError` naming the key of a bad
    category or regular expression.
    """
    from dealersync.service_categories.overrides import read_overrides

    s = settings or ServiceCategorySettings()
    dealer: dict[str, tuple[str, ...]] = {}
    if s.opcodes_file:
        path = Path(s.opcodes_file).expanduser()
        path = path if path.is_absolute() or base_dir is None else base_dir / path
        dealer.update(read_overrides(path))
    for where, table in (("opcodes", opcodes or {}), ("service_categories.opcodes", s.opcodes)):
        for code, value in table.items():
            dealer[_code(where, code)] = parse_categories(f"{where}.{code}", value)
    patterns = tuple(_pattern_rule(p, v) for p, v in s.patterns.items())
    keywords = _keyword_rules(s)
    builtin = (
        {code.upper(): (cat,) for code, cat in DEFAULT_OPCODES.items()} if s.builtin_opcodes else {}
    )
    rules = CategoryRules(dealer, patterns, keywords, builtin, s.uncategorized_warning)
    check_regexes(rules)
    return rules


@functools.cache
def default_rules() -> CategoryRules:
    """The built-in rules alone (built once: checking the regular expressions takes a moment)."""
    return category_rules()


def parse_categories(where: str, value: Any) -> tuple[str, ...]:
    """``"tires"``, ``"oil; rotation"``, ``["tires", "alignment"]``, ``[]`` or ``"none"`` as a
    sorted tuple of category names (empty: no category)."""
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}: expected a category, a list of categories or [], found {value!r}")
    names = [i.strip().lower() for i in items if i.strip()]
    if names == [NONE]:
        return ()
    for name in names:
        if not _CATEGORY_RE.match(name) or name == NONE:
            raise ConfigError(
                f"{where}: category {name!r}: expected a name of lower-case letters, digits and '_'"
                f" (e.g. \"tires\"), or [] / \"{NONE}\" for no category"
            )
    return tuple(sorted(set(names)))


def category_name(where: str, name: str) -> str:
    """One category name, checked (the facts make columns of it)."""
    cats = parse_categories(where, [name])
    if len(cats) != 1:
        raise ConfigError(f"{where}: expected a category name, found {name!r}")
    return cats[0]


def _code(where: str, code: Any) -> str:
    if not isinstance(code, str) or not code.strip():
        raise ConfigError(f"{where}: op code {code!r}: expected a non-empty string")
    return code.strip().upper()


def _pattern_rule(pattern: str, value: Any) -> PatternRule:
    where = f"service_categories.patterns.{pattern!r}"
    if not pattern.strip():
        raise ConfigError(f"{where}: expected a non-empty pattern")
    if pattern.startswith("re:"):
        regex = "(?i)" + pattern[3:]
    else:
        regex = "(?i)^" + "".join(_glob_char(ch) for ch in pattern.strip().upper()) + "$"
    return PatternRule(pattern, regex, parse_categories(where, value))


def _glob_char(ch: str) -> str:
    return {"*": ".*", "?": "."}.get(ch) or re.escape(ch)


def _keyword_rules(s: ServiceCategorySettings) -> tuple[KeywordRule, ...]:
    rules: dict[str, KeywordRule] = {}
    if s.builtin_keywords:
        for cat, (match, exclude) in KEYWORDS.items():
            rules[cat] = KeywordRule(cat, match, exclude)
    for raw, kw in s.keywords.items():
        cat = category_name(f"service_categories.keywords.{raw}", raw)
        base = rules.get(cat) if not kw.replace else None
        rules[cat] = KeywordRule(
            cat,
            (*(base.match if base else ()), *kw.match),
            (*(base.exclude if base else ()), *kw.exclude),
            dealer=True,
        )
    return tuple(rules[c] for c in sorted(rules) if rules[c].match)


def check_regexes(rules: CategoryRules) -> None:
    """Every regular expression compiles in DuckDB's RE2, or a ConfigError names its key."""
    import duckdb

    con = duckdb.connect()
    try:
        checks: list[tuple[str, str]] = [
            (f"service_categories.patterns.{p.pattern!r}", p.regex) for p in rules.patterns
        ]
        for k in rules.keywords:
            where = f"service_categories.keywords.{k.category}"
            checks += [(f"{where}.match", keyword_regex([m])) for m in k.match]
            checks += [(f"{where}.exclude", keyword_regex([x])) for x in k.exclude]
        for where, regex in checks:
            try:
                con.execute("SELECT regexp_matches('', ?)", [regex])
            except duckdb.Error as exc:
                raise ConfigError(
                    f"{where}: {regex.removeprefix('(?i)')!r} is not a regular expression RE2"
                    f" reads: {str(exc).splitlines()[0]}"
                ) from None
    finally:
        con.close()


def keyword_regex(patterns: Sequence[str]) -> str:
    """The patterns as one case-insensitive alternation."""
    return "(?i)" + "|".join(f"(?:{p})" for p in patterns)
