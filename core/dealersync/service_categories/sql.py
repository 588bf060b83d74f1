"""The categorization in SQL, set-oriented: the distinct (op code, description) pairs go through the
four layers once, into ``_line_categories``; the lines join to it.

A warehouse holds millions of lines but few distinct pairs (a DMS prints the same menu text on
every line of an op code), so every regular expression runs once per pair, not per line. The
rules' regular expressions are bound parameters (DuckDB folds them into constants: each compiles
once per statement); the exact op codes are a table, ``_opcodes``, joined on the code.
"""

from __future__ import annotations

from typing import Any

from dealersync.service_categories.rules import CategoryRules, keyword_regex

#: The exact op codes of both layers: ``op_code`` (upper case), ``category`` (NULL: none),
#: ``layer`` ('dealer' or 'built-in').
OPCODES_TABLE = "_opcodes"
#: The categorized pairs: ``op_code`` and ``description`` as loaded, ``code`` (the op code upper
#: case, trimmed), ``categories`` (sorted), ``rules`` (the rule that gave each category) and
#: ``decided_by`` (the layer and rule that decided the set; NULL when no layer did).
LINE_CATEGORIES_TABLE = "_line_categories"

#: The status of a line ``l``: a line without one counts as performed.
LINE_STATUS_SQL = "COALESCE(lower(trim(l.status)), 'performed')"
#: The categorized pair ``c`` of a line ``l``: by its op code and description as loaded.
PAIR_OF_LINE_SQL = (
    "c.op_code IS NOT DISTINCT FROM l.op_code AND c.description IS NOT DISTINCT FROM l.description"
)

#: The description as keyword rules read it: lower case, a space between digits and letters
#: (``4TIRES``, ``5W30``), every other run of characters one space, a space at each end.
NORMALIZE_SQL = (
    "' ' || trim(regexp_replace(regexp_replace(regexp_replace(lower(COALESCE(description, '')),"
    " '([a-z])([0-9])', '\\1 \\2', 'g'), '([0-9])([a-z])', '\\1 \\2', 'g'), '[^a-z0-9]+', ' ', 'g'))"
    " || ' '"
)


def write_opcodes_table(con: Any, rules: CategoryRules, table: str = OPCODES_TABLE) -> None:
    """(Re)create ``_opcodes`` (or a temporary ``table``) from the rules' exact op codes (a code
    without category: one row with category NULL)."""
    rows = [
        (code, cat, layer)
        for layer, codes in (("dealer", rules.dealer_codes), ("built-in", rules.builtin_codes))
        for code, cats in codes.items()
        for cat in (cats or (None,))
    ]
    kind = "TABLE" if table == OPCODES_TABLE else "TEMP TABLE"
    con.execute(
        f"CREATE OR REPLACE {kind} {table}"
        " (op_code VARCHAR NOT NULL, category VARCHAR, layer VARCHAR NOT NULL)"
    )
    if rows:
        con.execute(
            f"INSERT INTO {table} SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),"
            " unnest(?::VARCHAR[])",
            [list(col) for col in zip(*rows, strict=True)],
        )


