"""Value vocabularies: a DMS's own words for the enumerated columns, mapped onto the canonical
values declared in :mod:`dealersync.model` (``Column.choices``).

Vocabularies are per column: the same letter means different things in different columns
(``C`` is a closed, performed line in ``ro_lines.status`` and customer pay in
``repair_orders.pay_type``). Matching ignores case and surrounding spaces. A dealer's mapping
(the source's ``values`` option, carried by :class:`~dealersync.ExtractFile` and
:class:`~dealersync.RecordBatch`) comes first, so it can both add spellings and override a
built-in one. An empty value stays empty (NULL); a value neither mapping knows is quarantined
with :func:`unknown_value_reason`, which never quotes the value, except in a column that
declares a fallback (``suppressions.scope``: ``all``): there the row is loaded with the fallback
and the cell reported with :func:`fallback_reason` (a suppression held back would suppress
nobody).

Where the built-in spellings come from (what public material says; no vendor publishes its
export codes, so most single letters below are the convention of DMS report writers, not a
documented code list):

* pay types: unified.to's DMS API normalizes repair-order pay types to CUSTOMER, WARRANTY,
  INTERNAL and SERVICE_CONTRACT (https://docs.unified.to/dms/repairorder/Retrieve_a_repairorder);
  a service contract is an extended warranty, so it maps to warranty here. DealerTeam's DMS
  lists the pay types of a standard operation code as C/W/I (customer, warranty, internal;
  https://help.dealerteam.com/Service_Department/Service_Repair_Orders/02_Standard_Operation_Codes).
  ``CP``, ``WTY`` and ``INT`` are the spellings the issue reports from dealers' CDK and
  Reynolds extracts; no public CDK, Reynolds or Dealertrack code list was found (STAR's
  repair-order schema has ``BillToPartyType`` and ``JobStatusCode`` fields, but their code
  values are not on its public pages).
* line statuses: unified.to lists repair-order statuses COMPLETED and CLOSED (same page);
  Dealermine's service CRM shows declined work as "Deferred Services" ("if a customer has
  declined services ... Deferred Service popup",
  https://sites.google.com/dealermineservice.com/knowledge-base/service-crm/profile/indicators/refusals),
  so DEFERRED is declined. ``C``/``D``/``DECL``/``REC`` are from the issue's dealer extracts;
  no vendor source found.
* appointment statuses: FHIR's AppointmentStatus (booked, arrived, fulfilled, cancelled,
  noshow; https://hl7.org/fhir/2018May/codesystem-appointmentstatus.xml.html) and unified.to's
  normalized DMS statuses; CONFIRMED and BOOKED are still scheduled, ARRIVED/SHOWN/KEPT are
  completed. No DMS vendor source found for the letters.
* deal types and new/used: no vendor code list found; CASH/FINANCE/LEASE and NEW/USED are the
  words every DMS deal screen uses, ``L``/``F``/``C`` and ``N``/``U`` their first letters.
  RETAIL is left out on purpose (a "retail" deal may be cash or financed: map it). Certified
  pre-owned (CPO) is a used vehicle with a manufacturer warranty: it maps to used (the model
  keeps new/used).
* suppression scopes (``suppressions.scope``, :mod:`dealersync.suppressions`): dealersync's own
  words, not a DMS's; the spellings are the channels' everyday names (E-MAIL, TEXT). ``MAIL`` is
  left out: it is postal mail (``preferred_channel``), not email.

Left out because they mean different things at different dealers: ``P`` (performed? pending?
pre-owned?), ``POLICY`` (goodwill paid by the dealer or by the maker), ``DEMO``, ``RETAIL``.
Map them with the ``values`` option.
"""

from __future__ import annotations

from collections.abc import Mapping

from dealersync.model import TABLES, Table

