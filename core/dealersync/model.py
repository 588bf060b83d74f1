"""The canonical dealer data model, defined once.

Every table is described by a :class:`Table` (columns, types, key). From that one description
come the DuckDB tables of the warehouse, the pydantic record models that API sources validate
against, the generic CSV layout of the ``dms-csv`` source, and ``docs/data-model.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model

ColumnType = Literal["text", "integer", "decimal", "date", "timestamp", "boolean"]

#: DuckDB type for each canonical column type.
DUCKDB_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}

_PY_TYPES: dict[str, type] = {
    "text": str,
    "integer": int,
    "decimal": float,
    "date": dt.date,
    "timestamp": dt.datetime,
    "boolean": bool,
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "text"
    description: str = ""
    #: The canonical values of an enumerated text column (empty: any text). A loaded row holds
    #: one of them or NULL; a DMS's own spellings are mapped onto them while loading
    #: (:mod:`dealersync.vocabularies`).
    choices: tuple[str, ...] = ()
    #: An enumerated column's value for a cell no vocabulary knows, where holding the row back
    #: would be unsafe (a suppression entry held back suppresses nobody): the row is loaded
    #: with it and the cell still reported, with :attr:`fallback_effect` in the reason
    #: (:func:`dealersync.vocabularies.fallback_reason`). None: such a row is quarantined.
    fallback: str | None = None
    #: What loading with the fallback means, in the dealer's words ("applied to every channel").
    fallback_effect: str = ""


@dataclass(frozen=True)
class Table:
    """One canonical table: its name is also the generic extract's file stem (``customers.csv``)."""

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str = ""
    optional: bool = False
    _model: Any = field(default=None, compare=False, repr=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def record_model(self) -> type[BaseModel]:
        """The pydantic model API sources validate their records against (built once)."""
        if self._model is None:
            fields: dict[str, Any] = {}
            for c in self.columns:
                py = _PY_TYPES[c.type]
                if c.name in self.key:
                    fields[c.name] = (py, ...)
                else:
                    fields[c.name] = (py | None, None)
            model = create_model(  # type: ignore[call-overload]
                "".join(p.title() for p in self.name.split("_")) + "Record",
                __config__=ConfigDict(extra="forbid", str_strip_whitespace=False),
                **fields,
            )
            object.__setattr__(self, "_model", model)
        return self._model  # type: ignore[no-any-return]


def _cols(
    spec: str,
    choices: dict[str, tuple[str, ...]] | None = None,
    fallbacks: dict[str, tuple[str, str]] | None = None,
) -> tuple[Column, ...]:
    """Parse ``"name:type, name:type"`` (type defaults to text) into columns; ``choices`` gives
    the canonical values of the enumerated ones, ``fallbacks`` (value, effect) the fallback of
    those that declare one (:attr:`Column.fallback`)."""
    choices = choices or {}
    fallbacks = fallbacks or {}
    out = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, typ = part.partition(":")
        name = name.strip()
        fallback, effect = fallbacks.get(name, (None, ""))
        out.append(
            Column(name, (typ.strip() or "text"), choices=choices.get(name, ()),  # type: ignore[arg-type]
                   fallback=fallback, fallback_effect=effect)
        )
    unknown = (set(choices) | set(fallbacks)) - {c.name for c in out}
    if any(fallbacks[c][0] not in choices.get(c, ()) for c in fallbacks):
        raise ValueError("a fallback must be one of its column's choices")  # pragma: no cover
    if unknown:
        raise ValueError(f"choices for unknown columns {sorted(unknown)}")  # pragma: no cover
    return tuple(out)


# The canonical values of the enumerated columns. Facts and segments compare these exact
# (lower-case) words; the loader maps each DMS's spellings onto them (dealersync.vocabularies).
NEW_USED = ("new", "used")  # certified pre-owned is used (the vocabulary maps CPO to used)
DEAL_TYPES = ("cash", "finance", "lease")
PAY_TYPES = ("customer", "warranty", "internal")
LINE_STATUSES = ("performed", "declined", "recommended")
APPOINTMENT_STATUSES = ("scheduled", "completed", "cancelled", "no_show")
#: The channels a suppression entry holds for (:mod:`dealersync.suppressions`); empty: all.
SUPPRESSION_SCOPES = ("all", "ads", "email", "sms")


CUSTOMERS = Table(
    "customers",
    key=("customer_id",),
    description="One row per customer record in the DMS or CRM.",
    columns=_cols(
        "customer_id, first_name, last_name, email, phone_mobile, phone_home, address_line1, city,"
        " state, postal_code, country, birth_year:integer, preferred_channel,"
        " email_opt_in:boolean, sms_opt_in:boolean, do_not_email:boolean, do_not_call:boolean,"
        " do_not_mail:boolean, do_not_market:boolean, created_at:timestamp, updated_at:timestamp"
    ),
)
VEHICLES = Table(
    "vehicles",
    key=("vehicle_id",),
    description="Vehicles a customer owns or owned.",
    columns=_cols(
        "vehicle_id, customer_id, vin, year:integer, make, model, trim, fuel_type,"
        " odometer:integer, odometer_date:date, purchased_on:date, disposed_on:date,"
        " warranty_end:date"
    ),
)
DEALS = Table(
    "deals",
    key=("deal_id",),
    description="Vehicle sales: cash, finance and lease deals.",
    columns=_cols(
        "deal_id, customer_id, co_buyer_customer_id, vehicle_id, deal_date:date, new_used,"
        " deal_type, term_months:integer, apr:decimal, monthly_payment:decimal,"
        " lease_maturity_date:date, payoff_amount:decimal, sale_price:decimal",
        {"new_used": NEW_USED, "deal_type": DEAL_TYPES},
    ),
)
REPAIR_ORDERS = Table(
    "repair_orders",
    key=("ro_id",),
    description="Service repair orders.",
    columns=_cols(
        "ro_id, customer_id, vehicle_id, opened_on:date, closed_on:date, odometer:integer,"
        " pay_type, total:decimal",
        {"pay_type": PAY_TYPES},
    ),
)
RO_LINES = Table(
    "ro_lines",
    key=("ro_id", "line_no"),
    description="Repair-order lines: performed, declined or recommended work.",
    columns=_cols(
        "ro_id, line_no:integer, op_code, description, labor_amount:decimal,"
        " parts_amount:decimal, status",
        {"status": LINE_STATUSES},
    ),
)
APPOINTMENTS = Table(
    "appointments",
    key=("appointment_id",),
    description="Service appointments.",
    columns=_cols(
        "appointment_id, customer_id, vehicle_id, scheduled_for:timestamp, status",
        {"status": APPOINTMENT_STATUSES},
    ),
)
LEADS = Table(
    "leads",
    key=("lead_id",),
    description="Sales leads from the CRM.",
    columns=_cols("lead_id, customer_id, created_at:timestamp, source, stage, vehicle_of_interest"),
)
EVENTS = Table(
    "events",
    key=("event_id",),
    description="Engagement events: email sends, opens, clicks, unsubscribes, web visits.",
    columns=_cols("event_id, customer_id, occurred_at:timestamp, channel, type, campaign"),
)
SUPPRESSIONS = Table(
    "suppressions",
    key=(),
    optional=True,
    description="People never to be marketed to; match by email, phone or customer id.",
    # An unknown scope suppresses on every channel (suppress more, never less) until fixed.
    columns=_cols(
        "email, phone, customer_id, reason, since:date, scope",
        {"scope": SUPPRESSION_SCOPES},
        {"scope": ("all", "applied to every channel")},
    ),
)

#: Every canonical table, in load order.
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        CUSTOMERS,
        VEHICLES,
        DEALS,
        REPAIR_ORDERS,
        RO_LINES,
        APPOINTMENTS,
        LEADS,
        EVENTS,
        SUPPRESSIONS,
    )
}

#: The enumerated columns, ``(table, column) -> canonical values``.
ENUMERATED: dict[tuple[str, str], tuple[str, ...]] = {
    (t.name, c.name): c.choices for t in TABLES.values() for c in t.columns if c.choices
}

#: Columns the warehouse adds to every loaded row.
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_source", "VARCHAR"),  # the [sources.NAME] the row came from
    ("_source_id", "VARCHAR"),  # the row's key as the source wrote it
    ("_line", "BIGINT"),  # 1-based physical line in the extract file (NULL for API records)
)


def create_table_sql(table: Table) -> str:
    """DDL for one canonical table in the warehouse, lineage columns included."""
    cols = [f'"{c.name}" {DUCKDB_TYPES[c.type]}' for c in table.columns]
    cols += [f"{name} {typ}" for name, typ in LINEAGE_COLUMNS]
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" ({", ".join(cols)})'
