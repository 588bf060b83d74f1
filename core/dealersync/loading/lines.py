"""Where each row of an extract file sits in the file: its 1-based physical line.

DuckDB does not expose a line number per row (``file_row_number`` is not supported by its CSV
reader), and the ``line`` of its rejects table counts *records* (a blank line counts as one; a
quoted value spanning several lines counts once). The loader therefore combines three
set-oriented facts: the rows DuckDB returns, in file order (read into a temp table whose
``rowid`` is that order, see *File order* below); DuckDB's rejects, with their record number
and the number of line breaks in the rejected text; and a bulk byte scan of the file
(``bytes.count`` / ``find`` over 16 MB blocks, a regex only over a block that holds a blank
line; it also takes the file's digest, and runs in a thread while DuckDB reads the file) that
gives the line count and the blank physical lines (for a file with lone CR line ends, a
quote-blind DuckDB read of the file, single-threaded, gives them instead).

If the line count is more than header + rows + rejected lines + blank lines, some values hold
line breaks: a second read (same rows, same order) counts them per row. A short walk over the
*exceptions only* (rejects, blank lines, rows whose values contain line breaks;
:mod:`dealersync.loading.line_walk`) yields breakpoints ``(row, offset)``; each row's line is
``rowid + offset`` of the last breakpoint at or before it, applied in SQL (a constant when there
is one breakpoint, else an ASOF join). The walk checks that it ends on the file's last line; if
DuckDB's view and the file's ever disagree (not seen in testing), the lines of that file are
flagged as approximate (``FileReport.approximate_lines``) and a warning is logged.

File order. DuckDB's *parallel* CSV reader keeps file order into ``CREATE TEMP TABLE ... AS``
when (``preserve_insertion_order``, the warehouse's setting) the plan is a batch insert
(``BATCH_CREATE_TABLE_AS``) fed only by row-wise operators (projections, filters): each chunk
carries its batch index (its place in the file) and the batch insert appends by it. Any other
plan may not keep it. Measured with DuckDB 2.0, 2 threads, the customers file of the
1M-customer extract with a running counter prepended (``rowid`` vs counter, all 1M rows): the
raw read, in order; the conversion and checks projection of the time, out of order (959,715
rows misplaced, from row 40,285 on; different on every run), because a boolean's
``lower(x) IN ('true', 't', 'y', 'yes', '1')`` (an IN list of 5 or more constants) is planned
as a hash (mark) join, which is not order-keeping and turns the batch insert into a plain
parallel one. With the IN lists written as simple CASE arms the plan is
``BATCH_CREATE_TABLE_AS <- PROJECTION* <- READ_CSV`` and the order held for every row (also
with store_rejects, at 8 threads, and for ro_lines: 7.3M rows). The loader does not rely on
that alone: :func:`~dealersync.loading.sql.keeps_file_order` checks the physical plan of each
read (EXPLAIN) and uses the single-threaded reader (``parallel=false``) when it is anything
else; ``tests/test_load_order.py`` checks every row's line on ~25-30 MB files (it fails when
the IN-list conversion is put back without that check).

Quote problems. The parallel reader splits the file into chunks that it scans independently;
after a quote that never closes, the next chunk's scanner resumes on its own, so the rows
between the quote and that chunk are lost without a reject (and the reject's text is not
reliable), while the single-threaded reader treats the rest of the file as one unterminated
value. So a parallel read whose rejects hold a quote problem (``invalid quoting``,
``unterminated quote``), whose walk finds an unread tail, or disagrees with the file, is
discarded and the file read again single-threaded (:mod:`dealersync.loading.csv_files`).

Limitations, as observed with DuckDB 2.0: the single-threaded reader silently drops a record
whose quote is never closed (it runs to the end of the file); the walk sees the unread tail and
quarantines ``unterminated quote`` at its first line (the line where the quote opens), column
unknown, and the lines after it are not loaded. A stray quote inside an unquoted value
(``ab"c``) is accepted as a literal character. The span of a rejected record is taken from the
text DuckDB stores for it (``csv_line``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dealersync.loading.copies import Copies
from dealersync.loading.encodings import ToUtf8, Utf8Check
from dealersync.loading.layout import Layout
from dealersync.loading.line_walk import Walk, walk
from dealersync.loading.sql import (
    append_rows,
    create_in_file_order,
    error_summary,
    ident,
    literal,
)
from dealersync.loading.staging import Scratch

log = logging.getLogger(__package__)

#: A line break, as a regex (for DuckDB's regexp functions).
LINE_BREAKS = r"\r\n|\r|\n"
# Never in a text file: the quote-blind read sees whole lines.
_RAW_DELIM = "\x1f\x1e\x1d\x1c"


@dataclass
class Placement:
    """A file's rows placed on their lines."""

    walk: Walk
    breakpoints: str  # temp table (i_from, off): a row's line is rowid + off
    lined: str  # temp view: the typed rows plus _ord (file order) and _line
    approximate: bool
    n_lines: int | None  # the file's line count (None when it could not be read)


