"""Typed conversion and per-row checks of extract file rows, in SQL.

Every cell is trimmed of surrounding spaces (an empty value is NULL) and converted to its
column's canonical type; a non-empty value that does not convert, or an empty key, raises a flag
on the row. Flagged rows are not loaded: each flag becomes one quarantine entry, so a row with
several bad cells gets one entry per bad cell.

Numbers accept money as report writers print it (:mod:`dealersync.loading.numbers`).
Booleans accept true/false, t/f, Y/N, yes/no, 1/0 in any case. Dates and timestamps are read as
:mod:`dealersync.loading.dates` decides: ISO 8601, the extract's ``date_format`` /
``timestamp_format``, or a format detected from the file's values.
An enumerated column (``Column.choices``) holds its canonical value: the DMS's spelling is
mapped by the column's vocabulary (:mod:`dealersync.vocabularies`); a value no vocabulary
knows is flagged. A column that declares a fallback (``Column.fallback``: ``suppressions.scope``)
does not hold its row back: the row is loaded with the fallback and the cell still gets an
entry, marked ``row_loaded`` (a row held back for another cell reports it as an unknown value).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from dealersync.connectors import ExtractFile
from dealersync.loading.dates import DateReading, configured_reading
from dealersync.loading.layout import Layout
from dealersync.loading.numbers import decimal_sql, integer_sql
from dealersync.loading.sql import ident, literal
from dealersync.model import DUCKDB_TYPES, Column
from dealersync.vocabularies import fallback_reason, unknown_value_reason, vocabulary

#: Boolean spellings accepted in extract files (compared lowercase, trimmed).
TRUE_WORDS = ("true", "t", "y", "yes", "1")
FALSE_WORDS = ("false", "f", "n", "no", "0")


def _conversion(
    col: Column, t: str, ef: ExtractFile, table: str, dates: DateReading
) -> str:
    """SQL converting the trimmed text expression ``t`` to the column's type (NULL if it fails)."""
    if col.choices:
        return _canonical_value(t, vocabulary(table, col.name, ef.values.get(col.name)))
    if col.type == "text":
        return t
    if col.type == "integer":
        return integer_sql(t, ef.decimal_separator)
    if col.type == "decimal":
        return decimal_sql(t, ef.decimal_separator)  # non-finite values: rejected by the caller
    if col.type in ("date", "timestamp"):
        return dates.for_column(col).sql(t)
    if col.type == "boolean":
        # Simple CASE arms, not ``IN (...)``: DuckDB plans an IN list of 5 or more constants
        # as a hash (mark) join, which does not keep the rows in file order (see
        # :mod:`dealersync.loading.lines`). The common spellings match as written (the first
        # arms, so most values stop there); lower() only for the rest.
        exact = _interleave(_case_variants(TRUE_WORDS), _case_variants(FALSE_WORDS))
        folded = _interleave(list(TRUE_WORDS), list(FALSE_WORDS))
        return (
            f"CASE {t} {' '.join(exact)}"
            f" ELSE CASE lower({t}) {' '.join(folded)} END END"
        )
    raise ValueError(f"unknown column type {col.type!r}")  # pragma: no cover


def _canonical_value(t: str, vocab: dict[str, str]) -> str:
    """SQL mapping ``t`` onto its canonical value by ``vocab`` (folded spelling -> canonical),
    NULL when it knows no such spelling. Simple CASE arms (an IN list or a join could reorder
    the rows, see :mod:`dealersync.loading.lines`). The canonical values as written and every
    spelling in upper case (as DMSs write their letters) match as they are; lower() only for
    the rest (measured, 7.3M letters read from a CSV, 2 threads: 2.8 s against 8.7 s when
    every letter went through lower(); the read alone 2.2 s)."""
    exact = [
        f"WHEN {literal(c)} THEN {literal(c)}"
        for c in dict.fromkeys(vocab.values())
        if vocab.get(c) == c  # (a dealer's mapping may even redefine a canonical word)
    ]
    exact += [
        f"WHEN {literal(k.upper())} THEN {literal(v)}" for k, v in vocab.items() if k.upper() != k
    ]
    folded = [f"WHEN {literal(k)} THEN {literal(v)}" for k, v in vocab.items()]
    return f"CASE {t} {' '.join(exact)} ELSE CASE lower({t}) {' '.join(folded)} END END"


