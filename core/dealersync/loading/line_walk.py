"""The walk that places an extract file's rows and rejects on physical lines.

Pure bookkeeping over the *exceptions only* (rejects, blank lines, rows whose values hold line
breaks): between two exceptions every record is one good row on one line, so the walk jumps
over them. See :mod:`dealersync.loading.lines` for where its inputs come from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Walk:
    """Where the rows and rejects sit: a row's line is ``row + offset`` of the last breakpoint
    ``(row, offset)`` at or before it."""

    breakpoints: list[tuple[int, int]]  # never empty
    reject_lines: dict[int, int]  # reject's record number -> its first physical line
    approximate: bool  # DuckDB's view and the file's disagreed somewhere
    tail_line: int | None = None  # first line of an unread tail (an unterminated quote)


def walk(
    *,
    header_lines: int,
    n_rows: int,
    rejects: list[tuple[int, int]],
    blanks: list[int],
    multi: list[tuple[int, int]],
    n_lines: int | None,
    title_lines: int = 0,
    title_records: int = 0,
) -> Walk:
    """Place rows and rejects on physical lines, visiting only the exceptions.

    DuckDB numbers records 1.. (header = 1, every blank line one record, a multi-line record
    once); it returns the good rows in order (index ``i`` from 0) and reports rejects by record
    number ``k``. ``p`` is the physical line. Between exceptions, each record is one good row on
    one line, so ``p``, ``k`` and ``i`` move together and ``line = i + (p - i)`` is constant.
    Title lines above the header (``title_lines`` physical lines holding ``title_records``
    records, which DuckDB skips but numbers) come first.
    """
    p = 1 + title_lines + header_lines  # next physical line
    k = title_records + 2  # next record number (the header is one, whatever its lines)
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
    return Walk(breakpoints, reject_lines, approximate, tail_line)