def place_rows(
    scratch: Scratch,
    layout: Layout,
    *,
    n: int,
    typed: str,
    rejects: list[tuple[int, int]],
    lines: tuple[int, list[int]] | None | Callable[[], tuple[int, list[int]] | None] = None,
    parallel: bool = False,
) -> Placement:
    """Place the rows of ``typed`` (read in file order) and the ``rejects`` (record number,
    physical lines) on the file's physical lines. ``lines`` is the file's :func:`scan_lines`
    when already scanned (or a callable giving it); None scans the file here. ``parallel``:
    ``typed`` was read by the parallel reader (a second read, if needed, may be too)."""
    con = scratch.con
    blanks, n_lines, raw_ok = _blank_lines(scratch, layout.path, lines)
    n_rows = con.execute(f"SELECT count(*) FROM {ident(typed)}").fetchall()[0][0]
    multi: list[tuple[int, int]] = []
    first = layout.first_record_line
    single_line = (
        first
        - 1
        + n_rows
        + sum(span for _, span in rejects)
        + sum(1 for b in blanks if b >= first)
    )
    if n_lines is not None and n_lines != single_line:
        # Some values hold line breaks: count them per row, in a second read that returns
        # the same rows in the same order (rare: most extracts are one record per line).
        multi = _multi_line_rows(scratch, layout, parallel)
    placed = walk(
        header_lines=layout.header_lines,
        title_lines=layout.title_lines,
        title_records=layout.title_records,
        n_rows=n_rows,
        rejects=rejects,
        blanks=blanks,
        multi=multi,
        n_lines=n_lines,
    )
    bp = scratch.name("TABLE", f"{n}_bp")
    con.execute(f"CREATE TEMP TABLE {ident(bp)} (i_from BIGINT, off BIGINT)")
    append_rows(con, bp, placed.breakpoints)
    lined = scratch.name("VIEW", f"{n}_lined")
    if len(placed.breakpoints) == 1:  # the usual case: one constant offset
        con.execute(
            f"CREATE TEMP VIEW {ident(lined)} AS SELECT t.*, t.rowid AS _ord,"
            f" t.rowid + {int(placed.breakpoints[0][1])} AS _line FROM {ident(typed)} t"
        )
    else:
        con.execute(
            f"CREATE TEMP VIEW {ident(lined)} AS SELECT t.*, t.rowid AS _ord,"
            f" t.rowid + b.off AS _line FROM {ident(typed)} t ASOF JOIN {ident(bp)} b"
            " ON t.rowid >= b.i_from"
        )
    return Placement(placed, bp, lined, placed.approximate or not raw_ok, n_lines)


#: A content digest of an extract file (hashlib name). Measured on the benchmark extracts
#: (150 MB, this machine): sha1 and sha256 ~0.21 s (hardware SHA), blake2b 0.40 s, md5 0.26 s.
DIGEST = "sha256"
_BLOCK = 16 * 1024 * 1024


@dataclass
class FileScan:
    """One bulk pass over an extract file: its size, mtime, content digest and lines."""

    size: int
    mtime_ns: int
    digest: str
    #: (line count, blank lines) or None for lone CR line ends (see :func:`scan_lines`)
    lines: tuple[int, list[int]] | None
    #: the file's line ends are not all alike (LF and CRLF, or lone CR and LF): DuckDB's
    #: reader stops on such a file unless the odd ones sit inside quoted values
    mixed_line_ends: bool = False
    #: offset of the first byte that is not UTF-8 (when the scan checked)
    utf8_error_at: int | None = None
    #: characters the conversion replaced by U+FFFD (when it was asked to)
    replaced: int = 0


