"""An extract file's header row: its encoding, the title lines above it, and its fields.

Report writers put title lines above the header ("Customer List", "Run 12/05/2026 by JSMITH",
a blank line). ``skip_rows = N`` says there are N of them; without it the header is the first
record, among the first :data:`HEADER_SEARCH_LINES` lines, whose fields name every key column
of the table (after the ``columns`` mapping; any case); a table without a key looks for any of
its columns. No such record: the header is the first line (and a missing key column is the
configuration error it always was). The lines above the header are skipped and counted in the
load report; line numbers stay physical (a title line is a line).

The head of the file (its first 4 MB) is decoded here, in the file's encoding
(:mod:`dealersync.loading.encodings`): a file detected as UTF-8 whose head is not UTF-8 is read
as Windows-1252 from the start, when its head decodes as that.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dealersync.connectors import ExtractFile
from dealersync.errors import ConfigError, LayoutError
from dealersync.loading.encodings import (
    CP1252,
    UTF8,
    Encoding,
    file_encoding,
    first_invalid_utf8,
    has_utf8_sequences,
    line_at,
)
from dealersync.loading.reports import UnreadableFile
from dealersync.model import Table

#: Without ``skip_rows``, the header is looked for among this many first lines.
HEADER_SEARCH_LINES = 20
HEAD_BYTES = 4 * 1024 * 1024


@dataclass
class Header:
    """Where the header is and what it says."""

    fields: list[str]
    lines: int  # physical lines the header takes
    title_lines: int  # physical lines above it
    title_records: int  # CSV records above it (what DuckDB's ``skip`` counts)
    encoding: Encoding
    #: the line of the first byte that is not UTF-8, when the head has one
    utf8_error_line: int | None = None
    warnings: list[str] = field(default_factory=list)


def read_header(
    path: Path, ef: ExtractFile, table: Table, encoding: Encoding | None = None
) -> Header:
    """Find and read the header of ``path``; ``encoding`` when already settled, else from the
    file's head and the ``encoding`` option. :class:`UnreadableFile` when the file cannot be
    read or holds no header; :class:`LayoutError` when ``skip_rows`` splits a record or the
    header names a column twice."""
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as e:
        raise UnreadableFile(f"cannot be read ({e.strerror or type(e).__name__})") from None
    complete = len(head) < HEAD_BYTES
    warnings: list[str] = []
    if encoding is None:
        encoding, warnings = file_encoding(ef.encoding, head, str(path))
    encoding, text, bad = _decode_head(head, encoding, complete)
    found = _find_header(text, ef, table, str(path))
    if found is None:
        raise UnreadableFile("the file is empty; expected a header row")
    fields, start, end, records = found
    if encoding.is_utf8 and not encoding.detect and "\ufffd" in "".join(fields):
        raise UnreadableFile(
            "the header row is not valid UTF-8: set the encoding option"
            ' (e.g. encoding = "cp1252") if the file is in another encoding'
        )
    fields = [f.strip() for f in fields]
    seen: set[str] = set()
    for f in fields:
        if f in seen:
            raise LayoutError(str(path), [(None, f"the header names column '{f}' twice")])
        seen.add(f)
    bad_line = None if bad is None else line_at(head, bad)
    return Header(fields, end - start + 1, start - 1, records, encoding, bad_line, warnings)


def _decode_head(
    head: bytes, encoding: Encoding, complete: bool
) -> tuple[Encoding, str, int | None]:
    """The head as text, the encoding it settles and the offset of its first byte that is not
    UTF-8 (when it has one). UTF-8 by default becomes Windows-1252 when the head is that (a
    conversion may still find it is not, further on), else strict UTF-8."""
    body = head[encoding.bom :]
    bad = None
    if encoding.detect and encoding.is_utf8:
        bad = first_invalid_utf8(body, final=complete)
        if bad is not None:
            bad += encoding.bom
            try:
                if not has_utf8_sequences(body):
                    return Encoding(CP1252, detect=True), body.decode(CP1252), bad
            except UnicodeDecodeError:
                pass
            encoding = Encoding(UTF8)  # neither (or mixed): its bad lines quarantined
    decoder = codecs.getincrementaldecoder(encoding.codec)("replace")
    return encoding, decoder.decode(body, complete), bad


def _find_header(
    text: str, ef: ExtractFile, table: Table, where: str
) -> tuple[list[str], int, int, int] | None:
    """(fields, first line, last line, records above it) of the header; None when the text
    holds no record."""
    kwargs: dict[str, Any] = {"delimiter": ef.delimiter}
    if ef.quote:
        kwargs["quotechar"] = ef.quote
    else:
        kwargs["quoting"] = csv.QUOTE_NONE
    wanted = [ef.columns.get(k, k).casefold() for k in table.key]
    reader = csv.reader(io.StringIO(text, newline=""), **kwargs)
    first: tuple[list[str], int, int, int] | None = None
    records = 0
    line = 0
    try:
        for fields in reader:
            start, line = line + 1, reader.line_num
            record = (fields, start, line, records)
            records += 1
            if ef.skip_rows is not None:
                if start == ef.skip_rows + 1:
                    return record
                if start > ef.skip_rows + 1:
                    raise LayoutError(where, [(
                        "skip_rows",
                        f"skip_rows = {ef.skip_rows}: line {ef.skip_rows + 1} is inside a quoted"
                        f" value that starts on line {start}",
                    )])
                continue
            if first is None and any(f.strip() for f in fields):
                first = record
            if start > HEADER_SEARCH_LINES:
                break
            if _names_the_key(fields, wanted, table):
                return record
    except csv.Error as e:
        if first is None and ef.skip_rows is None:
            raise UnreadableFile(f"the header row cannot be read ({e})") from None
    except TypeError as e:  # a delimiter or quote that is not one character
        raise ConfigError(f"{where}: the header row cannot be read ({e})") from None
    if ef.skip_rows is not None:
        raise UnreadableFile(
            f"has no header row: the file ends within its {ef.skip_rows} title lines (skip_rows)"
        )
    return first


def _names_the_key(fields: list[str], wanted: list[str], table: Table) -> bool:
    names = {f.strip().casefold() for f in fields}
    if wanted:
        return all(w in names for w in wanted)
    return any(c.casefold() in names for c in table.column_names)
