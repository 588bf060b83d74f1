"""What the report shows, read from the warehouse: counts and names only.

Every bookkeeping table is read defensively: a table that does not exist yet reads as empty, and
columns other engineers' work adds later (a ``held`` status and its reason, file outcomes, ...)
are carried along as extra columns, their text scrubbed like the rest (:mod:`.scrub`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from dealersync.errors import DealersyncError
from dealersync.identity.index import resolve
from dealersync.identity.members import check_identifiers
from dealersync.report.overlaps import OVERLAPS_TABLE
from dealersync.service_categories.sql import LINE_CATEGORIES_TABLE
from dealersync.service_categories.usage import opcode_usage, uncategorized_share
from dealersync.report.scrub import Scrubber
from dealersync.run_history import RUNS_COLUMN_NAMES, decode_json_columns
from dealersync.store import persisted_tables, quote_ident, table_columns

#: Policy drops in the order policy applies them (``_runs`` columns), with their labels.
DROPS: tuple[tuple[str, str], ...] = (
    ("excluded", "excluded by the audience's exclude segments"),
    ("suppressed", "on the suppression list"),
    ("outranked", "in a higher-ranked audience of its priority group"),
    ("held_out", "held out (control group)"),
    ("no_consent", "no consent for the destination's channel"),
    ("unmatchable", "no valid email or phone for the destination"),
)
#: Drops that happen per audience (the same at each destination) and per destination.
AUDIENCE_DROPS = ("excluded", "suppressed", "outranked", "held_out")
#: ``_runs`` columns holding free text, scrubbed before they are shown.
RUN_TEXT = ("error", "warnings")
#: Order of statuses in the history: failures first.
STATUS_RANK = {"failed": 0, "held": 1}
#: ``_loads`` columns the report knows; any other is shown as it comes.
KNOWN_LOAD_COLUMNS = ("source", "table", "file", "rows_loaded", "rows_quarantined", "loaded_at", "unchanged")
#: Identifier kinds for coverage, by the customers columns a profile reads.
KINDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("email", frozenset({"email"})),
    ("phone", frozenset({"phone_mobile", "phone_home"})),
    ("address", frozenset({"address_line1", "city", "state", "postal_code"})),
)


@dataclass
class Delivery:
    """One ``_runs`` row, as the report shows it."""

    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def status(self) -> str:
        return str(self.values.get("status") or "unknown")


@dataclass
class Coverage:
    """Identifier coverage of one destination: customers with a valid value of each kind."""

    destination: str
    connector: str
    customers: int
    valid: dict[str, int | None]  # kind -> customers with it valid (None: the destination sends none)
    note: str = ""


@dataclass
class ServiceRevenue:
    """Performed repair-order revenue, and the part on lines no category rule decided."""

    total: float
    uncategorized: float
    top: list[dict[str, Any]]  # the op codes with the most uncategorized revenue


@dataclass
class ReportData:
    generated_at: dt.datetime
    since: dt.date | None
    audiences: list[str]
    runs: list[Delivery]  # every delivery of the period, newest first
    extra_run_columns: list[str]
    loads: list[dict[str, Any]]  # latest load of each (source, table, file)
    extra_load_columns: list[str]
    quarantine: list[dict[str, Any]]  # (source, table, file, column, reason) -> rows
    coverage: list[Coverage]
    overlaps: list[dict[str, Any]]  # latest (audience_a <= audience_b) pairs
    customers: int = 0
    service: ServiceRevenue | None = None
    #: warnings about the data the sync would print (uncategorized revenue)
    notes: list[str] = field(default_factory=list)

    def runs_of(self, audience: str) -> list[Delivery]:
        return [r for r in self.runs if r["audience"] == audience]

    def latest(self, audience: str | None = None) -> list[Delivery]:
        """The latest delivery of each (audience, destination) pair, in the order first seen."""
        seen: dict[tuple[str, str], Delivery] = {}
        for r in self.runs:
            if audience in (None, r["audience"]):
                seen.setdefault((r["audience"], r["destination"]), r)
        return list(seen.values())


def history_order(runs: Sequence[Delivery]) -> list[Delivery]:
    """Failures first, then held runs, then the rest; newest first within each."""
    return sorted(runs, key=lambda r: STATUS_RANK.get(r.status, 2))  # stable: keeps newest first


def read_runs(
    con: duckdb.DuckDBPyConnection, scrubber: Scrubber, since: dt.date | None, audiences: Sequence[str] | None
) -> tuple[list[Delivery], list[str]]:
    """The period's deliveries, newest first, and the columns beyond those the report knows."""
    if "_runs" not in persisted_tables(con):
        return [], []
    columns = [name for name, _ in table_columns(con, "_runs")]
    where, params = ["true"], []
    if since is not None:
        where.append("started_at >= ?")
        params.append(since)
    if audiences:
        where.append("list_contains(?::VARCHAR[], audience)")
        params.append(list(audiences))
    rows = con.execute(
        f"SELECT * FROM _runs WHERE {' AND '.join(where)} ORDER BY started_at DESC, audience, destination", params
    ).fetchall()
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    extra = [c for c in columns if c not in RUNS_COLUMN_NAMES]
    for rec in records:
        decode_json_columns(rec)
    scrubber.add(t for rec in records for t in _texts(rec, extra))
    for rec in records:
        rec["error"] = scrubber.clean(rec.get("error"))
        rec["warnings"] = [scrubber.clean(w) for w in rec.get("warnings") or []]
        for key in ("platform_counts", "rejections"):
            rec[key] = {scrubber.clean(str(k)): v for k, v in rec[key].items()}
        for c in extra:
            if isinstance(rec[c], str):
                rec[c] = scrubber.clean(rec[c])
    return [Delivery(rec) for rec in records], extra


