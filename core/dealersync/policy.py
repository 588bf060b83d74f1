"""Audience policy: from a segment to the customers an audience may reach, and who was dropped why.

Policy applies to the **person** (:mod:`dealersync.identity.persons`: records sharing a
normalized email or phone), not the record: a person is in an audience when any of its records
is in the segment and none of its records is excluded, suppressed, outranked; the holdout is drawn
once per person. The records sent are the person's records in the segment. Applied in this order,
before any destination sees anyone (consent, which depends on the destination's channel, comes
after, per destination, also per person: :mod:`dealersync.consent`):

1. the segment, minus every person with a record in one of the audience's ``exclude`` segments;
2. the suppression list's channel-wide entries (:mod:`dealersync.suppressions`): minus every
   person with a suppressed record;
3. priority groups: a person eligible for a higher-ranked audience of the same group (rank 1 is
   the highest) is left out of the lower ones;
4. the holdout: a deterministic share of persons, chosen by SHA-256 of the audience's salt and the
   person's anchor record id, so the same person stays held out run after run, and a one-record
   person keeps the draw of its customer id; recorded per run in ``_holdouts`` (one row per
   record) so lift can be measured later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import duckdb

from dealersync.config import AudienceSettings
from dealersync.identity.persons import PERSON_OF, build_person_graph, person_ids_sql, without_persons_sql
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


def holdout_sql(salt: str, share: float, draw_id: str = "customer_id") -> tuple[str, list[object]]:
    """Predicate true for the held out: the first 32 bits of SHA-256(salt:id) below the share.
    ``draw_id``: the SQL of the id drawn on (the person's anchor record id, see :class:`AudiencePolicy`)."""
    return (
        f"(('0x' || left(sha256(? || ':' || {draw_id}), 8))::UBIGINT < ?)",
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
        qualified_sources: Sequence[str] = (),
    ) -> None:
        self._timings = timings or Timings()
        self._con = con
        self._audiences = audiences
        self._compile = compile
        self._eligible: dict[str, str] = {}
        self._suppressed = "_suppressed"  # suppressed records
        self._suppressed_persons = "_suppressed_persons"
        with self._timings.step("policy"):
            build_person_graph(con, qualified_sources)
            self._table(self._suppressed, SuppressionList(con).suppressed_customers_sql())
            self._table(self._suppressed_persons, person_ids_sql(f"SELECT customer_id FROM {self._suppressed}"))
        con.execute(HOLDOUTS_DDL)

    def eligible(self, name: str) -> str:
        """Temp table: the audience's segment records whose person has no excluded or suppressed
        record (cached per run)."""
        if name not in self._eligible:
            aud = self._audiences[name]
            seg, kept, excluded = (quote_ident(f"_{t}_{name}") for t in ("segment", "kept", "excluded"))
            with self._timings.step("segments") as step:
                c = self._compile(aud.segment)
                self._table(f"_segment_{name}", f"SELECT DISTINCT customer_id FROM ({c.sql})", c.params)
                parts = [self._compile(x) for x in aud.exclude]
                union = " UNION ".join(f"({p.sql})" for p in parts) or "SELECT NULL::VARCHAR AS customer_id LIMIT 0"
                self._table(f"_excluded_{name}", union, [v for p in parts for v in p.params])
                step.rows += self._size(f"_segment_{name}")
            with self._timings.step("policy"):
                self._table(f"_kept_{name}", without_persons_sql(seg, person_ids_sql(f"SELECT customer_id FROM {excluded}")))
                self._table(f"_eligible_{name}", without_persons_sql(kept, f"SELECT person_id FROM {self._suppressed_persons}"))
            self._eligible[name] = f"_eligible_{name}"
        return self._eligible[name]

    def select(self, name: str) -> Selection:
        """The audience's customers after policy, in temp table ``_audience_<name>``, with the drops."""
        eligible = self.eligible(name)
        sel = Selection(name, f"_audience_{name}")
        sel.segment_size = self._size(f"_segment_{name}")
        with self._timings.step("policy") as step:
            self._apply_policy(name, sel, eligible)
            step.rows += sel.customers
        return sel

    def _apply_policy(self, name: str, sel: Selection, eligible: str) -> None:
        aud = self._audiences[name]
        kept, n_eligible = self._size(f"_kept_{name}"), self._size(eligible)
        sel.excluded, sel.suppressed = sel.segment_size - kept, kept - n_eligible
        higher = " UNION ALL ".join(f"SELECT customer_id FROM {quote_ident(self.eligible(h))}" for h in self._higher_ranked(name))
        self._table(sel.table, without_persons_sql(quote_ident(eligible), person_ids_sql(higher)) if higher else f"SELECT customer_id FROM {quote_ident(eligible)}")
        sel.outranked = n_eligible - self._size(sel.table)
        if aud.holdout:
            pred, params = holdout_sql(self.salt(name), aud.holdout, "coalesce(p.person_id, t.customer_id)")
            self._table(
                f"_holdout_{name}",
                f"SELECT t.customer_id FROM {quote_ident(sel.table)} t LEFT JOIN {PERSON_OF} p USING (customer_id) WHERE {pred}",
                params,
            )
            self._con.execute(f'DELETE FROM {quote_ident(sel.table)} WHERE customer_id IN (SELECT customer_id FROM {quote_ident("_holdout_" + name)})')
            sel.held_out = self._size(f"_holdout_{name}")
        sel.customers = self._size(sel.table)

    def removed_through_another_record(self, name: str) -> list[tuple[str, str, str]]:
        """(customer id, step, the other record's customer id) for each of the audience's segment
        records dropped only because another record of the same person was excluded or
        suppressed (ids only: no PII), after :meth:`select`."""
        seg, excluded = quote_ident(f"_segment_{name}"), quote_ident(f"_excluded_{name}")
        steps = (("excluded", excluded), ("suppressed", quote_ident(self._suppressed)))
        sql = " UNION ALL ".join(
            f"SELECT s.customer_id, '{step}', min(o.customer_id) FROM {seg} s"
            f" JOIN {PERSON_OF} me ON me.customer_id = s.customer_id"
            f" JOIN {PERSON_OF} o ON o.person_id = me.person_id AND o.customer_id <> s.customer_id"
            f" JOIN {table} x ON x.customer_id = o.customer_id"
            f" WHERE s.customer_id NOT IN (SELECT customer_id FROM {table} WHERE customer_id IS NOT NULL)"
            " GROUP BY s.customer_id"
            for step, table in steps
        )
        rows = self._con.execute(f"SELECT * FROM ({sql}) ORDER BY 1, 2").fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

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