def _interleave(trues: list[str], falses: list[str]) -> list[str]:
    """``WHEN 'w' THEN true|false`` arms, true and false spellings alternating."""
    arms: list[str] = []
    for i in range(max(len(trues), len(falses))):
        if i < len(trues):
            arms.append(f"WHEN {literal(trues[i])} THEN true")
        if i < len(falses):
            arms.append(f"WHEN {literal(falses[i])} THEN false")
    return arms


def _case_variants(words: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for w in words:
        for v in (w, w.upper(), w.title()):
            if v not in out:
                out.append(v)
    return out


#: How API records' dates are read: ISO 8601 (pydantic), no options to name.
_RECORD_DATES = configured_reading(None, None, file_options=False)


def type_reason(col: Column, dates: DateReading = _RECORD_DATES) -> str:
    """The quarantine reason for a value that is not of the column's type. Never the value."""
    if col.type == "integer":
        return "not a whole number"
    if col.type == "decimal":
        return "not a number"
    if col.type in ("date", "timestamp"):
        return dates.for_column(col).reason()
    if col.type == "boolean":
        return "not a boolean (expected true/false/Y/N/1/0)"
    return "not a text value"


@dataclass
class RowChecks:
    """The converting, checking projection of a file's rows."""

    #: SELECT over ``{read}``: the canonical columns, ``_source_id``, ``_ok`` and the flags
    select_sql: str
    #: (flag column, canonical column, reason), in column order
    flags: list[tuple[str, str, str]]
    #: cells loaded with their column's fallback: (flag column, canonical column, reason when
    #: the row is held back anyway, reason when it is loaded), in column order
    fallbacks: list[tuple[str, str, str, str]]

    def select_from(self, relation: str) -> str:
        return self.select_sql.replace("{read}", relation)


def row_checks(layout: Layout, dates: DateReading | None = None) -> RowChecks:
    """Convert every mapped cell and flag bad values and missing keys, in one SELECT. ``dates``
    says how dates and timestamps are read (default: as the file's options say)."""
    table, ef = layout.table, layout.ef
    if dates is None:
        dates = configured_reading(ef.date_format, ef.timestamp_format)
    # Three projections so each cell is trimmed once and converted once:
    # inner: trimmed text (empty -> NULL); middle: converted value; outer: flags.
    inner: list[str] = []
    middle: list[str] = []
    outer: list[str] = []
    flags: list[tuple[str, str, str]] = []
    fallbacks: list[tuple[str, str, str, str]] = []
    for j, col in enumerate(table.columns):
        pos = layout.positions[col.name]
        if pos is None:
            outer.append(f"CAST(NULL AS {DUCKDB_TYPES[col.type]}) AS {ident(col.name)}")
            continue
        c = f"c{pos}"
        # Trim only values that need it (no new string for the usual clean value).
        inner.append(
            f"CASE WHEN starts_with({c}, ' ') OR ends_with({c}, ' ')"
            f" THEN NULLIF(trim({c}), '') ELSE {c} END AS t{j}"
        )
        middle.append(f"{_conversion(col, f't{j}', ef, table.name, dates)} AS v{j}")
        if col.type == "decimal":
            outer.append(f"CASE WHEN isfinite(v{j}) THEN v{j} END AS {ident(col.name)}")
        elif col.fallback is not None:
            outer.append(
                f"CASE WHEN h{j} THEN coalesce(v{j}, {literal(col.fallback)}) END"
                f" AS {ident(col.name)}"
            )
        else:
            outer.append(f"v{j} AS {ident(col.name)}")
        if col.type != "text" or col.choices:
            middle.append(f"t{j} IS NOT NULL AS h{j}")
            ok_value = (
                f"isfinite(v{j})" if col.type == "decimal" else f"v{j} IS NOT NULL"
            )
            outer.append(f"(h{j} AND NOT coalesce({ok_value}, false)) AS _bad{j}")
            reason = (
                unknown_value_reason(table.name, col.name)
                if col.choices
                else type_reason(col, dates)
            )
            if col.fallback is not None:
                loaded_reason = fallback_reason(table.name, col.name)
                fallbacks.append((f"_bad{j}", col.name, reason, loaded_reason))
            else:
                flags.append((f"_bad{j}", col.name, reason))
        if col.name in table.key:
            middle.append(f"t{j} IS NULL AS m{j}")
            outer.append(f"m{j} AS _miss{j}")
            flags.append((f"_miss{j}", col.name, f"missing key {col.name}"))
    if table.key:
        ts = [f"t{table.column_names.index(k)}" for k in table.key]
        sid = ts[0] if len(ts) == 1 else f"concat_ws(':', {', '.join(ts)})"
    else:
        sid = "CAST(NULL AS VARCHAR)"
    middle.append(f"{sid} AS _sid")
    outer.append("_sid AS _source_id")
    ok = " OR ".join(f for f, _, _ in flags) or "false"
    outer.append(f"NOT ({ok}) AS _ok")
    select_sql = (
        f"SELECT {', '.join(outer)} FROM (SELECT *, {', '.join(middle)}"
        f" FROM (SELECT {', '.join(inner)} FROM {{read}}))"
    )
    return RowChecks(select_sql, flags, fallbacks)


def quarantine_flagged_cells(
    con: duckdb.DuckDBPyConnection,
    checks: RowChecks,
    *,
    typed: str,
    breakpoints: str,
    quarantine: str,
    file: str,
) -> None:
    """One quarantine entry per raised flag of the checked rows in ``typed``, in file order;
    a fallback flag of a loaded row gives an entry marked ``row_loaded``.

    A row's line is its ``rowid`` plus the offset of the last breakpoint at or before it.
    """
    if not checks.flags and not checks.fallbacks:
        return
    flag_names = ", ".join(
        [f for f, _, _ in checks.flags] + [f for f, _, _, _ in checks.fallbacks]
    )
    parts = [
        f'SELECT _i, {literal(col)} AS "column", {literal(reason)} AS reason,'
        f" false AS row_loaded, {j} AS _o FROM bad WHERE {flag}"
        for j, (flag, col, reason) in enumerate(checks.flags)
    ]
    parts += [
        f'SELECT _i, {literal(col)} AS "column", CASE WHEN _ok THEN {literal(loaded)}'
        f" ELSE {literal(held)} END AS reason, _ok AS row_loaded, {len(parts) + j} AS _o"
        f" FROM bad WHERE {flag}"
        for j, (flag, col, held, loaded) in enumerate(checks.fallbacks)
    ]
    any_fallback = " OR ".join(f for f, _, _, _ in checks.fallbacks)
    wanted = f"NOT _ok OR {any_fallback}" if any_fallback else "NOT _ok"
    con.execute(
        f"INSERT INTO {ident(quarantine)} WITH bad AS MATERIALIZED"
        f" (SELECT rowid AS _i, _ok, {flag_names} FROM {ident(typed)} WHERE {wanted})"
        f' SELECT {literal(file)}, q._i + b.off, q."column", q.reason, q.row_loaded'
        f" FROM ({' UNION ALL '.join(parts)}) q ASOF JOIN {ident(breakpoints)} b"
        " ON q._i >= b.i_from ORDER BY q._i, q._o"
    )
