"""Total rows at the end of an extract file (report writers), recognised and skipped.

A report writer often ends its export with totals: ``Grand Total,,,,1234.56``,
``,,TOTAL,,,88``, ``Total records: 1,883``, ``1883 records``. They are not data: they are
skipped and counted in the load report (``FileReport.total_rows``), not quarantined.

The rule, exactly. A row is a *total row* when

1. one of its fields holds a total word: ``total``, ``totals``, ``grand total``, ``subtotal``
   (also ``sub-total``, ``sub total``), ``record count``, ``row count``, ``end of report``
   (whole words, any case, anywhere in the field), or starts with ``count`` or ``sum``, or
   holds a number followed by ``records`` or ``rows`` (``1,883 records``); and
2. it is not a data row: its key is empty (every key column blank or absent), or a key column
   holds the total word (the label sits in the first column, which is often the key), or the
   row has fewer fields than the header. A table without a key (suppressions) needs the
   latter.

The *trailing block* is the longest run at the end of the file made of total rows, rows with
no value at all (only delimiters or spaces) and blank lines. When it holds at least one total
row, every row in it is skipped, from its first line to the end of the file; otherwise nothing
is (an empty row at the end is quarantined as before, for its missing key). A line is read for
this on its own: a line with an odd number of quote characters (part of a multi-line value)
ends the block. Only the last 64 KB of the file are looked at.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from dealersync.loading.layout import Layout

TAIL_BYTES = 64 * 1024

#: Condition 1 of the rule (see the module docstring).
TOTAL_WORDS = re.compile(
    r"\b(?:grand\s*totals?|sub[\s-]*totals?|totals?|record\s+count|row\s+count"
    r"|end\s+of\s+report)\b|^\W*(?:count|sum)\b|\b\d[\d,]*\s+(?:records?|rows?)\b",
    re.IGNORECASE,
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def first_total_line(layout: Layout, n_lines: int | None) -> int | None:
    """The first line of the file's trailing block of total rows; None when it has none."""
    if not n_lines:
        return None
    lines = _last_lines(layout.path)
    if lines is None:
        return None
    start: int | None = None
    found_total = False
    line = n_lines
    for text in reversed(lines):
        if line < layout.first_record_line:
            break
        kind = _kind(text, layout)
        if kind == "data":
            break
        found_total = found_total or kind == "total"
        start = line
        line -= 1
    return start if found_total else None


def _last_lines(path: Path) -> list[str] | None:
    """The whole lines in the last :data:`TAIL_BYTES` of the file, the last one last (a line
    break at the very end closes the last line)."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            start = max(0, size - TAIL_BYTES)
            fh.seek(start)
            data = fh.read()
    except OSError:
        return None
    lines = _LINE_BREAK.split(data.decode("utf-8", "replace"))
    if lines and lines[-1] == "":
        lines.pop()
    return lines[1:] if start else lines  # the first may be cut by the window


def _kind(text: str, layout: Layout) -> str:
    """"total", "empty" (no value, or a blank line) or "data"."""
    quote = layout.ef.quote
    if quote and text.count(quote) % 2:
        return "data"
    kwargs: dict[str, Any] = {"delimiter": layout.ef.delimiter}
    if quote:
        kwargs["quotechar"] = quote
    else:
        kwargs["quoting"] = csv.QUOTE_NONE
    try:
        fields = next(csv.reader([text], **kwargs), [])
    except csv.Error:
        return "data"
    if not any(f.strip() for f in fields):
        return "empty"
    if not any(TOTAL_WORDS.search(f) for f in fields):
        return "data"
    keys = [layout.positions[k] for k in layout.table.key]
    key_values = [fields[p] if p is not None and p < len(fields) else "" for p in keys]
    short = len(fields) < len(layout.header)
    if short or (
        keys
        and (
            not any(v.strip() for v in key_values)
            or any(TOTAL_WORDS.search(v) for v in key_values)
        )
    ):
        return "total"
    return "data"
