"""What the warehouse's op codes carry: lines, customers, revenue, last seen, categories.

Read by ``dealersync opcodes`` and by the sync's warning about uncategorized revenue, over the
same lines: every line of ``ro_lines`` (all repair orders, whatever their pay type or date).
Revenue is labor + parts of performed lines (a line without a status counts as performed):
declined and recommended lines are quotes, not sales. A line is *uncategorized* when no layer
decided it; one a dealer rule gave no category (``[]``, ``none``) was decided and is not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dealersync.service_categories.sql import LINE_CATEGORIES_TABLE, LINE_STATUS_SQL, PAIR_OF_LINE_SQL

_AMOUNT = "COALESCE(l.labor_amount, 0) + COALESCE(l.parts_amount, 0)"

#: Each line with its pair's categorization (``{pairs}``: a categorized-pairs table).
_LINES_SQL = f"""
SELECT COALESCE(c.code, '') AS code, c.description, c.decided_by IS NULL AS unknown, r.customer_id,
       COALESCE(r.opened_on, r.closed_on) AS date,
       {LINE_STATUS_SQL} = 'performed' AS performed,
       {_AMOUNT} AS amount
FROM ro_lines AS l
JOIN {{pairs}} AS c ON {PAIR_OF_LINE_SQL}
LEFT JOIN repair_orders AS r ON r.ro_id = l.ro_id"""

#: Revenue of the uncategorized performed lines and of all: summed per pair first (few), then
#: joined to the pairs' categorization.
_SHARE_SQL = f"""
WITH l AS (SELECT op_code, description, sum({_AMOUNT}) AS revenue
           FROM ro_lines AS l WHERE {LINE_STATUS_SQL} = 'performed'
           GROUP BY op_code, description)
SELECT COALESCE(sum(l.revenue) FILTER (WHERE c.decided_by IS NULL), 0), COALESCE(sum(l.revenue), 0)
FROM l JOIN {{pairs}} AS c ON {PAIR_OF_LINE_SQL}"""

#: Per op code: its lines, then the categories its pairs were given and by which rule.
_USAGE_SQL = """
WITH l AS ({lines}),
per_code AS (
    SELECT code, mode(description) AS description, count(*) AS lines,
           count(DISTINCT customer_id) AS customers,
           COALESCE(sum(amount) FILTER (WHERE performed), 0) AS revenue,
           COALESCE(sum(amount) FILTER (WHERE performed AND unknown), 0) AS uncategorized_revenue,
           count(*) FILTER (WHERE unknown) AS uncategorized_lines,
           max(date) AS last_seen
    FROM l GROUP BY code),
decided AS (
    SELECT code, list(DISTINCT struct_pack(category := category, rule := rule)
                      ORDER BY struct_pack(category := category, rule := rule)) AS decided
    FROM (SELECT COALESCE(code, '') AS code, unnest(categories) AS category, unnest(rules) AS rule
          FROM {pairs}
          UNION ALL
          SELECT COALESCE(code, ''), NULL, decided_by FROM {pairs}
          WHERE len(categories) = 0 AND decided_by IS NOT NULL)
    GROUP BY code)
SELECT p.*, COALESCE(d.decided, []) AS decided
FROM per_code AS p LEFT JOIN decided AS d ON d.code = p.code
ORDER BY p.uncategorized_lines > 0 DESC, p.uncategorized_revenue DESC, p.revenue DESC, p.code"""


@dataclass(frozen=True)
class OpcodeUsage:
    """One op code of the warehouse (``""``: lines without one)."""

    op_code: str
    description: str | None  # its most common description
    lines: int
    customers: int
    revenue: float
    uncategorized_revenue: float
    uncategorized_lines: int
    last_seen: dt.date | None
    #: (category, rule) for each category its lines were given; (None, rule) when a dealer rule
    #: gave no category
    decided: tuple[tuple[str | None, str], ...]

    @property
    def categories(self) -> list[str]:
        return sorted({c for c, _ in self.decided if c is not None})


def opcode_usage(con: Any, pairs: str) -> list[OpcodeUsage]:
    """Every op code of ``ro_lines``, uncategorized ones first (by their uncategorized revenue),
    then by revenue. ``pairs``: the categorized pairs (``_line_categories`` or a table made by
    :func:`~dealersync.service_categories.sql.categorize_warehouse`)."""
    sql = _USAGE_SQL.format(lines=_LINES_SQL.format(pairs=pairs), pairs=pairs)
    out = []
    for row in con.execute(sql).fetchall():
        *head, decided = row
        out.append(OpcodeUsage(*head, decided=tuple((d["category"], d["rule"]) for d in decided)))
    return out


def uncategorized_share(con: Any, pairs: str = LINE_CATEGORIES_TABLE) -> tuple[float, float]:
    """(revenue of uncategorized performed lines, revenue of all performed lines)."""
    row = con.execute(_SHARE_SQL.format(pairs=pairs)).fetchone()
    return (float(row[0]), float(row[1])) if row else (0.0, 0.0)


def uncategorized_warning(con: Any, threshold: float) -> str | None:
    """The sync's warning when uncategorized lines carry more than ``threshold`` of the revenue
    (read from ``_line_categories``: run after the facts build)."""
    uncategorized, total = uncategorized_share(con)
    if total <= 0 or uncategorized / total <= threshold:
        return None
    return (
        f"uncategorized repair-order lines carry {uncategorized / total:.1%} of the service revenue"
        f" (more than {threshold:.0%}): category segments miss them. See which op codes with"
        " 'dealersync opcodes' and set their categories (docs/data-model.md, 'Service categories';"
        " the threshold is [service_categories] uncategorized_warning)"
    )
