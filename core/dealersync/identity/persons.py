"""The person graph: customer records that are one person, whatever the destination.

Two records are one person when they share a normalized email or phone, the same match keys
the suppression list uses (:mod:`dealersync.suppressions`): an email trimmed and lowercased; a
phone's digits without leading zeros, a North American number (10 digits, or 11 starting with 1)
by its last 10, other numbers of 7 or more digits as they are. Links are transitive (A shares an
email with B, B a phone with C: one person). The rules do not depend on any destination's
profiles, so an exclusion, a suppression or an opt-out holds alike for Meta, Google and Mailchimp.

The keys are the warehouse table ``_customer_match_keys``, kept current for the customers a
load changed (:meth:`SuppressionList.refresh_customer_keys`); each run then takes the keys more
than one customer holds (a few percent of them) and labels their connected components
(:func:`dealersync.identity.index.components`), all in SQL. Only customers of a person with two or
more records get a row in the run's temp table ``_person_of (customer_id, person_id)``; any other
customer is a person of one, whose person id is its own customer id.

A person's id is its **anchor record**: the smallest customer id among its records of the home
rooftop (ids that are not rooftop-qualified), else the smallest of all. The holdout is drawn on
the anchor, so a one-record person keeps the draw of its customer id, and adding a store never
changes the anchor of a person already known to the home rooftop.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from dealersync.identity.index import components
from dealersync.store import quote_literal
from dealersync.suppressions import CUSTOMER_KEYS, SuppressionList

#: The run's temp table: (customer_id, person_id) for the customers of multi-record persons.
PERSON_OF = "_person_of"
#: The match-key kinds that make two records one person.
PERSON_KINDS = ("email", "phone")


def build_person_graph(con: duckdb.DuckDBPyConnection, qualified_sources: Sequence[str] = ()) -> str:
    """(Re)build :data:`PERSON_OF` for this run; returns its name.

    ``qualified_sources``: the sources whose ids are rooftop-qualified (not the home rooftop's):
    their records are anchors only when a person has no other record.
    """
    SuppressionList(con).refresh_customer_keys()
    kinds = ", ".join(quote_literal(k) for k in PERSON_KINDS)
    tmp, created = "_persons_tmp", []  # type: ignore[var-annotated]
    t_edge = f"{tmp}_edge"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {t_edge} AS WITH k AS (SELECT DISTINCT customer_id AS cid,"
        f" kind || ':' || key_sha256 AS tok FROM {CUSTOMER_KEYS} WHERE kind IN ({kinds}))"
        " SELECT cid, tok FROM k WHERE tok IN (SELECT tok FROM k GROUP BY tok HAVING count(*) > 1)"
    )
    created.append(t_edge)
    try:
        t_label = components(con, t_edge, tmp, created)
        qualified = ", ".join(quote_literal(s) for s in qualified_sources) or "NULL"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {PERSON_OF} AS"
            f" WITH q AS (SELECT l.cid, l.lbl, coalesce(bool_or(c._source IN ({qualified})), false) AS qual"
            f"   FROM {t_label} l LEFT JOIN customers c ON c.customer_id = l.cid GROUP BY l.cid, l.lbl),"
            " a AS (SELECT lbl, arg_min(cid, (qual::INTEGER)::VARCHAR || cid) AS anchor FROM q GROUP BY lbl)"
            " SELECT q.cid AS customer_id, a.anchor AS person_id FROM q JOIN a USING (lbl)"
        )
    finally:
        for t in reversed(created):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return PERSON_OF


def person_ids_sql(customer_ids_sql: str) -> str:
    """SELECT person_id of every customer the SELECT ``customer_ids_sql`` (a customer_id
    column) yields, after :func:`build_person_graph`."""
    return (
        f"SELECT coalesce(p.person_id, s.customer_id) AS person_id FROM ({customer_ids_sql}) s"
        f" LEFT JOIN {PERSON_OF} p ON p.customer_id = s.customer_id"
    )


def without_persons_sql(records: str, persons_sql: str) -> str:
    """SELECT customer_id of table ``records`` whose person is not among ``persons_sql``."""
    return (
        f"SELECT r.customer_id FROM {records} r LEFT JOIN {PERSON_OF} p ON p.customer_id = r.customer_id"
        f" WHERE coalesce(p.person_id, r.customer_id) NOT IN ({persons_sql})"
    )
