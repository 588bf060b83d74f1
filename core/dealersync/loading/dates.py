"""How an extract file's dates and timestamps are read: ISO 8601, the formats its options give,
or a format detected from its values.

ISO 8601 (``2024-03-15``, ``2024-03-15 14:30:00``) is always accepted. A file whose options
give ``date_format`` / ``timestamp_format`` is read with them (strptime). Otherwise, when the
file's date or timestamp values are not ISO, the format is detected, set-oriented: one
aggregate SQL over the file's first :data:`SAMPLE_ROWS` rows (a single-threaded read that stops
there) counts the non-ISO values of its date and timestamp columns and, per candidate date part
(:data:`DATE_PARTS`: ``%m/%d/%Y``, ``%d/%m/%Y``, ``%m/%d/%y``, ``%Y%m%d``, ``%d.%m.%Y``,
``%m-%d-%Y``, ``%d-%b-%Y``, ...), how many of them it reads (the part before a time of day).
An ISO file costs one shorter read (its first :data:`PROBE_ROWS` rows are ISO: measured
~5-10 ms); a non-ISO one ~0.5 s (20,000 rows of three US date columns, 2 threads).

The date part that reads the most values wins when it reads all of them but at most 1 in 100
(a typo does not stop the detection; what the format cannot read is quarantined, naming it).
When a month-first and a day-first part read the same values (every day is 12 or less), the
month-first one wins if the dealer's country writes dates month first (``[identity]
default_country``, :data:`MONTH_FIRST_COUNTRIES`); elsewhere nothing is detected and the values
are quarantined with a reason naming the ``date_format`` option. The chosen part is read with
each time of day (:data:`TIME_PARTS`), the sample's most common first.

Why a sample and not the whole file: DuckDB's strptime and date cast are cheap when they
succeed and slow when they fail (measured, 4.5M values, 2 threads: strptime 0.64 s reading,
2.9 s failing; a list of six formats failing 15 s); counting every candidate over a 1.5M-row
vehicles file took 33 s against 0.5 s for the read itself. The sample decides; the load then
reads every row with the chosen format and quarantines, naming it, what does not fit.

The detected format is logged with the option that pins it. Two-digit years (``%y``) read
00-68 as 2000-2068 and 69-99 as 1969-1999 (DuckDB's strptime); a four-digit-year part never
takes a value with a two-digit year (the year's length is part of a candidate's shape).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from dealersync.loading.layout import Layout
from dealersync.loading.sql import error_summary, literal
from dealersync.model import Column

log = logging.getLogger(__package__)

#: Rows of the sample the detection reads (the file's first rows).
SAMPLE_ROWS = 20_000
#: Rows that decide whether a file is ISO (then nothing more is read).
PROBE_ROWS = 2_000

#: The share of the sample's non-ISO values a date part must read to be used (what it cannot
#: read is quarantined, naming it).
MIN_SHARE = 0.99

#: Countries that write dates month first (US style), so that ``03/04/2024`` is March 4. The
#: United States, and the Philippines, Micronesia, Palau and the Marshall Islands that follow
#: US usage (Wikipedia, "List of date formats by country",
#: https://en.wikipedia.org/wiki/List_of_date_formats_by_country). Canada writes both orders
#: and is left out: ambiguous Canadian dates need ``date_format``.
MONTH_FIRST_COUNTRIES = frozenset({"US", "PH", "FM", "PW", "MH"})

#: Candidate date parts: (strptime format, field order). A month-first and a day-first part
#: with the same separators are twins (they read the same values when every day is <= 12).
DATE_PARTS: tuple[tuple[str, str], ...] = (
    ("%m/%d/%Y", "mdy"),
    ("%d/%m/%Y", "dmy"),
    ("%m/%d/%y", "mdy"),
    ("%d/%m/%y", "dmy"),
    ("%m-%d-%Y", "mdy"),
    ("%d-%m-%Y", "dmy"),
    ("%m-%d-%y", "mdy"),
    ("%d-%m-%y", "dmy"),
    ("%d.%m.%Y", "dmy"),
    ("%d.%m.%y", "dmy"),
    ("%Y%m%d", "ymd"),
    ("%Y.%m.%d", "ymd"),
    ("%d-%b-%Y", "dmy"),
    ("%d-%b-%y", "dmy"),
)
#: Times of day a date part may carry (Excel and SQL report writers add them to dates too).
TIME_PARTS = ("", " %H:%M:%S", " %H:%M", " %I:%M:%S %p", " %I:%M %p", " %H:%M:%S.%f")

_ISO = {"date": "YYYY-MM-DD", "timestamp": "YYYY-MM-DD HH:MM:SS"}
_OPTION = {"date": "date_format", "timestamp": "timestamp_format"}


def family(date_part: str) -> tuple[str, ...]:
    """The strptime formats of a date part with each time of day (the bare date first)."""
    return tuple(date_part + t for t in TIME_PARTS)


@dataclass(frozen=True)
class ColumnReading:
    """How one kind of column (date or timestamp) is read in a file."""

    kind: str  # "date" or "timestamp"
    formats: tuple[str, ...] = ()  # strptime formats tried in order; ISO is always accepted
    expected: str = ""  # what the quarantine reason says was expected
    hint: str = ""  # how to change it, in the reason

    def reason(self) -> str:
        expected = self.expected or _ISO[self.kind]
        return f"not a {self.kind} (expected {expected}{self.hint})"

    def sql(self, t: str) -> str:
        """SQL reading the trimmed text ``t`` (NULL when it is not a date/timestamp)."""
        target = "DATE" if self.kind == "date" else "TIMESTAMP"
        iso = f"TRY_CAST({t} AS {target})"
        if not self.formats:
            return iso
        fmts = "[" + ", ".join(literal(f) for f in self.formats) + "]"
        return f"coalesce(CAST(TRY_STRPTIME({t}, {fmts}) AS {target}), {iso})"


@dataclass(frozen=True)
class DateReading:
    """How a file's date and timestamp columns are read."""

    date: ColumnReading
    timestamp: ColumnReading

    def for_column(self, col: Column) -> ColumnReading:
        return self.date if col.type == "date" else self.timestamp