def categorize_sql(
    rules: CategoryRules, pairs: str, opcodes_table: str = OPCODES_TABLE
) -> tuple[str, dict[str, Any]]:
    """A SELECT of the columns of ``_line_categories`` for ``pairs`` (a table or parenthesized
    query with distinct ``op_code``, ``description``), and its named parameters.

    Reads ``opcodes_table`` (:func:`write_opcodes_table` first).
    """
    params: dict[str, Any] = {}
    arms = []
    for j, p in enumerate(rules.patterns, start=1):
        params[f"p{j}"] = p.regex
        arms.append(f"WHEN regexp_matches(COALESCE(n.code, ''), $p{j}) THEN {j}")
    pattern = f"CASE {' '.join(arms)} END" if arms else "CAST(NULL AS INTEGER)"
    hits = []
    for i, k in enumerate(rules.keywords, start=1):
        params[f"k{i}"] = keyword_regex(k.match)
        text = "n.text"
        for j, phrase in enumerate(k.exclude, start=1):  # one after another, in order
            params[f"x{i}_{j}"] = keyword_regex([phrase])
            # a removed phrase leaves one word, '_', so that the words around it stay words apart
            text = f"regexp_replace({text}, $x{i}_{j}, '_', 'g')"
        hits.append(f"CASE WHEN regexp_matches({text}, $k{i}) THEN {i} END")
    keywords = (
        f"list_filter([{', '.join(hits)}], lambda i: i IS NOT NULL)" if hits else "[]::INTEGER[]"
    )
    by_pattern = by_keyword = "NULL"
    if rules.patterns:
        params["pattern_cats"] = [list(p.categories) for p in rules.patterns]
        params["pattern_names"] = [f"dealer pattern {p.pattern}" for p in rules.patterns]
        by_pattern = (
            "{'categories': CAST($pattern_cats AS VARCHAR[][])[pat],"
            " 'decided_by': CAST($pattern_names AS VARCHAR[])[pat]}"
        )
    if rules.keywords:
        params["keyword_cats"] = [k.category for k in rules.keywords]
        params["keyword_names"] = [k.name for k in rules.keywords]
        by_keyword = (
            "{'categories': list_select(CAST($keyword_cats AS VARCHAR[]), kw),"
            " 'decided_by': 'keyword'}"
        )
    sql = f"""
WITH n AS (
    SELECT op_code, description, upper(trim(op_code)) AS code, {NORMALIZE_SQL} AS text
    FROM {pairs}),
codes AS (
    SELECT op_code AS code, layer,
           COALESCE(list(category ORDER BY category) FILTER (WHERE category IS NOT NULL),
                    []::VARCHAR[]) AS cats
    FROM {opcodes_table} GROUP BY op_code, layer),
m AS (
    SELECT n.op_code, n.description, n.code, d.cats AS dealer, b.cats AS builtin,
           {pattern} AS pat, {keywords} AS kw
    FROM n
    LEFT JOIN codes AS d ON d.code = COALESCE(n.code, '') AND d.layer = 'dealer'
    LEFT JOIN codes AS b ON b.code = COALESCE(n.code, '') AND b.layer = 'built-in'),
decided AS (
    SELECT op_code, description, code, kw, CASE
        WHEN dealer IS NOT NULL THEN {{'categories': dealer, 'decided_by': 'dealer code ' || code}}
        WHEN pat IS NOT NULL THEN {by_pattern}
        WHEN len(kw) > 0 THEN {by_keyword}
        WHEN builtin IS NOT NULL THEN {{'categories': builtin, 'decided_by': 'built-in code ' || code}}
        ELSE {{'categories': []::VARCHAR[], 'decided_by': CAST(NULL AS VARCHAR)}} END AS d
    FROM m)
SELECT op_code, description, code, d.categories AS categories,
       CASE WHEN d.decided_by = 'keyword'
            THEN {"list_select(CAST($keyword_names AS VARCHAR[]), kw)" if rules.keywords else "[]"}
            ELSE list_transform(d.categories, lambda c: d.decided_by) END AS rules,
       d.decided_by AS decided_by
FROM decided"""
    return sql, params


def categorize_warehouse(con: Any, rules: CategoryRules, table: str) -> None:
    """Every pair of ``ro_lines`` categorized by ``rules`` into the temporary ``table`` (the
    warehouse's own ``_opcodes`` and ``_line_categories`` stay as the last facts build made them)."""
    write_opcodes_table(con, rules, f"{table}_opcodes")
    sql, params = categorize_sql(
        rules, "(SELECT DISTINCT op_code, description FROM ro_lines)", f"{table}_opcodes"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}", params)
    con.execute(f"DROP TABLE {table}_opcodes")


def build_line_categories(con: Any, rules: CategoryRules) -> None:
    """(Re)create ``_opcodes`` and ``_line_categories`` for every pair of ``ro_lines``."""
    write_opcodes_table(con, rules)
    sql, params = categorize_sql(rules, "(SELECT DISTINCT op_code, description FROM ro_lines)")
    con.execute(f"CREATE OR REPLACE TABLE {LINE_CATEGORIES_TABLE} AS {sql}", params)


def add_new_line_pairs(con: Any, rules: CategoryRules) -> None:
    """Categorize the pairs of ``ro_lines`` that ``_line_categories`` does not hold yet (the
    rules are those it was built with: the facts fingerprint covers them)."""
    new = (
        "(SELECT DISTINCT op_code, description FROM ro_lines"
        f" EXCEPT SELECT op_code, description FROM {LINE_CATEGORIES_TABLE})"
    )
    sql, params = categorize_sql(rules, new)
    con.execute(f"INSERT INTO {LINE_CATEGORIES_TABLE} {sql}", params)
