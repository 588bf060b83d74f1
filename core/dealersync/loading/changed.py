"""Which customers a table's replace changed, for the change log (:mod:`dealersync.changes`).

Computed in the replace's transaction, before the source's old rows are deleted, set-oriented:
the old rows of the source (from the table) and the new rows (from the staging) are joined on
the table's key, each side carrying a 64-bit ``hash()`` of every model column and its customer
ids; a key on one side only (added, removed) or whose hashes differ (changed) gives the
customers on both sides. The lineage columns (``_line``, ``_source_id``) are left out: a row that
only moved in the file changes nothing a derived table reads. Measured on ro_lines of the
100k-customer benchmark extract (731k rows, 1% changed; CPU seconds): key join with hashes
0.28, full-row EXCEPT one way 0.37 (both ways ~0.7), symmetric EXCEPT of hashes 0.47, GROUP BY
hash 0.56. A changed row whose 64-bit hash equals its old one would hide a change; the odds
(changed rows / 2^64) are negligible.

Customer ids are every column named ``customer_id`` or ending in ``_customer_id`` (a deal's
buyer and co-buyer). ``ro_lines`` has none: its changed ``ro_id`` s are mapped to customers
through ``repair_orders`` as it is at that point (canonical load order replaces repair orders
first, so that is the new mapping; a repair order that moved to another customer or was removed
is itself a changed ``repair_orders`` row, which records its old customer).

A source's first load of a table (no rows of it before) records "everyone changed" rather than
every customer. ``suppressions`` records nothing: no derived table computed from the canonical
tables reads it (the facts read customers, vehicles, deals, repair orders and their lines,
appointments, leads and events; the identity index reads customers); suppressions are applied
by the audience policy step, which recomputes them on every run, and most of its rows (keyed
by email or phone only) could not be tied to a customer cheaply anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dealersync.changes import record_changes, record_everything_changed
from dealersync.loading.sql import ident
from dealersync.loading.staging import Scratch
from dealersync.model import Table

#: Tables no derived table reads (see the module docstring): their loads record no change.
NOT_DERIVED = frozenset({"suppressions"})
#: Tables tied to customers through another table: (its column, table, that table's column).
LINKED = {"ro_lines": ("ro_id", "repair_orders", "ro_id")}


def customer_columns(table: Table) -> list[str]:
    """The table's columns that hold a customer id."""
    return [
        c for c in table.column_names if c == "customer_id" or c.endswith("_customer_id")
    ]


@dataclass
class Changed:
    """What a replace changed: nothing, everyone, or the customers of ``sql``."""

    kind: Literal["none", "everyone", "customers"]
    sql: str = ""

    def record(self, con: object) -> None:
        """Record it in the change log, in the caller's transaction."""
        if self.kind == "everyone":
            record_everything_changed(con)
        elif self.kind == "customers":
            record_changes(con, self.sql)


def diff_customers(
    scratch: Scratch, table: Table, source: str, new_rows: str, n: int
) -> Changed:
    """The customers whose rows of ``source`` in ``table`` differ between the table (old) and
    ``new_rows`` (a FROM clause of the new rows, model columns by name). Call before the old
    rows are deleted."""
    con = scratch.con
    if table.name in NOT_DERIVED:
        return Changed("none")
    had_rows = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {ident(table.name)} WHERE _source = ? LIMIT 1)",
        [source],
    ).fetchall()[0][0]
    if not had_rows:
        has_new = con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {new_rows} LIMIT 1)"
        ).fetchall()[0][0]
        return Changed("everyone" if has_new else "none")
    link = LINKED.get(table.name)
    ids = [link[0]] if link else customer_columns(table)
    if not ids or not table.key:  # pragma: no cover - none today: be safe, not precise
        return Changed("everyone")
    row_hash = "hash(" + ", ".join(ident(c) for c in table.column_names) + ")"
    keys = [f"{ident(k)} AS k{i}" for i, k in enumerate(table.key)]
    picked = ", ".join(
        keys + [f"{row_hash} AS h"] + [f"{ident(c)} AS c{i}" for i, c in enumerate(ids)]
    )
    outs = ", ".join(f"o.c{i} AS o{i}, n.c{i} AS n{i}" for i in range(len(ids)))
    using = ", ".join(f"k{i}" for i in range(len(table.key)))
    chg = scratch.name("TABLE", f"{n}_chg")
    con.execute(
        f"CREATE TEMP TABLE {ident(chg)} AS SELECT {outs}"
        f" FROM (SELECT {picked} FROM {ident(table.name)} WHERE _source = ?) o"
        f" FULL JOIN (SELECT {picked} FROM {new_rows}) n USING ({using})"
        " WHERE o.h IS DISTINCT FROM n.h",
        [source],
    )
    sides = [f"{side}{i}" for i in range(len(ids)) for side in ("o", "n")]
    if link:
        _, other, other_col = link
        sql = (
            f"SELECT o.customer_id FROM {ident(other)} o"
            f" WHERE o.{ident(other_col)} IN"
            f" (SELECT o0 FROM {ident(chg)} UNION ALL SELECT n0 FROM {ident(chg)})"
        )
    else:
        sql = " UNION ALL ".join(f"SELECT {c} FROM {ident(chg)}" for c in sides)
    return Changed("customers", sql)