def configured_reading(
    date_format: str | None, timestamp_format: str | None, *, file_options: bool = True
) -> DateReading:
    """The reading the options give: their formats, else ISO. ``file_options``: the reason
    names the options (an extract file has them; an API record does not)."""
    date_hint = f"; other formats: set {_OPTION['date']}" if file_options else ""
    ts_hint = f"; other formats: set {_OPTION['timestamp']}" if file_options else ""
    date = (
        ColumnReading("date", (date_format,), date_format)
        if date_format
        else ColumnReading("date", hint=date_hint)
    )
    ts_formats = tuple(f for f in (timestamp_format, date_format) if f)
    timestamp = (
        ColumnReading("timestamp", ts_formats, timestamp_format or "")
        if timestamp_format
        else ColumnReading("timestamp", ts_formats, hint=ts_hint)
    )
    return DateReading(date, timestamp)


def read_dates(
    con: duckdb.DuckDBPyConnection, layout: Layout, *, month_first: bool
) -> DateReading:
    """The file's date reading: its options' formats, or the ones detected from its values."""
    ef = layout.ef
    reading = configured_reading(ef.date_format, ef.timestamp_format)
    todo = {
        kind: [
            f"c{layout.positions[c.name]}"
            for c in layout.table.columns
            if c.type == kind and layout.positions[c.name] is not None
        ]
        for kind, option in _OPTION.items()
        if getattr(ef, option) is None
    }
    todo = {kind: cols for kind, cols in todo.items() if cols}
    if not todo:
        return reading
    try:
        todo = _with_non_iso_values(con, layout, todo)
        if not todo:
            return reading
        counts = _count_readable(con, layout, todo)
        chosen = {
            kind: _choose(layout.file, kind, *counts[kind], month_first) for kind in todo
        }
        chosen = {
            kind: _by_frequency(con, layout, todo[kind], c) for kind, c in chosen.items()
        }
    except duckdb.Error as e:  # the load's own read reports what is wrong with the file
        log.debug("%s: date detection skipped (%s)", layout.file, error_summary(e))
        return reading
    date = chosen.get("date", reading.date)
    timestamp = chosen.get("timestamp", reading.timestamp)
    if "timestamp" in chosen:
        # a bare date in a timestamp column also reads with date_format, as configured
        timestamp = ColumnReading(
            "timestamp", timestamp.formats + reading.timestamp.formats,
            timestamp.expected, timestamp.hint,
        )
    return DateReading(date, timestamp)