def _texts(rec: Mapping[str, Any], extra: Sequence[str]) -> list[str]:
    """The free text of one history row: error, warnings, platform count names, rejection
    codes and the text of columns added after the report was written."""
    return [
        rec.get("error") or "", *(rec.get("warnings") or []), *rec["platform_counts"], *rec["rejections"],
        *(rec[c] for c in extra if isinstance(rec[c], str)),
    ]


def read_loads(con: duckdb.DuckDBPyConnection, scrubber: Scrubber) -> tuple[list[dict[str, Any]], list[str]]:
    """The latest load of each extract file, and the ``_loads`` columns beyond the known ones."""
    if "_loads" not in persisted_tables(con):
        return [], []
    columns = [name for name, _ in table_columns(con, "_loads")]
    rows = con.execute(
        'SELECT * FROM _loads QUALIFY row_number() OVER (PARTITION BY source, "table", file ORDER BY loaded_at DESC) = 1'
        ' ORDER BY source, "table", file'
    ).fetchall()
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    extra = [c for c in columns if c not in KNOWN_LOAD_COLUMNS]
    scrubber.add(rec[c] for rec in records for c in extra if isinstance(rec[c], str))
    for rec in records:
        for c in extra:
            if isinstance(rec[c], str):
                rec[c] = scrubber.clean(rec[c])
    return records, extra


def read_quarantine(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Quarantined rows of the current loads, per file, column and reason (largest first)."""
    if "_quarantine" not in persisted_tables(con):
        return []
    rows = con.execute(
        'SELECT source, "table", file, "column", reason, count(*) AS rows FROM _quarantine'
        ' GROUP BY ALL ORDER BY rows DESC, source, "table", file, "column", reason'
    ).fetchall()
    return [dict(zip(("source", "table", "file", "column", "reason", "rows"), r, strict=True)) for r in rows]


def read_overlaps(con: duckdb.DuckDBPyConnection, audiences: Sequence[str]) -> list[dict[str, Any]]:
    """The latest recorded overlap of each pair of ``audiences``."""
    if OVERLAPS_TABLE not in persisted_tables(con) or not audiences:
        return []
    rows = con.execute(
        f"""SELECT audience_a, audience_b, customers, as_of, recorded_at FROM {OVERLAPS_TABLE}
            WHERE list_contains(?::VARCHAR[], audience_a) AND list_contains(?::VARCHAR[], audience_b)
            QUALIFY row_number() OVER (PARTITION BY audience_a, audience_b ORDER BY recorded_at DESC) = 1
            ORDER BY audience_a, audience_b""",
        [list(audiences), list(audiences)],
    ).fetchall()
    return [dict(zip(("audience_a", "audience_b", "customers", "as_of", "recorded_at"), r, strict=True)) for r in rows]


def read_coverage(
    con: duckdb.DuckDBPyConnection, destination: str, connector: str, identifiers: Mapping[str, str],
    *, default_country: str,
) -> Coverage:
    """Customers with a valid email, phone and address as ``destination`` sends them, counted in
    the identity index the last sync kept for its identifiers (the index holds, per customer row
    and profile, the value sent or NULL when the input is missing or invalid). Address: every
    address field the destination sends is valid."""
    try:
        _, profs = check_identifiers(identifiers)
        spec = resolve(con, sorted({p.name for p in profs}), default_country=default_country)
    except DealersyncError as exc:
        return Coverage(destination, connector, 0, {}, note=f"unknown: {exc.message}")
    if spec.table not in persisted_tables(con):
        return Coverage(destination, connector, 0, {}, note="not synced yet")
    kinds: dict[str, list[str]] = {}
    for kind, columns in KINDS:
        cols = [f"v{j}" for j, p in enumerate(spec.profs) if columns & set(p.columns)]
        if cols:
            kinds[kind] = cols
    per_customer = ", ".join(
        f"bool_or({' AND '.join(f'{c} IS NOT NULL' for c in cols)}) AS {quote_ident(kind)}" for kind, cols in kinds.items()
    )
    counts = ", ".join(f"count(*) FILTER (WHERE {quote_ident(kind)})" for kind in kinds)
    row = con.execute(
        f"SELECT count(*){', ' + counts if counts else ''} FROM"
        f" (SELECT cid{', ' + per_customer if per_customer else ''} FROM {quote_ident(spec.table)} GROUP BY cid)"
    ).fetchone()
    assert row is not None
    valid: dict[str, int | None] = {kind: None for kind, _ in KINDS}
    valid.update({kind: int(n) for kind, n in zip(kinds, row[1:], strict=True)})
    return Coverage(destination, connector, int(row[0]), valid)


def read_service_revenue(con: duckdb.DuckDBPyConnection, scrubber: Scrubber, top: int = 10) -> ServiceRevenue | None:
    """Service revenue and its uncategorized part, from the line categories the last facts build
    kept (None before the first build); op codes and descriptions as the DMS wrote them, scrubbed
    (a service advisor may type a name into a description)."""
    if LINE_CATEGORIES_TABLE not in persisted_tables(con):
        return None
    uncategorized, total = uncategorized_share(con)
    codes = [u for u in opcode_usage(con, LINE_CATEGORIES_TABLE) if u.uncategorized_lines][:top]
    scrubber.add(t for u in codes for t in (u.op_code, u.description))
    return ServiceRevenue(total, uncategorized, [
        {"label": u.op_code, "op_code": scrubber.clean(u.op_code), "description": scrubber.clean(u.description),
         "lines": u.uncategorized_lines, "revenue": u.uncategorized_revenue}
        for u in codes
    ])
