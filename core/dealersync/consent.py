"""Consent per channel: who a destination may reach, decided per person.

The audience policy (:mod:`dealersync.policy`) picks an audience's customers before any
destination sees them; consent comes after, per destination, because it depends on the
destination's channel (``ads``, ``email``, ``sms``). A record passes when its own consent rule
(:data:`CONSENT_SQL`) holds and no record of its person is opted out of the channel
(:data:`OPT_OUT_SQL`) or on the suppression list for it. :class:`ChannelConsent` makes those sets
once per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from dealersync.connectors import Channel
from dealersync.identity.persons import person_ids_sql, without_persons_sql
from dealersync.store import quote_ident, quote_literal, scalar_int
from dealersync.suppressions import SuppressionList

#: Who may be reached on each channel. Kept here so every audience applies the same rule.
CONSENT_SQL: dict[str, str] = {
    "ads": "coalesce(NOT do_not_market, true)",
    "email": "coalesce(email_opt_in, false) AND NOT coalesce(do_not_email, false)"
    " AND NOT coalesce(do_not_market, false)",
    "sms": "coalesce(sms_opt_in, false) AND NOT coalesce(do_not_market, false)",
}


#: What makes a record opted out of a channel: an opt-out of one record applies to its person.
OPT_OUT_SQL: dict[str, str] = {
    "ads": "coalesce(do_not_market, false)",
    "email": "coalesce(do_not_email, false) OR coalesce(do_not_market, false)",
    "sms": "coalesce(do_not_market, false)",
}


def consent_filter_sql(channel: Channel) -> str:
    """SELECT of the customer ids the channel's consent rule lets through (record by record)."""
    return f"SELECT customer_id FROM customers WHERE {CONSENT_SQL[channel]}"


def person_consent_sql(
    channel: Channel, suppressed_for_channel_sql: str, rooftop_only_sources: Sequence[str] = ()
) -> str:
    """SELECT of the customer ids the channel lets through, per person: the record's own consent
    rule passes and no record of its person is opted out of the channel (:data:`OPT_OUT_SQL`) or
    suppressed for it (``suppressed_for_channel_sql``: the list's entries of this channel's scope).
    An opt-out recorded by one of ``rooftop_only_sources`` (rooftops whose opt-outs are local,
    see docs/dealer-groups.md) keeps only that record out. Needs the run's person graph
    (:func:`dealersync.identity.persons.build_person_graph`)."""
    local = ", ".join(quote_literal(s) for s in rooftop_only_sources)
    group_wide = f" AND _source NOT IN ({local})" if local else ""
    opted_out = person_ids_sql(
        f"SELECT customer_id FROM customers WHERE ({OPT_OUT_SQL[channel]}){group_wide}"
        f" UNION ALL {suppressed_for_channel_sql}"
    )
    return without_persons_sql(f"({consent_filter_sql(channel)})", opted_out)


@dataclass(frozen=True)
class Consented:
    """An audience's customers a channel lets through (``table``: a temp table of customer_id,
    quoted) and the counts of customers in the audience and let through."""

    table: str
    in_audience: int
    customers: int


class ChannelConsent:
    """One run's consent sets, each made once: per channel, the customers it lets through; per
    audience and channel, the audience's customers among them (an audience's destinations often
    share a channel). Needs the run's person graph; :meth:`drop` removes the temp tables."""

    def __init__(self, con: duckdb.DuckDBPyConnection, rooftop_only_sources: Sequence[str] = ()) -> None:
        self._con = con
        self._rooftop_only_sources = tuple(rooftop_only_sources)
        self._channels: dict[Channel, str] = {}
        self._audiences: dict[tuple[str, Channel], Consented] = {}

    def of(self, audience_table: str, channel: Channel) -> Consented:
        """The customers of ``audience_table`` (each once, as policy builds it) ``channel`` lets through."""
        key = (audience_table, channel)
        if key not in self._audiences:
            table = quote_ident(f"_consented_{audience_table}_{channel}")
            self._con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT customer_id FROM {quote_ident(audience_table)}"
                f" WHERE customer_id IN (SELECT customer_id FROM {self._channel(channel)})"
            )
            in_audience = scalar_int(self._con, f"SELECT count(customer_id) FROM {quote_ident(audience_table)}")
            self._audiences[key] = Consented(table, in_audience, scalar_int(self._con, f"SELECT count(*) FROM {table}"))
        return self._audiences[key]

    def _channel(self, channel: Channel) -> str:
        """The temp table of the customers ``channel`` lets through, with this run's suppressions."""
        if channel not in self._channels:
            table = quote_ident(f"_consent_{channel}")
            suppressed = SuppressionList(self._con).suppressed_customers_sql(channel)
            sql = person_consent_sql(channel, suppressed, self._rooftop_only_sources)
            self._con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
            self._channels[channel] = table
        return self._channels[channel]

    def drop(self) -> None:
        for table in [*self._channels.values(), *(c.table for c in self._audiences.values())]:
            self._con.execute(f"DROP TABLE IF EXISTS temp.{table}")
        self._channels.clear()
        self._audiences.clear()