def _non_iso(c: str, kind: str) -> str:
    """SQL: column ``c`` holds a value that is not an ISO date (or timestamp)."""
    target = "DATE" if kind == "date" else "TIMESTAMP"
    return f"(trim({c}) <> '' AND TRY_CAST(trim({c}) AS {target}) IS NULL)"


def _sample(layout: Layout, rows: int = SAMPLE_ROWS) -> str:
    """The file's first ``rows`` rows, read single-threaded (the read stops there)."""
    return f"(SELECT * FROM {layout.read_csv('ignore_errors=true')} LIMIT {int(rows)})"


def _with_non_iso_values(
    con: duckdb.DuckDBPyConnection, layout: Layout, todo: dict[str, list[str]]
) -> dict[str, list[str]]:
    """The kinds of ``todo`` with non-ISO values among the file's first :data:`PROBE_ROWS`
    rows: one cheap count; the usual (ISO) file stops here."""
    kinds = list(todo)
    aggs = [
        " + ".join(f"count(*) FILTER (WHERE {_non_iso(c, kind)})" for c in todo[kind])
        for kind in kinds
    ]
    row = con.execute(
        f"SELECT {', '.join(aggs)} FROM {_sample(layout, PROBE_ROWS)}", layout.read_params
    ).fetchall()[0]
    return {kind: todo[kind] for kind, n in zip(kinds, row, strict=True) if n}


def _count_readable(
    con: duckdb.DuckDBPyConnection, layout: Layout, todo: dict[str, list[str]]
) -> dict[str, tuple[int, dict[str, int]]]:
    """Per kind (its columns in ``todo``): the sample's non-ISO values, and per date part how
    many of them it reads. One aggregate; a part is only tried on values of its shape (its
    separator), so a value costs a few strptime calls, not one per candidate."""
    # each value's non-ISO flag and date part computed once, in the inner projection
    inner: list[str] = []
    aggs: list[str] = []
    keys: list[tuple[str, str | None]] = []
    for kind, cols in todo.items():
        inner += [f"{_non_iso(c, kind)} AS n_{c}" for c in cols]
        aggs.append(" + ".join(f"count(*) FILTER (WHERE n_{c})" for c in cols))
        keys.append((kind, None))
        for part, _ in DATE_PARTS:
            aggs.append(
                " + ".join(
                    f"count(*) FILTER (WHERE n_{c} AND {_reads(f'k_{c}', part)})"
                    for c in cols
                )
            )
            keys.append((kind, part))
    inner += [
        f"split_part(trim({c}), ' ', 1) AS k_{c}"
        for c in dict.fromkeys(c for cols in todo.values() for c in cols)
    ]
    row = con.execute(
        f"SELECT {', '.join(aggs)} FROM (SELECT {', '.join(inner)} FROM {_sample(layout)})",
        layout.read_params,
    ).fetchall()[0]
    out: dict[str, tuple[int, dict[str, int]]] = {}
    for (kind, part), n in zip(keys, row, strict=True):
        total, by_part = out.get(kind, (0, {}))
        if part is None:
            out[kind] = (int(n), by_part)
        else:
            by_part[part] = int(n)
            out[kind] = (total, by_part)
    return out