class _LineScan:
    """Line count and blank lines of a byte stream fed block by block.

    Every complete line is looked at exactly once, in a buffer that starts at a line start:
    a line cut by a block end is carried (small) and completed with the next block's first
    line; the rest of the block is scanned in place (no copy). The common case, a block with
    no blank line, costs a few C-speed ``bytes.count`` / ``find`` calls; only a block that
    holds a blank line (``\n\n``, ``\n\r\n``, or starting with ``\n`` / ``\r\n``) runs
    the regex that places them.
    """

    _blank_re = re.compile(rb"^\r?\n", re.MULTILINE)
    _has_blank_re = re.compile(rb"\n\r?\n")

    def __init__(self) -> None:
        self.line_no = 1  # number of the line that starts the next complete part
        self.carry: list[bytes] = []  # the start of a line cut by a block end
        self.blanks: list[int] = []
        self.ok = True  # False once a lone CR is seen
        self.crlf = 0  # CRLF line ends seen (while ok)
        self.saw_lf = False  # an LF seen anywhere (after a lone CR too)

    @property
    def mixed_line_ends(self) -> bool:
        """LF and CRLF, or lone CR and LF: more than one kind of line end."""
        if not self.ok or any(b"\r" in part for part in self.carry):
            return self.saw_lf  # a lone CR (see result())
        return 0 < self.crlf < self.line_no - 1

    def feed(self, block: bytes | bytearray, n: int) -> None:
        """Take ``block[:n]``."""
        if not self.ok:
            self.saw_lf = self.saw_lf or block.find(b"\n", 0, n) >= 0
            return
        if not n:
            return
        first = block.find(b"\n", 0, n)
        if first < 0:
            self.carry.append(bytes(block[:n]))
            return
        self.saw_lf = True
        start = 0
        if self.carry:
            piece = b"".join(self.carry) + bytes(block[: first + 1])
            self.carry = []
            self._complete(piece, 0, len(piece))
            start = first + 1
        cut = block.rfind(b"\n", 0, n) + 1
        if cut > start:
            self._complete(block, start, cut)
        if cut < n:
            self.carry.append(bytes(block[cut:n]))

    def _complete(self, buf: bytes | bytearray, s: int, e: int) -> None:
        """Complete lines ``buf[s:e]`` (``s`` is a line start, ``buf[e - 1]`` a ``\n``)."""
        if not self.ok:
            return
        if buf.find(b"\r", s, e) >= 0:
            crlf = buf.count(b"\r\n", s, e)
            if buf.count(b"\r", s, e) != crlf:
                self.ok = False
                return
            self.crlf += crlf
        if (
            buf.startswith((b"\n", b"\r\n"), s, e)
            or self._has_blank_re.search(buf, s, e) is not None
        ):
            complete = bytes(buf[s:e])  # rare: a block holding a blank line
            pos, at = 0, self.line_no
            for m in self._blank_re.finditer(complete):
                at += complete.count(b"\n", pos, m.start())
                pos = m.start()
                self.blanks.append(at)
        self.line_no += buf.count(b"\n", s, e)

    def result(self) -> tuple[int, list[int]] | None:
        if not self.ok:
            return None
        tail = b"".join(self.carry)
        if b"\r" in tail:
            return None
        return self.line_no - 1 + (1 if tail else 0), self.blanks


