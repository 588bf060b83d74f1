"""One extract file from its bytes to staged rows: encoding and line ends settled first.

A file DuckDB can read as it is (UTF-8, one kind of line end) is read in place, while the byte
scan (digest, lines, UTF-8 check) runs beside it in a thread: no copy, as before. Otherwise
the scan writes a UTF-8 copy (with LF line ends when the file's are mixed) (:mod:`dealersync.loading.encodings`,
:mod:`dealersync.loading.copies`) and DuckDB reads that, with the original's line numbers:

* the encoding is not UTF-8 (the option, a byte order mark, or a head that is Windows-1252):
  converted before DuckDB reads;
* UTF-8 by default, and the scan finds a byte that is not UTF-8 past the head: the file is
  converted as Windows-1252 and staged again when every byte of it is Windows-1252; else the
  UTF-8 read stands (its bad lines quarantined), with a warning;
* DuckDB stops on the file and the scan finds mixed line ends: staged again from a copy.

A file that still cannot be read raises :class:`UnreadableFile`, naming the fix.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from dealersync.loading.copies import Copies
from dealersync.loading.csv_files import stage_file
from dealersync.loading.encodings import (
    CP1252,
    UTF8,
    Encoding,
    ToUtf8,
    cp1252_warning,
    line_in_file,
    neither_warning,
)
from dealersync.loading.layout import Layout, read_layout
from dealersync.loading.lines import FileScan, scan_file
from dealersync.loading.reports import UnreadableFile
from dealersync.loading.staging import Scratch, Staged
from dealersync.loading.unchanged import PendingFile

log = logging.getLogger(__package__)


def stage_extract(
    scratch: Scratch,
    source: str,
    pending: PendingFile,
    pool: ThreadPoolExecutor,
    copies: Copies,
    month_first: bool = True,
) -> tuple[Staged, FileScan]:
    """Stage one extract file (see the module docstring); returns its staging and its scan
    (digest and size of the file's own bytes)."""
    layout = pending.layout
    enc = layout.encoding
    if not enc.is_utf8:
        warning = cp1252_warning(layout.utf8_error_line) if enc.detect else None
        try:
            return _stage_copy(
                scratch, source, pending, layout, enc, copies, month_first, warning
            )
        except UnicodeDecodeError:
            # The head is Windows-1252 but a byte further on is not: read it as UTF-8.
            warning = neither_warning(layout.utf8_error_line)
            layout = _with_warning(
                read_layout(pending.ef, layout.table, Encoding(UTF8)), warning
            )
    elif layout.utf8_error_line is not None:  # detected: neither UTF-8 nor Windows-1252
        layout = _with_warning(layout, neither_warning(layout.utf8_error_line))
    mark = scratch.mark()
    fut: Future[FileScan] = pool.submit(
        scan_file, layout.path, check_utf8=layout.encoding.detect
    )
    try:
        staged = stage_file(
            scratch,
            source,
            pending.ef,
            n=pending.n,
            layout=layout,
            lines=lambda: _scanned(fut).lines,
            month_first=month_first,
        )
    except UnreadableFile as e:
        scan = _scanned(fut)
        scratch.drop_since(mark)
        if scan.utf8_error_at is not None and layout.encoding.detect:
            line = line_in_file(layout.path, scan.utf8_error_at)
            try:
                return _stage_copy(
                    scratch, source, pending, layout, Encoding(CP1252, detect=True),
                    copies, month_first, cp1252_warning(line),
                )  # fmt: skip
            except UnicodeDecodeError:
                layout = _with_warning(layout, neither_warning(line))
        if scan.mixed_line_ends:
            return _stage_copy(
                scratch, source, pending, layout, Encoding(UTF8), copies, month_first
            )
        raise UnreadableFile(
            f"{e.message}: check the delimiter ({pending.ef.delimiter!r}), the quote and the"
            " encoding options"
        ) from None
    scan = _scanned(fut)
    if scan.utf8_error_at is not None and layout.encoding.detect:
        # Not UTF-8 past the head: Windows-1252 if the whole file is.
        line = line_in_file(layout.path, scan.utf8_error_at)
        try:
            copy, copy_scan = _convert(layout, Encoding(CP1252, detect=True), copies, strict=True)
        except UnicodeDecodeError:
            staged.report.warnings.append(neither_warning(line))
            return staged, scan
        try:
            scratch.drop_since(mark)
            cp1252 = _with_warning(
                read_layout(pending.ef, layout.table, Encoding(CP1252, detect=True)),
                cp1252_warning(line),
            )
            staged = stage_file(
                scratch, source, pending.ef, n=pending.n,
                layout=cp1252.reading(copy, cp1252.encoding),
                lines=lambda: copy_scan.lines, month_first=month_first,
            )  # fmt: skip
        finally:
            copies.remove(copy)
        return staged, copy_scan
    return staged, scan


def _stage_copy(
    scratch: Scratch,
    source: str,
    pending: PendingFile,
    layout: Layout,
    encoding: Encoding,
    copies: Copies,
    month_first: bool,
    warning: str | None = None,
) -> tuple[Staged, FileScan]:
    """Convert the file to a UTF-8 copy and stage the copy. A strict (detected) encoding
    raises UnicodeDecodeError, with nothing staged, when a byte is not of it."""
    copy, scan = _convert(layout, encoding, copies, strict=encoding.detect)
    if scan.mixed_line_ends:  # rare: a second pass, LF line ends
        mixed = copy
        copy = copies.new(Path(layout.ef.path))
        try:
            lf = scan_file(
                mixed, convert=ToUtf8(Encoding(UTF8), strict=False, line_ends=True), copy=copy
            )
        finally:
            copies.remove(mixed)
        scan = replace(scan, lines=lf.lines, mixed_line_ends=False)
    try:
        read = layout.reading(copy, encoding)
        if warning:
            read = _with_warning(read, warning)
        if scan.replaced:
            read = _with_warning(
                read,
                f"{scan.replaced} characters are not {encoding.label} and were read as"
                " U+FFFD (\ufffd): check the encoding option",
            )
        staged = stage_file(
            scratch, source, pending.ef, n=pending.n, layout=read,
            lines=lambda: scan.lines, month_first=month_first,
        )  # fmt: skip
    finally:
        copies.remove(copy)
    log.debug("%s: read from a UTF-8 copy (%s)", layout.file, encoding.label)
    return staged, scan


def _convert(
    layout: Layout, encoding: Encoding, copies: Copies, *, strict: bool
) -> tuple[Path, FileScan]:
    """The file converted to a UTF-8 copy, and its scan (the digest of the file, the lines of
    the copy: the same numbers). A UTF-8 file is copied for its line ends: they become LF."""
    original = Path(layout.ef.path)
    copy = copies.new(original)
    to_utf8 = ToUtf8(encoding, strict=strict, line_ends=encoding.is_utf8)
    try:
        scan = scan_file(original, convert=to_utf8, copy=copy)
    except OSError as e:
        copies.remove(copy)
        raise UnreadableFile(
            f"cannot be read or copied ({e.strerror or type(e).__name__})"
        ) from None
    except UnicodeDecodeError:
        copies.remove(copy)
        raise
    return copy, scan


def _scanned(fut: Future[FileScan]) -> FileScan:
    try:
        return fut.result()
    except OSError as e:
        raise UnreadableFile(f"cannot be read ({e.strerror or type(e).__name__})") from None


def _with_warning(layout: Layout, warning: str) -> Layout:
    return layout.reading(layout.path, layout.encoding, [*layout.warnings, warning])
