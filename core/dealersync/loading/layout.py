"""An extract file's layout: its header, which file column holds which canonical column, and
the DuckDB CSV read over it."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dealersync.connectors import ExtractFile
from dealersync.errors import ConfigError
from dealersync.model import Table
from dealersync.vocabularies import value_map_problems

#: The parallel reader's buffer (bytes). Its chunks are the batches of the order-keeping
#: insert; with DuckDB 2.0's default they are small and uneven (ro_lines of the 1M-customer
#: extract: 109 row groups in the staging table, then 54 of the canonical table's 108 row
#: groups left partly filled by the insert, which the next checkpoint rewrote: ~4-7 s CPU).
#: With 32 MiB: 66 row groups, and nothing to rewrite (checkpoint 0.01 s).
PARALLEL_BUFFER = 32 * 1024 * 1024


@dataclass
class Layout:
    """Where the canonical columns sit in one extract file."""

    ef: ExtractFile
    table: Table
    path: Path
    file: str  # the path as reported in the quarantine
    header: list[str]
    header_lines: int  # physical lines the header takes
    positions: dict[
        str, int | None
    ]  # canonical column -> file column (None when absent)

    @property
    def file_columns(self) -> list[str]:
        """The names the file's columns get in DuckDB: ``c0``, ``c1``, ..."""
        return [f"c{i}" for i in range(len(self.header))]

    @property
    def extra_columns(self) -> list[str]:
        mapped = {p for p in self.positions.values() if p is not None}
        return [h for i, h in enumerate(self.header) if i not in mapped]

    @property
    def missing_columns(self) -> list[str]:
        return [c for c in self.table.column_names if self.positions[c] is None]

    def read_csv(self, options: str, *, parallel: bool = False) -> str:
        """DuckDB's CSV reader over the file, every column as text, plus ``options``; its
        parameters are :attr:`read_params`. ``parallel=False`` reads it single-threaded;
        the parallel reader keeps file order only into a batch insert (see
        :func:`dealersync.loading.sql.create_in_file_order`)."""
        columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in self.file_columns) + "}"
        how = (
            f"parallel=true, buffer_size={PARALLEL_BUFFER}"
            if parallel
            else "parallel=false"
        )
        return (
            f"read_csv(?, columns={columns}, header=true, auto_detect=false,"
            f" all_varchar=true, delim=?, quote=?, escape=?, {how}, {options})"
        )

    @property
    def read_params(self) -> list[str]:
        quote = self.ef.quote or ""
        return [str(self.path), self.ef.delimiter, quote, quote]

    def column_label(self, file_idx: int | None) -> str | None:
        """The canonical name of a file column (its header name when it is not mapped)."""
        if file_idx is None or file_idx >= len(self.header):
            return None
        for canon, pos in self.positions.items():
            if pos == file_idx:
                return canon
        return self.header[file_idx]


def read_layout(ef: ExtractFile, table: Table) -> Layout:
    """Read the file's header and match it to ``table``; a :class:`ConfigError` when the file is
    missing or unreadable, the mapping names an unknown column or the file lacks a key column."""
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
    if ef.decimal_separator not in (".", ","):
        raise ConfigError(
            f"{file}: decimal_separator must be \".\" or \",\" (not {ef.decimal_separator!r})"
        )
    problems = value_map_problems(table, ef.values)
    if problems:
        raise ConfigError(f"{file}: the `values` option: {'; '.join(problems)}")
    positions = _match_columns(header, table, ef, file)
    return Layout(ef, table, path, file, header, header_lines, positions)


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