#: Built-in spellings per enumerated column: canonical value -> the DMS spellings (any case).
#: The canonical value itself is always accepted.
BUILT_IN: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("ro_lines", "status"): {
        "performed": ("C", "CLOSED", "COMPLETE", "COMPLETED", "DONE", "PERF", "CLSD",
                      "FINISHED", "INVOICED"),
        "declined": ("D", "DECL", "DEC", "DECLINE", "DECLINED", "DEFERRED", "DEF", "DEFER",
                     "REFUSED", "CUSTOMER DECLINED", "NOT PERFORMED"),
        "recommended": ("R", "REC", "RECOMMEND", "RECOMMENDED", "RECOMMENDATION",
                        "SUGGESTED", "ADVISED"),
    },
    ("repair_orders", "pay_type"): {
        "customer": ("C", "CP", "CUST", "CUSTOMER PAY", "CUSTOMER-PAY", "CUSTOMERPAY",
                     "CUSTOMER_PAY"),
        "warranty": ("W", "WTY", "WAR", "WARR", "WARRANTY PAY", "FACTORY", "SC",
                     "SERVICE CONTRACT", "SERVICE_CONTRACT", "EXTENDED WARRANTY"),
        "internal": ("I", "INT", "INTERNAL PAY"),
    },
    ("deals", "deal_type"): {
        "cash": ("C", "CSH", "CASH DEAL"),
        "finance": ("F", "FIN", "FINANCED", "FINANCE DEAL", "BALLOON", "LOAN"),
        "lease": ("L", "LSE", "LEASED", "LEASE DEAL"),
    },
    ("deals", "new_used"): {
        "new": ("N", "NEW VEHICLE"),
        "used": ("U", "USED VEHICLE", "PRE-OWNED", "PREOWNED", "PRE OWNED", "CPO",
                 "CERTIFIED", "CERTIFIED PRE-OWNED", "CERTIFIED PREOWNED"),
    },
    ("appointments", "status"): {
        "scheduled": ("S", "SCHED", "BOOKED", "CONFIRMED", "OPEN", "PENDING", "RESCHEDULED"),
        "completed": ("C", "COMPLETE", "DONE", "KEPT", "ARRIVED", "SHOWN", "SHOWED",
                      "FULFILLED", "CLOSED", "CHECKED IN", "CHECKED-IN"),
        "cancelled": ("X", "CANCELED", "CANCEL", "CXL", "CNCL", "CANC"),
        "no_show": ("NS", "NO SHOW", "NO-SHOW", "NOSHOW", "MISSED"),
    },
    ("suppressions", "scope"): {
        "all": ("ALL CHANNELS", "EVERY CHANNEL"),
        "ads": ("AD", "ADVERTISING"),
        "email": ("E-MAIL", "E MAIL"),
        "sms": ("TEXT", "TEXTS", "TEXT MESSAGE"),
    },
}


def fold(value: str) -> str:
    """How values are compared: surrounding spaces trimmed (as the loader trims every cell),
    case ignored."""
    return value.strip(" ").lower()


def vocabulary(
    table: str, column: str, dealer: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Folded spelling -> canonical value for one enumerated column: the dealer's mapping,
    then the canonical values, then the built-in spellings (the first one to name a spelling
    wins)."""
    out: dict[str, str] = {}
    for spelling, canonical in (dealer or {}).items():
        out.setdefault(fold(spelling), canonical)
    for canonical in TABLES[table].column(column).choices:
        out.setdefault(canonical, canonical)
    for canonical, spellings in BUILT_IN.get((table, column), {}).items():
        for spelling in spellings:
            out.setdefault(fold(spelling), canonical)
    return out


def unknown_value_reason(table: str, column: str) -> str:
    """The quarantine reason for a value no vocabulary knows. Never the value."""
    return (
        f"unknown value for {column} (expected {_expected(table, column)};"
        f" map it with the source option values.{table}.{column})"
    )


def fallback_reason(table: str, column: str) -> str:
    """The reason reported for a value no vocabulary knows in a column with a
    :attr:`~dealersync.model.Column.fallback`: its row was loaded with the fallback. Never the
    value."""
    col = TABLES[table].column(column)
    return (
        f"unknown value for {column} (expected {_expected(table, column)});"
        f" {col.fallback_effect or f'loaded as {col.fallback}'} until fixed;"
        f" map it with the source option values.{table}.{column}"
    )


def fallback_label(table: str, column: str) -> str:
    """How a load report counts rows loaded with ``column``'s fallback
    ("unknown scope, applied to every channel")."""
    col = TABLES[table].column(column)
    return f"unknown {column}, {col.fallback_effect or f'loaded as {col.fallback}'}"


def _expected(table: str, column: str) -> str:
    choices = TABLES[table].column(column).choices
    return ", ".join(choices[:-1]) + " or " + choices[-1]


def value_map_problems(table: Table, values: Mapping[str, Mapping[str, str]]) -> list[str]:
    """What is wrong with a dealer's ``values`` mapping for ``table`` (canonical column ->
    {DMS spelling -> canonical value}); empty when it is fine."""
    problems: list[str] = []
    enumerated = [c.name for c in table.columns if c.choices]
    for column, mapping in values.items():
        if column not in enumerated:
            problems.append(
                f"{table.name}.{column} is not an enumerated column"
                f" (enumerated: {', '.join(enumerated) or 'none in this table'})"
            )
            continue
        choices = table.column(column).choices
        for spelling, canonical in mapping.items():
            if canonical not in choices:
                problems.append(
                    f"{table.name}.{column}: {spelling!r} maps to {canonical!r},"
                    f" not one of {', '.join(choices)}"
                )
            elif not fold(spelling):
                problems.append(f"{table.name}.{column}: an empty spelling cannot be mapped")
    return problems
