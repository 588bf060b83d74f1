"""Service categories of repair-order lines: four layers of rules, first decision wins.

1. the dealer's exact op codes (``[service_categories.opcodes]``, ``[opcodes]``, ``opcodes_file``),
2. the dealer's op-code patterns (``[service_categories.patterns]``, first match in file order),
3. keyword rules on the line's description, built in (:mod:`.builtin`) and the dealer's
   (``[service_categories.keywords.<category>]``), with exclude phrases that veto a category
   (``TIRE ROTATION`` is rotation, not a tire purchase); every matching category is given,
4. the built-in exact op codes (:data:`dealersync.opcodes.DEFAULT_OPCODES`).

The first layer that decides a line decides its whole set of categories; a line no layer
decides stays uncategorized, never guessed. ``docs/data-model.md`` ("Service categories") is the
dealer's description; :func:`categorize_lines` runs the very SQL the facts build runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dealersync.service_categories.rules import (
    LAYERS,
    CategoryRules,
    KeywordRule,
    PatternRule,
    category_rules,
)
from dealersync.service_categories.settings import KeywordRuleSettings, ServiceCategorySettings
from dealersync.service_categories.sql import (
    LINE_CATEGORIES_TABLE,
    OPCODES_TABLE,
    categorize_sql,
    write_opcodes_table,
)

if TYPE_CHECKING:
    from dealersync.config import Config

__all__ = [
    "LAYERS",
    "LINE_CATEGORIES_TABLE",
    "OPCODES_TABLE",
    "CategoryRules",
    "KeywordRule",
    "KeywordRuleSettings",
    "PatternRule",
    "ServiceCategorySettings",
    "categorize_lines",
    "category_rules",
    "config_rules",
]


def config_rules(config: Config) -> CategoryRules:
    """The rules of a loaded ``connectors.toml``."""
    s = config.settings
    return category_rules(s.service_categories, opcodes=s.opcodes, base_dir=config.base_dir)


def categorize_lines(
    rows: Sequence[tuple[str | None, str | None]], rules: CategoryRules | None = None
) -> list[list[tuple[str, str]]]:
    """The categories of each ``(op_code, description)`` line, as ``(category, decided_by)``
    pairs sorted by category (empty: uncategorized), in the order of ``rows``.

    Runs the facts build's SQL on an in-memory DuckDB (tests, the fixture evaluation, the sample
    generator's checks). ``rules``: the built-in ones by default.
    """
    import duckdb

    rules = rules if rules is not None else category_rules()
    con = duckdb.connect()
    try:
        write_opcodes_table(con, rules)
        codes = [r[0] for r in rows]
        descriptions = [r[1] for r in rows]
        con.execute(
            "CREATE TABLE lines AS SELECT unnest(?::VARCHAR[]) AS op_code,"
            " unnest(?::VARCHAR[]) AS description, unnest(range(?)) AS i",
            [codes, descriptions, len(rows)],
        )
        sql, params = categorize_sql(rules, "(SELECT DISTINCT op_code, description FROM lines)")
        con.execute(f"CREATE TABLE pairs AS {sql}", params)
        found = con.execute(
            "SELECT p.categories, p.rules FROM lines AS l JOIN pairs AS p"
            " ON p.op_code IS NOT DISTINCT FROM l.op_code"
            " AND p.description IS NOT DISTINCT FROM l.description ORDER BY l.i"
        ).fetchall()
    finally:
        con.close()
    return [list(zip(cats, decided, strict=True)) for cats, decided in found]
