"""DuckDB's rejects table, read as structural problems per rejected record.

DuckDB reports one row per problem; the loader wants, per rejected record, how many physical
lines it spans and its problems in our words: ``expected 21 columns, found 20``,
``invalid UTF-8``, ``invalid quoting`` (text after a closing quote), ``line too long``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import duckdb

from dealersync.loading.lines import LINE_BREAKS
from dealersync.loading.sql import ident, literal


class Reject(NamedTuple):
    record: int  # DuckDB's record number (the header is record 1)
    span: int  # physical lines the record takes
    problems: list[tuple[int | None, str]]  # (file column index or None, reason)


def read_rejects(
    con: duckdb.DuckDBPyConnection, rejects_table: str, n_columns: int, quote: str = ""
) -> list[Reject]:
    """DuckDB's rejects, one entry per rejected record, in record order.

    ``quote`` is the file's quote character ("" for none). Reasons never include the value.
    """
    # An odd number of quote characters in the rejected text: a quote that never closes.
    odd_quotes = (
        f"(length(csv_line) - length(replace(csv_line, {literal(quote)}, ''))) % 2 = 1"
        if quote
        else "false"
    )
    rows = con.execute(
        f"SELECT line, error_type::VARCHAR, column_name, error_message,"
        f" len(regexp_extract_all(regexp_replace(coalesce(csv_line, ''),"
        f" '^[\\r\\n]+|[\\r\\n]+$', '', 'g'), {literal(LINE_BREAKS)})) + 1,"
        f" coalesce({odd_quotes}, false)"
        f" FROM {ident(rejects_table)} ORDER BY line, column_idx"
    ).fetchall()
    by_line: dict[int, tuple[int, list[tuple[int | None, str]]]] = {}
    found_cols: dict[int, int] = {}
    for line, etype, column_name, message, span, unclosed in rows:
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
        elif etype == "UNQUOTED VALUE" and unclosed:
            # The parallel reader reports a quote that never closes (it runs to the end of
            # the file) as a reject spanning the rest of the file; the single-threaded one
            # drops it and the walk finds the unread tail. Either way: "unterminated quote".
            reason, idx = "unterminated quote", None
        elif etype == "UNQUOTED VALUE":
            # DuckDB words it "unterminated quote" too, but this is a quoted value followed
            # by more text before the delimiter ("x"y).
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
    return [
        Reject(k, span, problems) for k, (span, problems) in sorted(by_line.items())
    ]
