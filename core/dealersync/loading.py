"""Loading a source's batches into the warehouse, set-oriented, with quarantine.

:func:`load_source` takes what a :class:`~dealersync.Source` yields (extract files and record
batches) and replaces that source's rows in every table it delivers (full-snapshot semantics), one
transaction per table. Re-running the same load gives identical tables.

Extract files
    are read by DuckDB's CSV reader (every column as text, ``store_rejects`` on), converted to the
    canonical types in SQL and checked in SQL; Python never touches a row. What cannot be loaded
    goes to ``_quarantine`` with the file, the 1-based physical line (header = line 1), the column
    and a reason; never the raw value.

    * structural errors (from DuckDB's rejects table): ``expected 21 columns, found 20``,
      ``invalid UTF-8``, ``unterminated quote``, ``invalid quoting`` (text after a closing
      quote), ``line too long``;
    * a non-empty value that is not of its column's type: ``not a date (expected YYYY-MM-DD)``,
      ``not a timestamp (...)``, ``not a whole number``, ``not a number``,
      ``not a boolean (expected true/false/Y/N/1/0)``. A row with several bad cells gets one
      quarantine row per bad cell, and is not loaded;
    * an empty key: ``missing key customer_id``;
    * a repeated key: the first row (in file order) is kept, later ones are quarantined as
      ``duplicate of line N``. Only rows that passed the checks above take part, so a row that is
      quarantined for a bad date does not shadow a later good row with the same key.

    Values are trimmed of surrounding spaces; an empty value is NULL. Booleans accept
    true/false, t/f, Y/N, yes/no, 1/0 in any case. Dates are ISO 8601 unless the extract gives a
    ``date_format`` (strptime); timestamps are ISO 8601 unless it gives a ``timestamp_format``
    (a timestamp column also accepts a bare date in ``date_format``).

Record batches (API sources)
    are validated per record against the table's pydantic model (the API edge); invalid records go
    to quarantine with ``file = "<source>:<table>:records"`` and ``line`` = the record's 1-based
    index among that table's records in this load. Valid records are inserted in one statement.

How physical line numbers are computed
    DuckDB does not expose a line number per row (``file_row_number`` is not supported by its
    CSV reader), and the ``line`` of its rejects table counts *records* (a blank line counts as
    one; a quoted value spanning several lines counts once). The loader therefore combines three
    set-oriented facts: the rows DuckDB returns, in file order (read with ``parallel=false`` into
    a temp table whose ``rowid`` is that order: with the parallel CSV scanner, insertion order
    was observed NOT to survive the conversion projections on a 1M-row file); DuckDB's
    rejects, with their record number and the number of line breaks in the rejected text; and a
    bulk byte scan of the file (``bytes.count`` and a regex over 16 MB blocks) that gives the
    line count and the blank physical lines (for a file with lone CR line ends, a quote-blind
    DuckDB read of the file, single-threaded, gives them instead).
    If the line count is more than header + rows + rejected lines + blank lines, some values
    hold line breaks: a second single-threaded read (same rows, same order) counts them per row.
    A short walk over the *exceptions only* (rejects, blank lines, rows whose values contain line
    breaks) yields breakpoints ``(row, offset)``; each row's line is ``rowid + offset`` of the last
    breakpoint at or before it, applied in SQL (a constant when there is one breakpoint, else an
    ASOF join). The walk checks that it ends on the file's last line; if DuckDB's view and the
    file's ever disagree (not seen in testing), the lines of that file are flagged as approximate
    (``FileReport.approximate_lines``) and a warning is logged.

    Limitations, as observed with DuckDB 2.0: the single-threaded reader (needed for the order)
    silently drops a record whose quote is never closed (it runs to the end of the file); the
    walk sees the unread tail and quarantines ``unterminated quote`` at its first line (the line
    where the quote opens), column unknown, and the lines after it are not loaded. A stray quote
    inside an unquoted value (``ab"c``) is accepted as a literal character. Invalid UTF-8 in a
    file column that is not mapped to the model is not checked (the column is never read).
    The span of a rejected record is taken from the text DuckDB stores for it (``csv_line``).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from pydantic import ValidationError

from dealersync.connectors import ExtractFile, RecordBatch
from dealersync.errors import ConfigError
from dealersync.model import DUCKDB_TYPES, TABLES, Column, Table
from dealersync.store import Warehouse

log = logging.getLogger("dealersync.loading")

#: Boolean spellings accepted in extract files (compared lowercase, trimmed).
TRUE_WORDS = ("true", "t", "y", "yes", "1")
FALSE_WORDS = ("false", "f", "n", "no", "0")

_BLANKS = " "  # what DuckDB's trim() removes; records are trimmed alike
# Never in a text file: the quote-blind read sees whole lines.
_RAW_DELIM = "\x1f\x1e\x1d\x1c"
_LINE_BREAKS = r"\r\n|\r|\n"


# ------------------------------------------------------------------------------------- reports


@dataclass
class FileReport:
    """What loading one extract file (or one table's record stream) did."""

    source: str
    table: str
    file: str
    loaded: int
    #: reason category ("bad date", "duplicate key", ...) -> quarantine entries
    quarantined: dict[str, int] = field(default_factory=dict)
    #: distinct quarantined rows (a row with two bad cells counts once here)
    rows_quarantined: int = 0
    #: file headers not mapped to the model: ignored
    extra_columns: list[str] = field(default_factory=list)
    #: canonical columns the file lacks: loaded as NULL
    missing_columns: list[str] = field(default_factory=list)
    #: True when the file's line numbers could not be established exactly (see module doc)
    approximate_lines: bool = False

    @property
    def quarantined_total(self) -> int:
        """Quarantine entries for this file (one per bad cell or bad row)."""
        return sum(self.quarantined.values())


@dataclass
class LoadReport:
    """What :func:`load_source` did, file by file."""

    files: list[FileReport] = field(default_factory=list)

    @property
    def total_loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def total_quarantined(self) -> int:
        """Quarantine entries over all files."""
        return sum(f.quarantined_total for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        """Distinct quarantined rows over all files."""
        return sum(f.rows_quarantined for f in self.files)

    def quarantined_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for k, v in f.quarantined.items():
                out[k] = out.get(k, 0) + v
        return out

    def for_table(self, table: str) -> list[FileReport]:
        return [f for f in self.files if f.table == table]


# ------------------------------------------------------------------------------------- helpers


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _conversion(col: Column, t: str, ef: ExtractFile | None) -> str:
    """SQL converting the trimmed text expression ``t`` to the column's type (NULL if it fails)."""
    date_format = ef.date_format if ef else None
    ts_format = ef.timestamp_format if ef else None
    if col.type == "text":
        return t
    if col.type == "integer":
        return (
            f"CASE WHEN regexp_full_match({t}, '[+-]?[0-9]+') THEN TRY_CAST({t} AS BIGINT)"
            f" WHEN regexp_full_match({t}, '[+-]?[0-9]+\\.0*')"
            f" THEN TRY_CAST(split_part({t}, '.', 1) AS BIGINT) END"
        )
    if col.type == "decimal":
        return (
            f"TRY_CAST({t} AS DOUBLE)"  # non-finite values are rejected by the caller
        )
    if col.type == "date":
        if date_format:
            return f"CAST(TRY_STRPTIME({t}, {_lit(date_format)}) AS DATE)"
        return f"TRY_CAST({t} AS DATE)"
    if col.type == "timestamp":
        parts = []
        if ts_format:
            parts.append(f"CAST(TRY_STRPTIME({t}, {_lit(ts_format)}) AS TIMESTAMP)")
        else:
            parts.append(f"TRY_CAST({t} AS TIMESTAMP)")
        if date_format:
            parts.append(f"CAST(TRY_STRPTIME({t}, {_lit(date_format)}) AS TIMESTAMP)")
        return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
    if col.type == "boolean":
        trues = ", ".join(_lit(w) for w in TRUE_WORDS)
        falses = ", ".join(_lit(w) for w in FALSE_WORDS)
        # The common spellings match as written; lower() only for the rest.
        exact_t = ", ".join(_lit(w) for w in _case_variants(TRUE_WORDS))
        exact_f = ", ".join(_lit(w) for w in _case_variants(FALSE_WORDS))
        return (
            f"CASE WHEN {t} IN ({exact_t}) THEN true WHEN {t} IN ({exact_f}) THEN false"
            f" WHEN {t} IS NULL THEN NULL"
            f" WHEN lower({t}) IN ({trues}) THEN true"
            f" WHEN lower({t}) IN ({falses}) THEN false END"
        )
    raise ValueError(f"unknown column type {col.type!r}")  # pragma: no cover


def _case_variants(words: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for w in words:
        for v in (w, w.upper(), w.title()):
            if v not in out:
                out.append(v)
    return out


def _type_reason(col: Column, ef: ExtractFile | None) -> tuple[str, str]:
    """(reason, category) for a value that is not of the column's type. Never the value."""
    if col.type == "integer":
        return "not a whole number", "bad whole number"
    if col.type == "decimal":
        return "not a number", "bad number"
    if col.type == "date":
        fmt = ef.date_format if ef and ef.date_format else "YYYY-MM-DD"
        return f"not a date (expected {fmt})", "bad date"
    if col.type == "timestamp":
        fmt = (
            ef.timestamp_format if ef and ef.timestamp_format else "YYYY-MM-DD HH:MM:SS"
        )
        return f"not a timestamp (expected {fmt})", "bad timestamp"
    if col.type == "boolean":
        return "not a boolean (expected true/false/Y/N/1/0)", "bad boolean"
    return "not a text value", "bad text"


def _category(reason: str) -> str:
    """The report category of a quarantine reason."""
    for prefix, cat in (
        ("not a date", "bad date"),
        ("not a timestamp", "bad timestamp"),
        ("not a whole number", "bad whole number"),
        ("not a number", "bad number"),
        ("not a boolean", "bad boolean"),
        ("missing key", "missing key"),
        ("duplicate of", "duplicate key"),
        ("expected ", "wrong column count"),
        ("invalid UTF-8", "invalid UTF-8"),
        ("unterminated quote", "bad quoting"),
        ("invalid quoting", "bad quoting"),
        ("line too long", "line too long"),
        ("unknown column", "unknown column"),
        ("not a text value", "bad text"),
    ):
        if reason.startswith(prefix):
            return cat
    return "invalid"


# ---------------------------------------------------------------------------------- the loader


@dataclass
class _Staged:
    """One batch staged in temp tables, waiting for its table's transaction."""

    batch: int
    table: str
    file: str
    good_sql: str  # SELECT canonical cols, _source_id, _line, _ord, _batch, _file
    quarantine: str  # temp table: file, line, "column", reason
    report: FileReport


class _Loader:
    def __init__(self, wh: Warehouse, source_name: str) -> None:
        self.wh = wh
        self.con = wh.con
        self.source = source_name
        self.prefix = "_ds_" + uuid.uuid4().hex[:8]
        self.temp_objects: list[tuple[str, str]] = []  # (kind, name) to drop at the end
        self.counter = itertools.count(1)
        # table -> records seen so far in this load (record numbers run across batches)
        self.record_index: dict[str, int] = {}
        self.loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    # -------------------------------------------------------------------------------- plumbing

    def _temp(self, kind: str, suffix: str) -> str:
        name = f"{self.prefix}_{suffix}"
        self.temp_objects.append((kind, name))
        return name

    def cleanup(self) -> None:
        for kind, name in reversed(self.temp_objects):
            try:
                self.con.execute(f"DROP {kind} IF EXISTS temp.main.{_q(name)}")
            except duckdb.Error:  # pragma: no cover - best effort
                log.debug("could not drop temporary %s %s", kind, name)
        self.temp_objects.clear()

    def _new_quarantine_table(self, n: int) -> str:
        name = self._temp("TABLE", f"{n}_q")
        self.con.execute(
            f"CREATE TEMP TABLE {_q(name)} (file VARCHAR, line BIGINT, "
            '"column" VARCHAR, reason VARCHAR)'
        )
        return name

    # ---------------------------------------------------------------------------- extract files

    def stage_file(self, ef: ExtractFile) -> _Staged:
        table = _table(ef.table)
        n = next(self.counter)
        path = Path(ef.path)
        file = str(ef.path)
        if not path.is_file():
            raise ConfigError(
                f"{file}: extract file for table '{table.name}' not found"
                + (" (it is a directory)" if path.is_dir() else "")
            )
        header, header_lines = _read_header(path, ef)
        unknown = [c for c in ef.columns if c not in table.column_names]
        if unknown:
            raise ConfigError(
                f"{file}: the column mapping names {', '.join(repr(c) for c in unknown)},"
                f" not a column of table '{table.name}'"
                f" (its columns: {', '.join(table.column_names)})"
            )
        positions = _match_columns(header, table, ef, file)
        mapped_headers = {positions[c] for c in positions if positions[c] is not None}
        extra = [h for i, h in enumerate(header) if i not in mapped_headers]
        missing = [c for c in table.column_names if positions[c] is None]

        # 1. DuckDB's CSV reader, every column as text, rejects stored; convert and check in SQL.
        rej = self._temp("TABLE", f"{n}_rej")
        rej_scan = self._temp("TABLE", f"{n}_rejscan")
        typ = self._temp("TABLE", f"{n}_typ")
        file_cols = [f"c{i}" for i in range(len(header))]
        columns_struct = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in file_cols) + "}"
        # Three projections so each cell is trimmed once and converted once:
        # inner: trimmed text (empty -> NULL); middle: converted value; outer: flags.
        inner: list[str] = []
        middle: list[str] = []
        outer: list[str] = []
        # (flag column, canonical column, reason)
        bad_flags: list[tuple[str, str, str]] = []
        for j, col in enumerate(table.columns):
            pos = positions[col.name]
            if pos is None:
                outer.append(
                    f"CAST(NULL AS {DUCKDB_TYPES[col.type]}) AS {_q(col.name)}"
                )
                continue
            c = f"c{pos}"
            # Trim only values that need it (no new string for the usual clean value).
            inner.append(
                f"CASE WHEN starts_with({c}, ' ') OR ends_with({c}, ' ')"
                f" THEN NULLIF(trim({c}), '') ELSE {c} END AS t{j}"
            )
            middle.append(f"{_conversion(col, f't{j}', ef)} AS v{j}")
            if col.type == "decimal":
                outer.append(
                    f"CASE WHEN isfinite(v{j}) THEN v{j} END AS {_q(col.name)}"
                )
            else:
                outer.append(f"v{j} AS {_q(col.name)}")
            if col.type != "text":
                middle.append(f"t{j} IS NOT NULL AS h{j}")
                ok_value = (
                    f"isfinite(v{j})" if col.type == "decimal" else f"v{j} IS NOT NULL"
                )
                outer.append(f"(h{j} AND NOT coalesce({ok_value}, false)) AS _bad{j}")
                bad_flags.append((f"_bad{j}", col.name, _type_reason(col, ef)[0]))
            if col.name in table.key:
                middle.append(f"t{j} IS NULL AS m{j}")
                outer.append(f"m{j} AS _miss{j}")
                bad_flags.append((f"_miss{j}", col.name, f"missing key {col.name}"))
        if table.key:
            ts = [f"t{table.column_names.index(k)}" for k in table.key]
            sid = ts[0] if len(ts) == 1 else f"concat_ws(':', {', '.join(ts)})"
        else:
            sid = "CAST(NULL AS VARCHAR)"
        middle.append(f"{sid} AS _sid")
        outer.append("_sid AS _source_id")
        ok = " OR ".join(f for f, _, _ in bad_flags) or "false"
        outer.append(f"NOT ({ok}) AS _ok")
        select_sql = (
            f"SELECT {', '.join(outer)} FROM (SELECT *, {', '.join(middle)}"
            f" FROM (SELECT {', '.join(inner)} FROM {{read}}))"
        )

        quote = ef.quote or ""
        read = (
            "read_csv(?, columns="
            + columns_struct
            + ", header=true, auto_detect=false,"
            " all_varchar=true, delim=?, quote=?, escape=?, parallel=false, store_rejects=true,"
            f" rejects_table={_lit(rej)}, rejects_scan={_lit(rej_scan)},"
            " rejects_line_size_limit=0)"  # the whole rejected text: its line count matters
        )
        try:
            self.con.execute(
                f"CREATE TEMP TABLE {_q(typ)} AS " + select_sql.replace("{read}", read),
                [str(path), ef.delimiter, quote, quote],
            )
        except duckdb.Error as e:
            raise ConfigError(
                f"{file}: could not be read as CSV ({_duck_error_summary(e)})"
            ) from None

        # 2. Where each row sits in the file (see the module docstring).
        rejects = self._rejects(rej, len(header))
        blanks, n_lines, raw_ok = self._blank_lines(path, ef)
        n_rows = self.con.execute(f"SELECT count(*) FROM {_q(typ)}").fetchall()[0][0]
        multi: list[tuple[int, int]] = []
        single_line = (
            header_lines + n_rows + sum(span for _, span, _ in rejects) + len(blanks)
        )
        if n_lines is not None and n_lines != single_line:
            # Some values hold line breaks: count them per row, in a second read that returns
            # the same rows in the same order (rare: most extracts are one record per line).
            multi = self._multi_line_rows(path, ef, columns_struct, file_cols)
        walk = _walk(
            header_lines=header_lines,
            n_rows=n_rows,
            rejects=[(k, span) for k, span, _ in rejects],
            blanks=blanks,
            multi=multi,
            n_lines=n_lines,
        )
        approximate = walk.approximate or not raw_ok
        bp = self._temp("TABLE", f"{n}_bp")
        self.con.execute(f"CREATE TEMP TABLE {_q(bp)} (i_from BIGINT, off BIGINT)")
        app = self.con.appender(f"temp.main.{bp}")
        app.append_rows(walk.breakpoints)
        app.flush()
        lined = self._temp("VIEW", f"{n}_lined")
        if len(walk.breakpoints) == 1:  # the usual case: one constant offset
            self.con.execute(
                f"CREATE TEMP VIEW {_q(lined)} AS SELECT t.*, t.rowid AS _ord,"
                f" t.rowid + {int(walk.breakpoints[0][1])} AS _line FROM {_q(typ)} t"
            )
        else:
            self.con.execute(
                f"CREATE TEMP VIEW {_q(lined)} AS SELECT t.*, t.rowid AS _ord,"
                f" t.rowid + b.off AS _line FROM {_q(typ)} t ASOF JOIN {_q(bp)} b"
                " ON t.rowid >= b.i_from"
            )

        # 3. Quarantine: structural rejects, bad cells, missing keys.
        qt = self._new_quarantine_table(n)
        rows: list[tuple[Any, ...]] = []
        for k, _span, problems in rejects:
            line = walk.reject_lines.get(k, k)
            for column_idx, reason in problems:
                column = _column_label(column_idx, header, positions)
                rows.append((file, line, column, reason))
        if walk.tail_line is not None:
            rows.append((file, walk.tail_line, None, "unterminated quote"))
        if rows:
            app = self.con.appender(f"temp.main.{qt}")
            app.append_rows(rows)
            app.flush()
        if bad_flags:
            flags = ", ".join(f for f, _, _ in bad_flags)
            parts = [
                f'SELECT _i, {_lit(col)} AS "column", {_lit(reason)} AS reason, {j} AS _o'
                f" FROM bad WHERE {flag}"
                for j, (flag, col, reason) in enumerate(bad_flags)
            ]
            self.con.execute(
                f"INSERT INTO {_q(qt)} WITH bad AS MATERIALIZED"
                f" (SELECT rowid AS _i, {flags} FROM {_q(typ)} WHERE NOT _ok)"
                f' SELECT {_lit(file)}, q._i + b.off, q."column", q.reason'
                f" FROM ({' UNION ALL '.join(parts)}) q ASOF JOIN {_q(bp)} b ON q._i >= b.i_from"
                f" ORDER BY q._i, q._o"
            )

        names = ", ".join(_q(c) for c in table.column_names)
        good_sql = (
            f"SELECT {names}, _source_id, _line, _ord, {n} AS _batch, {_lit(file)} AS _file"
            f" FROM {_q(lined)} WHERE _ok"
        )
        report = FileReport(
            source=self.source,
            table=table.name,
            file=file,
            loaded=0,
            extra_columns=extra,
            missing_columns=missing,
            approximate_lines=approximate,
        )
        if approximate:
            log.warning(
                "%s: line numbers in the quarantine may be approximate for this file",
                file,
            )
        return _Staged(n, table.name, file, good_sql, qt, report)

    def _rejects(
        self, rej: str, n_columns: int
    ) -> list[tuple[int, int, list[tuple[int | None, str]]]]:
        """DuckDB's rejects, one entry per rejected record: (record number, physical lines, problems).

        A problem is (file column index or None, reason). Reasons never include the value.
        """
        rows = self.con.execute(
            f"SELECT line, error_type::VARCHAR, column_name, error_message,"
            f" len(regexp_extract_all(regexp_replace(coalesce(csv_line, ''),"
            f" '^[\\r\\n]+|[\\r\\n]+$', '', 'g'), {_lit(_LINE_BREAKS)})) + 1"
            f" FROM {_q(rej)} ORDER BY line, column_idx"
        ).fetchall()
        by_line: dict[int, tuple[int, list[tuple[int | None, str]]]] = {}
        found_cols: dict[int, int] = {}
        for line, etype, column_name, message, span in rows:
            k = int(line)
            prev_span, problems = by_line.get(k, (1, []))
            by_line[k] = (max(prev_span, int(span)), problems)
            # column_idx is not consistently 0- or 1-based across error types; the name is
            # ours ("c<position>"), so read the position from it.
            m = re.fullmatch(r"c(\d+)", column_name or "")
            idx = int(m.group(1)) if m else None
            if etype in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
                # One entry per missing or surplus column; the smallest (missing) or largest
                # (surplus) "Found" is the row's real field count.
                m = re.search(r"Found:\s*(\d+)", message or "")
                if m:
                    found = int(m.group(1))
                    prev = found_cols.get(k)
                    if prev is None or prev < 0:
                        found_cols[k] = found
                    elif etype == "MISSING COLUMNS":
                        found_cols[k] = min(prev, found)
                    else:
                        found_cols[k] = max(prev, found)
                elif k not in found_cols:
                    found_cols[k] = -1
                continue
            if etype == "INVALID ENCODING":
                reason = "invalid UTF-8"
            elif etype == "UNQUOTED VALUE":
                # DuckDB words it "unterminated quote", but a quote that never closes runs to
                # the end of the file and is caught by the walk; what is reported here is a
                # quoted value followed by more text before the delimiter ("x"y).
                reason = "invalid quoting"
            elif etype == "LINE SIZE OVER MAXIMUM":
                reason, idx = "line too long", None
            else:
                reason, idx = "unreadable CSV row", None
            if (idx, reason) not in problems:
                problems.append((idx, reason))
        for k, found in found_cols.items():
            problems = by_line[k][1]
            text = f"found {found}" if found >= 0 else "found a different number"
            problems.insert(0, (None, f"expected {n_columns} columns, {text}"))
        return [(k, span, problems) for k, (span, problems) in sorted(by_line.items())]

    def _multi_line_rows(
        self, path: Path, ef: ExtractFile, columns_struct: str, file_cols: list[str]
    ) -> list[tuple[int, int]]:
        """(row index, line breaks in its values) for the rows that span several lines."""
        nl = self._temp("TABLE", f"{next(self.counter)}_nl")
        has_break = " OR ".join(
            f"contains({c}, chr(10)) OR contains({c}, chr(13))" for c in file_cols
        )
        joined = "concat_ws(chr(31), " + ", ".join(file_cols) + ")"
        quote = ef.quote or ""
        self.con.execute(
            f"CREATE TEMP TABLE {_q(nl)} AS SELECT CASE WHEN {has_break} THEN"
            f" len(regexp_extract_all({joined}, {_lit(_LINE_BREAKS)})) ELSE 0 END AS n"
            " FROM read_csv(?, columns="
            + columns_struct
            + ", header=true, auto_detect=false,"
            " all_varchar=true, delim=?, quote=?, escape=?, parallel=false, ignore_errors=true)",
            [str(path), ef.delimiter, quote, quote],
        )
        rows = self.con.execute(
            f"SELECT rowid, n FROM {_q(nl)} WHERE n > 0 ORDER BY rowid"
        ).fetchall()
        self.con.execute(f"DROP TABLE {_q(nl)}")
        return [(int(i), int(n)) for i, n in rows]

    def _blank_lines(
        self, path: Path, ef: ExtractFile
    ) -> tuple[list[int], int | None, bool]:
        """Blank physical lines (1-based) and the number of lines, from a quote-blind read.

        Returns ``(blank lines, line count, ok)``; ``ok`` is False when the file could not be
        read that way (line numbers are then approximate).
        """
        raw_read = (
            "read_csv(?, columns={'raw': 'VARCHAR'}, header=false, auto_detect=false, delim=?,"
            " quote='', escape='', encoding='latin-1'{parallel})"
        )
        params = [str(path), _RAW_DELIM]
        quick = _scan_lines(path)
        if quick is not None:
            return quick[1], quick[0], True
        try:
            # Counting needs no order: a parallel read.
            n_lines, n_blank = self.con.execute(
                "SELECT count(*), count(*) FILTER (WHERE raw IS NULL OR raw = '')"
                f" FROM {raw_read.replace('{parallel}', '')}",
                params,
            ).fetchall()[0]
            if not n_blank:
                return [], int(n_lines), True
            # Where the blank lines are needs file order: a single-threaded read.
            raw = self._temp("TABLE", f"{next(self.counter)}_raw")
            self.con.execute(
                f"CREATE TEMP TABLE {_q(raw)} AS SELECT (raw IS NULL OR raw = '') AS blank"
                f" FROM {raw_read.replace('{parallel}', ', parallel=false')}",
                params,
            )
        except duckdb.Error as e:
            log.debug(
                "%s: the line count could not be read (%s)",
                path,
                _duck_error_summary(e),
            )
            return [], None, False
        blanks = [
            int(r[0])
            for r in self.con.execute(
                f"SELECT rowid + 1 FROM {_q(raw)} WHERE blank ORDER BY rowid"
            ).fetchall()
        ]
        self.con.execute(f"DROP TABLE {_q(raw)}")
        return blanks, int(n_lines), True

    # ---------------------------------------------------------------------------- record batches

    def stage_records(self, batch: RecordBatch) -> _Staged:
        table = _table(batch.table)
        n = next(self.counter)
        file = f"{self.source}:{table.name}:records"
        model = table.record_model()
        names = table.column_names
        good: list[tuple[Any, ...]] = []
        bad: list[tuple[Any, ...]] = []
        start = self.record_index.get(table.name, 0)
        for offset, record in enumerate(batch.records):
            index = start + offset + 1
            problems = _validate_record(record, table, model)
            if isinstance(problems, list):
                bad.extend((file, index, col, reason) for col, reason in problems)
                continue
            values = problems
            sid = (
                ":".join("" if values[k] is None else str(values[k]) for k in table.key)
                if table.key
                else None
            )
            good.append(tuple(values[c] for c in names) + (sid, None, index, n, file))
        self.record_index[table.name] = start + len(batch.records)

        rec = self._temp("TABLE", f"{n}_rec")
        cols = [f"{_q(c.name)} {DUCKDB_TYPES[c.type]}" for c in table.columns]
        cols += [
            "_source_id VARCHAR",
            "_line BIGINT",
            "_ord BIGINT",
            "_batch BIGINT",
            "_file VARCHAR",
        ]
        self.con.execute(f"CREATE TEMP TABLE {_q(rec)} ({', '.join(cols)})")
        if good:
            app = self.con.appender(f"temp.main.{rec}")
            app.append_rows(good)
            app.flush()
        qt = self._new_quarantine_table(n)
        if bad:
            app = self.con.appender(f"temp.main.{qt}")
            app.append_rows(bad)
            app.flush()
        report = FileReport(source=self.source, table=table.name, file=file, loaded=0)
        good_sql = (
            f"SELECT {', '.join(_q(c) for c in names)}, _source_id, _line, _ord, _batch, _file"
            f" FROM {_q(rec)}"
        )
        return _Staged(n, table.name, file, good_sql, qt, report)

    # ------------------------------------------------------------------------------- the commit

    def commit_table(self, table_name: str, staged: list[_Staged]) -> None:
        """Replace the source's rows and quarantine in one table, in one transaction."""
        table = TABLES[table_name]
        con = self.con
        n = next(self.counter)
        allv = self._temp("VIEW", f"{n}_all")
        con.execute(
            f"CREATE TEMP VIEW {_q(allv)} AS "
            + " UNION ALL ".join(s.good_sql for s in staged)
        )
        dups = self._temp("TABLE", f"{n}_dups")
        if table.key:
            keys = ", ".join(_q(k) for k in table.key)
            con.execute(
                f"CREATE TEMP TABLE {_q(dups)} AS"
                f" WITH k AS (SELECT {keys} FROM {_q(allv)} GROUP BY ALL HAVING count(*) > 1),"
                f" d AS (SELECT a._batch, a._ord, a._file, a._line,"
                f"  row_number() OVER w AS rn,"
                f"  first_value(a._line) OVER w AS first_line,"
                f"  first_value(a._ord) OVER w AS first_ord,"
                f"  first_value(a._file) OVER w AS first_file"
                f"  FROM {_q(allv)} a SEMI JOIN k USING ({keys})"
                f"  WINDOW w AS (PARTITION BY {', '.join('a.' + _q(k) for k in table.key)}"
                f"  ORDER BY a._batch, a._ord))"
                f" SELECT * EXCLUDE (rn) FROM d WHERE rn > 1"
            )
        else:
            con.execute(
                f"CREATE TEMP TABLE {_q(dups)} (_batch BIGINT, _ord BIGINT, _file VARCHAR,"
                " _line BIGINT, first_line BIGINT, first_ord BIGINT, first_file VARCHAR)"
            )
        # Reason for a duplicate: the first row's line (or record number), naming its file if
        # it came from another one.
        dup_reason = (
            "CASE WHEN d._line IS NULL THEN 'duplicate of record ' || (d.first_ord)::VARCHAR"
            " WHEN d.first_file = d._file THEN 'duplicate of line ' || d.first_line::VARCHAR"
            " ELSE 'duplicate of line ' || d.first_line::VARCHAR || ' of ' || d.first_file END"
        )
        dup_line = "coalesce(d._line, d._ord)"
        # For records, _ord is the 1-based record number already.
        names = ", ".join(_q(c) for c in table.column_names)
        quarantine_union = " UNION ALL ".join(
            f'SELECT file, line, "column", reason FROM {_q(s.quarantine)}'
            for s in staged
        )
        n_dups_total = con.execute(f"SELECT count(*) FROM {_q(dups)}").fetchall()[0][0]
        source = self.source
        con.begin()
        try:
            con.execute(f"DELETE FROM {_q(table.name)} WHERE _source = ?", [source])
            # No ORDER BY: the staged rows are scanned in file order already, and a sort of
            # millions of wide rows would cost more than the insert.
            anti = (
                f" ANTI JOIN {_q(dups)} d ON a._batch = d._batch AND a._ord = d._ord"
                if n_dups_total
                else ""
            )
            con.execute(
                f"INSERT INTO {_q(table.name)} ({names}, _source, _source_id, _line)"
                f" SELECT {names}, ?, _source_id, _line FROM {_q(allv)} a{anti}",
                [source],
            )
            con.execute(
                'DELETE FROM _quarantine WHERE source = ? AND "table" = ?',
                [source, table.name],
            )
            con.execute(
                'INSERT INTO _quarantine SELECT ?, ?, file, line, "column", reason, ? FROM ('
                f" {quarantine_union}"
                f" UNION ALL SELECT d._file, {dup_line}, {_lit(':'.join(table.key)) if table.key else 'NULL'},"
                f" {dup_reason} FROM {_q(dups)} d"
                ") ORDER BY file, line",
                [source, table.name, self.loaded_at],
            )
            # Reports, from the same staged data.
            loaded = dict(
                con.execute(
                    f"SELECT _batch, count(*) FROM {_q(allv)} a{anti} GROUP BY _batch"
                ).fetchall()
            )
            for s in staged:
                s.report.loaded = int(loaded.get(s.batch, 0))
                cats: dict[str, int] = {}
                for reason, count in con.execute(
                    f"SELECT reason, count(*) FROM {_q(s.quarantine)} GROUP BY reason"
                ).fetchall():
                    cat = _category(reason)
                    cats[cat] = cats.get(cat, 0) + int(count)
                n_dups = con.execute(
                    f"SELECT count(*) FROM {_q(dups)} WHERE _batch = ?", [s.batch]
                ).fetchall()[0][0]
                if n_dups:
                    cats["duplicate key"] = cats.get("duplicate key", 0) + int(n_dups)
                distinct_bad = con.execute(
                    f"SELECT count(DISTINCT line) FROM {_q(s.quarantine)}"
                ).fetchall()[0][0]
                s.report.quarantined = dict(sorted(cats.items()))
                s.report.rows_quarantined = int(distinct_bad) + int(n_dups)
            per_file: dict[
                str, list[int]
            ] = {}  # one _loads row per file (or record stream)
            for s in staged:
                totals = per_file.setdefault(s.file, [0, 0])
                totals[0] += s.report.loaded
                totals[1] += s.report.rows_quarantined
            for file, (n_loaded, n_quarantined) in per_file.items():
                con.execute(
                    "INSERT INTO _loads VALUES (?, ?, ?, ?, ?, ?)",
                    [source, table.name, file, n_loaded, n_quarantined, self.loaded_at],
                )
            con.commit()
        except BaseException:
            con.rollback()
            raise


def load_source(
    wh: Warehouse, source_name: str, batches: Iterable[ExtractFile | RecordBatch]
) -> LoadReport:
    """Load a source's batches into the warehouse, replacing that source's rows.

    Every table the batches deliver is replaced for ``source_name`` (rows and quarantine) in one
    transaction per table; tables the batches do not mention are left as they are. Returns a
    report per file (or per table's record stream). Raises :class:`dealersync.ConfigError` for a
    missing or unreadable file, an unknown table, or a file lacking a key column.
    """
    loader = _Loader(wh, source_name)
    staged: dict[str, list[_Staged]] = {}
    try:
        for batch in batches:
            if isinstance(batch, ExtractFile):
                s = loader.stage_file(batch)
            elif isinstance(batch, RecordBatch):
                s = loader.stage_records(batch)
            else:
                raise TypeError(
                    f"source {source_name!r} yielded {type(batch).__name__};"
                    " expected ExtractFile or RecordBatch"
                )
            staged.setdefault(s.table, []).append(s)
        report = LoadReport()
        for table_name in TABLES:  # canonical load order
            if table_name in staged:
                loader.commit_table(table_name, staged[table_name])
        # Record streams of one table are reported once, not per page.
        merged: dict[tuple[str, str], FileReport] = {}
        for batches_of_table in staged.values():
            for s in batches_of_table:
                key = (s.table, s.file)
                if key in merged:
                    m = merged[key]
                    m.loaded += s.report.loaded
                    m.rows_quarantined += s.report.rows_quarantined
                    for k, v in s.report.quarantined.items():
                        m.quarantined[k] = m.quarantined.get(k, 0) + v
                else:
                    merged[key] = s.report
        report.files = list(merged.values())
        for f in report.files:
            _log_file(f)
        return report
    finally:
        loader.cleanup()


def _log_file(f: FileReport) -> None:
    if f.quarantined:
        details = ", ".join(f"{k}: {v}" for k, v in f.quarantined.items())
        log.warning(
            "%s: loaded %d rows into %s; quarantined %d rows (%s)",
            f.file,
            f.loaded,
            f.table,
            f.rows_quarantined,
            details,
        )
    else:
        log.info("%s: loaded %d rows into %s", f.file, f.loaded, f.table)
    if f.extra_columns:
        log.info(
            "%s: ignored columns not in the model: %s",
            f.file,
            ", ".join(f.extra_columns),
        )


# ------------------------------------------------------------------------------ file structure


def _table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise ConfigError(
            f"unknown table '{name}' (known tables: {', '.join(TABLES)})"
        ) from None


def _read_header(path: Path, ef: ExtractFile) -> tuple[list[str], int]:
    """The file's header fields and the number of physical lines the header takes."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4 * 1024 * 1024)
    except OSError as e:
        raise ConfigError(
            f"{path}: cannot be read ({e.strerror or type(e).__name__})"
        ) from None
    # The header ends at the first line break outside quotes (\n, \r\n or a lone \r).
    quote = ef.quote.encode() if ef.quote else b""
    raw, header_lines = head, 1
    for m in re.finditer(rb"\r\n|\n|\r", head):
        if not quote or head.count(quote, 0, m.start()) % 2 == 0:
            raw = head[: m.start()]
            break
        header_lines += 1
    if not raw.strip():
        raise ConfigError(f"{path}: the file is empty; expected a header row")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the header row is not valid UTF-8") from None
    kwargs: dict[str, Any] = {"delimiter": ef.delimiter}
    if ef.quote:
        kwargs["quotechar"] = ef.quote
    else:
        kwargs["quoting"] = csv.QUOTE_NONE
    try:
        fields = next(csv.reader([text], **kwargs))
    except (csv.Error, StopIteration, TypeError) as e:
        raise ConfigError(f"{path}: the header row cannot be read ({e})") from None
    fields = [f.strip() for f in fields]
    seen: set[str] = set()
    for f in fields:
        if f in seen:
            raise ConfigError(f"{path}: the header names column '{f}' twice")
        seen.add(f)
    return fields, header_lines


def _match_columns(
    header: list[str], table: Table, ef: ExtractFile, file: str
) -> dict[str, int | None]:
    """Canonical column -> position in the file (None when absent)."""
    exact = {h: i for i, h in enumerate(header)}
    folded = {h.casefold(): i for i, h in enumerate(header)}
    out: dict[str, int | None] = {}
    for col in table.column_names:
        name = ef.columns.get(col, col)
        pos = exact.get(name)
        if pos is None:
            pos = folded.get(name.casefold())
        out[col] = pos
    for key in table.key:
        if out[key] is None:
            if key in ef.columns:
                raise ConfigError(
                    f"{file}: the header has no column '{ef.columns[key]}', which the `columns`"
                    f" option maps to '{key}', the key of table '{table.name}'"
                )
            raise ConfigError(
                f"{file}: the header has no column '{key}', the key of table '{table.name}';"
                " if the file names it differently, map it with the `columns` option,"
                f' e.g. columns.{table.name}.{key} = "<name in the file>"'
            )
    return out


def _column_label(
    file_idx: int | None, header: list[str], positions: Mapping[str, int | None]
) -> str | None:
    """The canonical name of a file column (its header name when it is not mapped)."""
    if file_idx is None or file_idx >= len(header):
        return None
    for canon, pos in positions.items():
        if pos == file_idx:
            return canon
    return header[file_idx]


def _duck_error_summary(e: duckdb.Error) -> str:
    """The first line of a DuckDB error, which names the problem but not cell values."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    # Whatever DuckDB quotes could be a value from the file: drop it.
    first = re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", first)
    return first[:200]


def _scan_lines(
    path: Path, chunk: int = 16 * 1024 * 1024
) -> tuple[int, list[int]] | None:
    """The file's line count and its blank lines (1-based), by a bulk byte scan.

    C-speed ``bytes.count`` and a regex over 16 MB blocks; no per-row Python. It answers for
    files with ``\n`` or ``\r\n`` line ends; a file with a lone ``\r`` gets None and is left to
    DuckDB's quote-blind read.
    """
    blank_re = re.compile(rb"^\r?\n", re.MULTILINE)
    line_no = 1  # number of the line that starts at the beginning of the complete lines
    carry = b""
    blanks: list[int] = []
    try:
        with path.open("rb") as fh:
            while block := fh.read(chunk):
                buf = carry + block
                cut = buf.rfind(b"\n") + 1
                complete, carry = buf[:cut], buf[cut:]
                if not complete:
                    continue
                if complete.count(b"\r") != complete.count(b"\r\n"):
                    return None
                pos, at = 0, line_no
                for m in blank_re.finditer(complete):
                    at += complete.count(b"\n", pos, m.start())
                    pos = m.start()
                    blanks.append(at)
                line_no += complete.count(b"\n")
    except OSError:
        return None
    if b"\r" in carry:
        return None
    return line_no - 1 + (1 if carry else 0), blanks


@dataclass
class _Walk:
    breakpoints: list[tuple[int, int]]
    reject_lines: dict[int, int]
    approximate: bool
    tail_line: int | None = None  # first line of an unread tail (an unterminated quote)


def _walk(
    *,
    header_lines: int,
    n_rows: int,
    rejects: list[tuple[int, int]],
    blanks: list[int],
    multi: list[tuple[int, int]],
    n_lines: int | None,
) -> _Walk:
    """Place rows and rejects on physical lines, visiting only the exceptions.

    DuckDB numbers records 1.. (header = 1, every blank line one record, a multi-line record
    once); it returns the good rows in order (index ``i`` from 0) and reports rejects by record
    number ``k``. ``p`` is the physical line. Between exceptions, each record is one good row on
    one line, so ``p``, ``k`` and ``i`` move together and ``line = i + (p - i)`` is constant.
    """
    p = 1 + header_lines  # next physical line
    k = 2  # next record number (the header is record 1, whatever its line count)
    i = 0  # next good row
    ri = bi = mi = 0
    breakpoints: list[tuple[int, int]] = []
    reject_lines: dict[int, int] = {}
    approximate = False

    def mark() -> None:
        off = p - i
        if not breakpoints or breakpoints[-1][1] != off:
            if breakpoints and breakpoints[-1][0] == i:
                breakpoints[-1] = (i, off)
            else:
                breakpoints.append((i, off))

    mark()
    inf = float("inf")
    while i < n_rows or ri < len(rejects):
        while bi < len(blanks) and blanks[bi] < p:
            bi += 1  # a blank line inside a multi-line value, or before the data
        d_r = rejects[ri][0] - k if ri < len(rejects) else inf
        d_b = blanks[bi] - p if bi < len(blanks) else inf
        d_m = multi[mi][0] - i if mi < len(multi) else inf
        d_g = n_rows - i
        d = min(d_r, d_b, d_m, d_g)
        if d < 0:  # DuckDB's numbering and the file disagree
            approximate = True
            d = 0
        if d > 0:
            step = int(d)
            p += step
            k += step
            i += step
            continue
        if bi < len(blanks) and blanks[bi] == p:
            p += 1
            k += 1
            bi += 1
            mark()
        elif ri < len(rejects) and rejects[ri][0] == k:
            reject_lines[k] = p
            p += rejects[ri][1]
            k += 1
            ri += 1
            mark()
        elif mi < len(multi) and multi[mi][0] == i and i < n_rows:
            mark()
            p += 1 + multi[mi][1]
            k += 1
            i += 1
            mi += 1
            mark()
        elif ri < len(rejects) and rejects[ri][0] < k:
            # A reject we have passed: place it by its record number and move on.
            approximate = True
            reject_lines[rejects[ri][0]] = rejects[ri][0] + (p - k)
            ri += 1
        elif i >= n_rows:
            # No rows left but a reject ahead that no blank line explains.
            approximate = True
            gap = rejects[ri][0] - k
            p += gap
            k += gap
        else:  # pragma: no cover - d == 0 always matches one of the above
            approximate = True
            break
    tail_line = None
    if n_lines is not None:
        if p > n_lines + 1:
            approximate = True
        else:
            trailing_blanks = {b for b in blanks if b >= p}
            tail = [
                line for line in range(p, n_lines + 1) if line not in trailing_blanks
            ]
            if tail and not approximate:
                # Lines after the last record that DuckDB neither returned nor rejected: the
                # single-threaded reader drops a record whose quote is never closed at the end
                # of the file (the parallel one reports it).
                tail_line = tail[0]
            elif tail:
                approximate = True
    return _Walk(breakpoints or [(0, p)], reject_lines, approximate, tail_line)


# ------------------------------------------------------------------------------ record helpers


def _validate_record(
    record: Mapping[str, Any], table: Table, model: Any
) -> dict[str, Any] | list[tuple[str | None, str]]:
    """The record's canonical values, or its problems as (column, reason) without values."""
    if not isinstance(record, Mapping):
        return [(None, "not a record (expected a mapping of column to value)")]
    clean: dict[str, Any] = {}
    problems: list[tuple[str | None, str]] = []
    for name, value in record.items():
        if isinstance(value, str):
            value = value.strip(_BLANKS)
            if value == "":
                value = None
        if name not in table.column_names:
            problems.append((str(name), "unknown column"))
            continue
        if value is None and name in table.key:
            continue  # reported as missing below
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and table.column(name).type == "text"
        ):
            value = str(value)  # an API's numeric id is text in the model
        clean[name] = value
    for key in table.key:
        if clean.get(key) is None:
            problems.append((key, f"missing key {key}"))
    if problems:
        return problems
    try:
        obj = model.model_validate(clean)
    except ValidationError as e:
        seen: set[str | None] = set()
        for err in e.errors(include_url=False, include_input=False):
            loc = err.get("loc") or ()
            col = str(loc[0]) if loc else None
            if col in seen:
                continue
            seen.add(col)
            if col in table.column_names:
                if err.get("type") == "missing":
                    problems.append((col, f"missing key {col}"))
                else:
                    problems.append((col, _type_reason(table.column(col), None)[0]))
            else:
                problems.append((col, "unknown column"))
        return problems
    return obj.model_dump()