def scan_file(
    path: Path,
    *,
    lines: bool = True,
    chunk: int = _BLOCK,
    check_utf8: bool = False,
    convert: ToUtf8 | None = None,
    copy: Path | None = None,
) -> FileScan:
    """One read of the file: its content digest and (``lines``) its lines (see
    :func:`scan_lines`); ``check_utf8``: where its first byte that is not UTF-8 is.

    ``convert`` (with ``copy``): write the file converted to UTF-8 with LF line ends to
    ``copy``, and take the lines of the copy (the same line numbers: one line per line). Raises
    OSError when a file cannot be read or written, UnicodeDecodeError when a strict conversion
    meets a byte its encoding does not define."""
    digest = hashlib.new(DIGEST)
    scan = _LineScan() if lines or convert else None
    utf8 = Utf8Check() if check_utf8 else None
    buf = bytearray(chunk)
    view = memoryview(buf)
    out = None if convert is None or copy is None else Copies.open(copy)
    try:
        with path.open("rb", buffering=0) as fh:
            st = os.fstat(fh.fileno())
            while n := fh.readinto(buf):
                digest.update(view[:n])
                if utf8 is not None:
                    utf8.feed(buf, n)
                if out is not None and convert is not None:
                    converted = convert.convert(view[:n])
                    _write_all(out, converted)
                    if scan is not None:
                        scan.feed(converted, len(converted))
                elif scan is not None:
                    scan.feed(buf, n)
            if out is not None and convert is not None:
                tail = convert.convert(b"", final=True)
                _write_all(out, tail)
                if scan is not None:
                    scan.feed(tail, len(tail))
    finally:
        if out is not None:
            os.close(out)
    return FileScan(
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        digest=digest.hexdigest(),
        lines=scan.result() if scan is not None else None,
        mixed_line_ends=scan.mixed_line_ends if scan is not None else False,
        utf8_error_at=utf8.finish() if utf8 is not None else None,
        replaced=convert.replaced if convert is not None else 0,
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def scan_lines(
    path: Path, chunk: int = _BLOCK
) -> tuple[int, list[int]] | None:
    """The file's line count and its blank lines (1-based), by a bulk byte scan.

    C-speed ``bytes.count`` / ``find`` over 16 MB blocks, and a regex only over a block that
    holds a blank line; no per-row Python. It answers for files with ``\n`` or ``\r\n`` line
    ends; a file with a lone ``\r`` gets None and is left to DuckDB's quote-blind read.
    """
    scan = _LineScan()
    buf = bytearray(chunk)
    try:
        with path.open("rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                scan.feed(buf, n)
                if not scan.ok:
                    return None
    except OSError:
        return None
    return scan.result()


def _blank_lines(
    scratch: Scratch,
    path: Path,
    lines: tuple[int, list[int]] | None | Callable[[], tuple[int, list[int]] | None] = None,
) -> tuple[list[int], int | None, bool]:
    """Blank physical lines (1-based) and the number of lines.

    Returns ``(blank lines, line count, ok)``; ``ok`` is False when the file could not be
    read (line numbers are then approximate). The byte scan answers for most files; a file
    with lone CR line ends falls back to a quote-blind DuckDB read.
    """
    quick = lines() if callable(lines) else lines
    if quick is None and lines is None:
        quick = scan_lines(path)
    if quick is not None:
        return quick[1], quick[0], True
    con = scratch.con
    raw_read = (
        "read_csv(?, columns={'raw': 'VARCHAR'}, header=false, auto_detect=false, delim=?,"
        " quote='', escape='', encoding='latin-1'{parallel})"
    )
    params = [str(path), _RAW_DELIM]
    try:
        # Counting needs no order: a parallel read.
        n_lines, n_blank = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE raw IS NULL OR raw = '')"
            f" FROM {raw_read.replace('{parallel}', '')}",
            params,
        ).fetchall()[0]
        if not n_blank:
            return [], int(n_lines), True
        # Where the blank lines are needs file order: a single-threaded read.
        raw = scratch.name("TABLE", f"{scratch.number()}_raw")
        con.execute(
            f"CREATE TEMP TABLE {ident(raw)} AS SELECT (raw IS NULL OR raw = '') AS blank"
            f" FROM {raw_read.replace('{parallel}', ', parallel=false')}",
            params,
        )
    except duckdb.Error as e:
        log.debug("%s: the line count could not be read (%s)", path, error_summary(e))
        return [], None, False
    blanks = [
        int(r[0])
        for r in con.execute(
            f"SELECT rowid + 1 FROM {ident(raw)} WHERE blank ORDER BY rowid"
        ).fetchall()
    ]
    con.execute(f"DROP TABLE {ident(raw)}")
    return blanks, int(n_lines), True


def _multi_line_rows(
    scratch: Scratch, layout: Layout, parallel: bool
) -> list[tuple[int, int]]:
    """(row index, line breaks in its values) for the rows that span several lines."""
    con = scratch.con
    nl = scratch.name("TABLE", f"{scratch.number()}_nl")
    file_cols = layout.file_columns
    has_break = " OR ".join(
        f"contains({c}, chr(10)) OR contains({c}, chr(13))" for c in file_cols
    )
    joined = "concat_ws(chr(31), " + ", ".join(file_cols) + ")"
    create_in_file_order(
        con,
        nl,
        lambda par: f"SELECT CASE WHEN {has_break} THEN"
        f" len(regexp_extract_all({joined}, {literal(LINE_BREAKS)})) ELSE 0 END AS n"
        f" FROM {layout.read_csv('ignore_errors=true', parallel=par)}",
        layout.read_params,
        allow_parallel=parallel,
    )
    rows = con.execute(
        f"SELECT rowid, n FROM {ident(nl)} WHERE n > 0 ORDER BY rowid"
    ).fetchall()
    con.execute(f"DROP TABLE {ident(nl)}")
    return [(int(i), int(n)) for i, n in rows]