def _reads(token: str, part: str) -> str:
    """SQL: ``part`` reads ``token``, a value's date part (before a time of day). strptime runs
    only on tokens of the part's shape (its separator, a year of its length): a failing
    strptime costs ~4x a reading one, and ``%Y`` would read "3/15/24" as the year 24."""
    separator = next((ch for ch in part if ch in "/-."), None)
    if separator is None:
        shape = f"length({token}) = 8"  # %Y%m%d
    else:
        fields = part.split(separator)
        at = next(i for i, f in enumerate(fields) if "Y" in f or "y" in f)
        digits = 4 if "Y" in fields[at] else 2
        shape = (
            f"contains({token}, {literal(separator)})"
            f" AND length(split_part({token}, {literal(separator)}, {at + 1})) = {digits}"
        )
    # CASE, not AND: DuckDB may reorder the terms of an AND and run strptime on every value
    parsed = f"TRY_STRPTIME({token}, {literal(part)})"
    return f"CASE WHEN {shape} THEN {parsed} IS NOT NULL ELSE false END"


def _by_frequency(
    con: duckdb.DuckDBPyConnection, layout: Layout, cols: list[str], chosen: ColumnReading
) -> ColumnReading:
    """``chosen`` with its formats (its date part with each of :data:`TIME_PARTS`) in the order
    of their frequency in the sample, so that most values are read by the first one (a
    failing strptime costs ~4x a reading one). The time of day is told by its shape (colons,
    AM/PM, a fraction), not by trying each format."""
    if len(chosen.formats) != len(TIME_PARTS):
        return chosen
    aggs = [
        " + ".join(f"count(*) FILTER (WHERE {_time_shape(c)} = {i})" for c in cols)
        for i in range(len(TIME_PARTS))
    ]
    row = con.execute(
        f"SELECT {', '.join(aggs)} FROM {_sample(layout)}", layout.read_params
    ).fetchall()[0]
    ranked = sorted(zip(chosen.formats, row, strict=True), key=lambda fn: -fn[1])
    return ColumnReading(
        chosen.kind, tuple(f for f, _ in ranked), chosen.expected, chosen.hint
    )


def _time_shape(c: str) -> str:
    """SQL: the index in :data:`TIME_PARTS` that column ``c``'s value looks like."""
    v = f"trim({c})"
    ampm = f"(ends_with(upper({v}), 'AM') OR ends_with(upper({v}), 'PM'))"
    colons = f"(length({v}) - length(replace({v}, ':', '')))"
    return (
        f"CASE WHEN NOT contains({v}, ' ') THEN 0"
        f" WHEN {ampm} THEN CASE WHEN {colons} = 2 THEN 3 ELSE 4 END"
        f" WHEN contains(split_part({v}, ' ', 2), '.') THEN 5"
        f" WHEN {colons} = 2 THEN 1 ELSE 2 END"
    )


def _choose(
    file: str, kind: str, total: int, by_part: dict[str, int], month_first: bool
) -> ColumnReading:
    """The reading for ``kind`` from the counts of the candidate date parts."""
    option = _OPTION[kind]
    best = max(by_part.values(), default=0)
    if best == 0 or best < MIN_SHARE * total:
        log.warning(
            "%s: %d %s values are not ISO 8601 and no known format reads them;"
            " set %s for this file",
            file, total, kind, option,
        )
        return ColumnReading(kind, hint=f"; other formats: set {option}")
    top = [p for p, n in by_part.items() if n == best]
    orders = dict(DATE_PARTS)
    if len(top) == 2 and {orders[p] for p in top} == {"mdy", "dmy"} and month_first:
        top = [p for p in top if orders[p] == "mdy"]
    if len(top) > 1:
        both = " or ".join(top)
        log.warning(
            "%s: the %s values read as %s (every day is 12 or less); set %s for this file",
            file, kind, both, option,
        )
        return ColumnReading(kind, hint=f"; they read as {both}: set {option}")
    part = top[0]
    log.info(
        "%s: %s values read as %s (detected); set %s to pin it", file, kind, part, option
    )
    return ColumnReading(
        kind, family(part), f"{part}, detected", f"; set {option} for another format"
    )
