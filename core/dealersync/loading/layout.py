"""An extract file's layout: its header, which file column holds which canonical column, and
the DuckDB CSV read over it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from dealersync.connectors import ExtractFile
from dealersync.errors import ConfigError, LayoutError
from dealersync.loading.encodings import UTF8, Encoding
from dealersync.loading.header import read_header
from dealersync.loading.reports import UnreadableFile
from dealersync.loading.staging import target_table
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
    #: physical lines above the header, and the CSV records they hold (DuckDB skips those)
    title_lines: int = 0
    title_records: int = 0
    #: how the file's bytes are read; DuckDB reads :attr:`path`, UTF-8 with consistent line
    #: ends: the file itself, or its copy (see :mod:`dealersync.loading.encodings`)
    encoding: Encoding = Encoding(UTF8)
    #: the line of the file's first byte that is not UTF-8, when its head has one
    utf8_error_line: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def first_record_line(self) -> int:
        """The physical line where the rows start (after title lines and header)."""
        return self.title_lines + self.header_lines + 1

    def reading(
        self, path: Path, encoding: Encoding, warnings: list[str] | None = None
    ) -> Layout:
        """The same layout, DuckDB reading ``path`` (the file or its UTF-8 copy)."""
        return replace(
            self,
            path=path,
            encoding=encoding,
            warnings=self.warnings if warnings is None else warnings,
        )

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
        skip = f" skip={self.title_records}," if self.title_records else ""
        return (
            f"read_csv(?, columns={columns}, header=true,{skip} auto_detect=false,"
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


def read_layout(
    ef: ExtractFile, table: Table, encoding: Encoding | None = None
) -> Layout:
    """Read the file's header and match it to ``table``; ``encoding`` when already settled.

    A :class:`ConfigError` when the file is missing or the mapping names an unknown column; a
    :class:`LayoutError` when the file lacks a key column or a header the mapping names;
    :class:`~dealersync.loading.reports.UnreadableFile` when its bytes hold no readable header
    (see :func:`~dealersync.loading.header.read_header`)."""
    path = Path(ef.path)
    file = str(ef.path)
    if not path.is_file():
        raise ConfigError(
            f"{file}: extract file for table '{table.name}' not found"
            + (" (it is a directory)" if path.is_dir() else "")
        )
    found = read_header(path, ef, table, encoding)
    header, header_lines = found.fields, found.lines
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
    return Layout(
        ef,
        table,
        path,
        file,
        header,
        header_lines,
        positions,
        title_lines=found.title_lines,
        title_records=found.title_records,
        encoding=found.encoding,
        utf8_error_line=found.utf8_error_line,
        warnings=found.warnings,
    )


def check_layout(ef: ExtractFile) -> None:
    """Check that ``ef``'s file fits its table as the load will read it (the same
    :func:`read_layout`): its header is found, the ``columns`` mapping applies, every key column
    is there. Only the file's head is read (:data:`~dealersync.loading.header.HEAD_BYTES` at
    most), so a source runs it on every file before any source loads (the preflight).

    Raises :class:`LayoutError` (or :class:`ConfigError`, as :func:`read_layout`). A file whose
    bytes hold no readable header (empty, not CSV as configured, an I/O error) passes: that is
    the file's outcome in the load (exit 1, the table keeps its rows), not a configuration
    error."""
    try:
        read_layout(ef, target_table(ef.table))
    except UnreadableFile:
        pass


def _match_columns(
    header: list[str], table: Table, ef: ExtractFile, file: str
) -> dict[str, int | None]:
    """Canonical column -> position in the file (None when absent). A key column missing, or a
    header the mapping names that the file lacks: :class:`LayoutError`, listing each."""
    exact = {h: i for i, h in enumerate(header)}
    folded = {h.casefold(): i for i, h in enumerate(header)}
    out: dict[str, int | None] = {}
    for col in table.column_names:
        name = ef.columns.get(col, col)
        pos = exact.get(name)
        if pos is None:
            pos = folded.get(name.casefold())
        out[col] = pos
    problems: list[tuple[str | None, str]] = []
    for col in table.column_names:
        if out[col] is not None:
            continue
        what = f", the key of table '{table.name}'" if col in table.key else ""
        if col in ef.columns:
            problems.append((
                f"columns.{col}",
                f"the header has no column '{ef.columns[col]}', which the `columns` option maps"
                f" to '{col}'{what}",
            ))
        elif col in table.key:
            problems.append((
                None,
                f"the header has no column '{col}'{what}; if the file names it differently,"
                f' map it with the `columns` option, e.g. columns.{table.name}.{col} = "<name in'
                ' the file>"',
            ))
    if problems:
        raise LayoutError(file, problems)
    return out
