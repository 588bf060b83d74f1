"""Audience policy: from a segment to the customers an audience may reach, and who was dropped why.

Applied in this order, before any destination sees anyone (consent, which depends on the
destination's channel, comes after, per destination):

1. the segment, minus the audience's ``exclude`` segments;
2. the global suppression list (:mod:`dealersync.suppressions`);
3. priority groups: a customer eligible for a higher-ranked audience of the same group
   (rank 1 is the highest) is left out of the lower ones;
4. the holdout: a deterministic share of customers, chosen by SHA-256 of the audience's salt and
   the customer id, so the same customer stays held out run after run; recorded per run in
   ``_holdouts`` so lift can be measured later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import duckdb

from dealersync.config import AudienceSettings
from dealersync.segments import CompiledSQL
from dealersync.store import quote_ident, scalar_int
from dealersync.suppressions import SuppressionList
from dealersync.timing import Timings

HOLDOUTS_DDL = """
CREATE TABLE IF NOT EXISTS _holdouts (
    run_id VARCHAR, as_of DATE, audience VARCHAR, salt VARCHAR, share DOUBLE, customer_id VARCHAR
)"""


@dataclass
class Selection:
    """An audience's customers after policy (``table``, a temp table holding each customer_id
    once: it is made by set operations) and the drops."""

    audience: str
    table: str
    segment_size: int = 0
    excluded: int = 0
    suppressed: int = 0
    outranked: int = 0  # in a higher-ranked audience of the same priority group
    held_out: int = 0
    customers: int = 0


def holdout_sql(salt: str, share: float) -> tuple[str, list[object]]:
    """Predicate true for held-out customers: the first 32 bits of SHA-256(salt:id) below the share."""
    return (
        "(('0x' || left(sha256(? || ':' || customer_id), 8))::UBIGINT < ?)",
        [salt, int(share * 2**32)],
    )


class AudiencePolicy:
    """Selects audiences for one run; caches the eligible sets priority groups compare against."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        audiences: Mapping[str, AudienceSettings],
        compile: Callable[[str], CompiledSQL],
        timings: Timings | None = None,
    ) -> None:
        self._timings = timings or Timings()
        self._con = con
        self._audiences = audiences
        self._compile = compile
        self._eligible: dict[str, str] = {}
        self._suppressed = "_suppressed"
        with self._timings.step("policy"):
            self._table(self._suppressed, SuppressionList(con).suppressed_customers_sql())
        con.execute(HOLDOUTS_DDL)

    def eligible(self, name: str) -> str:
        """Temp table: the audience's segment minus its excludes and the suppressed (cached per run)."""
        if name not in self._eligible:
            aud = self._audiences[name]
            with self._timings.step("segments") as step:
                parts = [self._compile(s) for s in [aud.segment, *aud.exclude]]
                sql = " EXCEPT ".join(f"({c.sql})" for c in parts)
                self._table(f"_kept_{name}", sql, [p for c in parts for p in c.params])
                step.rows += self._size(f"_kept_{name}")
            with self._timings.step("policy"):
                self._table(
                    f"_eligible_{name}",
                    f'SELECT customer_id FROM {quote_ident("_kept_" + name)} EXCEPT SELECT customer_id FROM {quote_ident(self._suppressed)}',
                )
            self._eligible[name] = f"_eligible_{name}"
        return self._eligible[name]

    def select(self, name: str) -> Selection:
        """The audience's customers after policy, in temp table ``_audience_<name>``, with the drops."""
        aud = self._audiences[name]
        seg = self._compile(aud.segment)
        eligible = self.eligible(name)
        sel = Selection(name, f"_audience_{name}")
        with self._timings.step("segments"):
            # without excludes the kept table is the segment: no second evaluation to count it
            sel.segment_size = (
                self._count(f"SELECT count(*) FROM ({seg.sql})", seg.params) if aud.exclude
                else self._size(f"_kept_{name}")
            )
        with self._timings.step("policy") as step:
            self._apply_policy(name, sel, eligible)
            step.rows += sel.customers
        return sel

    def _apply_policy(self, name: str, sel: Selection, eligible: str) -> None:
        aud = self._audiences[name]
        kept, n_eligible = self._size(f"_kept_{name}"), self._size(eligible)
        sel.excluded, sel.suppressed = sel.segment_size - kept, kept - n_eligible
        outranking = "".join(f' EXCEPT SELECT customer_id FROM {quote_ident(self.eligible(h))}' for h in self._higher_ranked(name))
        self._table(sel.table, f'SELECT customer_id FROM {quote_ident(eligible)}{outranking}')
        sel.outranked = n_eligible - self._size(sel.table)
        if aud.holdout:
            pred, params = holdout_sql(self.salt(name), aud.holdout)
            self._table(f"_holdout_{name}", f'SELECT customer_id FROM {quote_ident(sel.table)} WHERE {pred}', params)
            self._con.execute(f'DELETE FROM {quote_ident(sel.table)} WHERE customer_id IN (SELECT customer_id FROM {quote_ident("_holdout_" + name)})')
            sel.held_out = self._size(f"_holdout_{name}")
        sel.customers = self._size(sel.table)

    def record_holdout(self, run_id: str, as_of: dt.date, name: str) -> None:
        aud = self._audiences[name]
        if aud.holdout:
            self._con.execute(
                f'INSERT INTO _holdouts SELECT ?, ?, ?, ?, ?, customer_id FROM {quote_ident("_holdout_" + name)}',
                [run_id, as_of, name, self.salt(name), aud.holdout],
            )

    def salt(self, name: str) -> str:
        return self._audiences[name].holdout_salt or name

    def _higher_ranked(self, name: str) -> list[str]:
        aud = self._audiences[name]
        if aud.priority_group is None:
            return []
        return [
            other
            for other, o in self._audiences.items()
            if o.priority_group == aud.priority_group and o.priority < aud.priority
        ]

    def _table(self, name: str, sql: str, params: list[object] | None = None) -> None:
        self._con.execute(f'CREATE OR REPLACE TEMP TABLE {quote_ident(name)} AS {sql}', params or [])

    def _size(self, table: str) -> int:
        return self._count(f'SELECT count(*) FROM {quote_ident(table)}')

    def _count(self, sql: str, params: list[object] | None = None) -> int:
        return scalar_int(self._con, sql, params)
