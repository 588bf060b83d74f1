"""The ``dms-csv`` source: a directory holding one CSV file per canonical table.

The generic layout is ``customers.csv``, ``vehicles.csv``, ... with the canonical column names as
headers (see the data model). Other layouts are described in config: how to read the files
(``delimiter``, ``encoding``, ``date_format``, ...) source-wide, and per table under
``[sources.X.tables.<table>]`` (its ``file``, ``columns`` and any read option, which overrides
the source-wide one); ``files`` and ``columns`` at the top level say the same per table. The
engine loads each file through its CSV reader with quarantine; this class only says which files
to load and how to read them.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from dealersync import (
    TABLES,
    ConfigError,
    ConfigErrors,
    ConnectorConfig,
    ExtractFile,
    LayoutError,
    RecordBatch,
    Source,
    check_layout,
    value_map_problems,
)
from pydantic import AliasChoices, Field, field_validator, model_validator

REQUIRED_TABLE = "customers"


def _one_character(value: str | None) -> str | None:
    if value is not None and (len(value) != 1 or value in '\r\n"'):
        raise ValueError("must be one character other than a quote or a line break")
    return value


def _known_encoding(value: str | None) -> str | None:
    """A text encoding Python knows (the engine decodes with it)."""
    if value is None:
        return value
    try:
        info = codecs.lookup(value)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ValueError(
            "not a known text encoding (e.g. utf-8, cp1252, latin-1, utf-16)"
        )
    return value


def _check_columns(table: str, mapping: dict[str, str]) -> None:
    unknown = sorted(set(mapping) - set(TABLES[table].column_names))
    if unknown:
        raise ValueError(
            f"{table}: unknown column {', '.join(unknown)}"
            f" (columns: {', '.join(TABLES[table].column_names)})"
        )


def _check_values(table: str, mapping: dict[str, dict[str, str]]) -> None:
    problems = value_map_problems(TABLES[table], mapping)
    if problems:
        raise ValueError("; ".join(problems))


#: A table's `values`: canonical column -> {the DMS's spelling -> canonical value}.
ValueMap = dict[str, dict[str, str]]


class ReadOptions(ConnectorConfig):
    """How files are read: source-wide, or one table's (None: the source-wide value)."""

    delimiter: str | None = Field(
        default=None,
        description="Field delimiter (one character, e.g. ';', '|' or a tab \"\\t\"); default ','.",
    )
    encoding: str | None = Field(
        default=None,
        description="Text encoding, e.g. \"cp1252\" (Windows-1252), \"latin-1\", \"utf-8\","
        " \"utf-16\" (Excel's Unicode Text). Default: detected (a byte order mark decides,"
        " else UTF-8; a file that is not UTF-8 but is Windows-1252 is read as cp1252 with a"
        " warning). \"utf-8\" is strict: lines that are not UTF-8 are quarantined.",
    )
    skip_rows: int | None = Field(
        default=None,
        ge=0,
        description="Title lines above the header row (report writers). Default: the header is"
        " found among the first 20 lines by the table's key column name.",
    )
    date_format: str | None = Field(
        default=None,
        description="strftime format of dates when they are not ISO 8601 (YYYY-MM-DD),"
        ' e.g. "%m/%d/%Y".',
    )
    timestamp_format: str | None = Field(
        default=None,
        description="strftime format of timestamps when they are not ISO 8601,"
        ' e.g. "%m/%d/%Y %H:%M".',
    )
    decimal_separator: Literal[".", ","] | None = Field(
        default=None,
        description='Decimal separator of numbers: "." (default: 1,234.56) or ","'
        " (1.234,56). Money signs, thousands separators and (12.00) / 12.00- negatives"
        " are read either way.",
    )

    _delimiter = field_validator("delimiter")(_one_character)
    _encoding = field_validator("encoding")(_known_encoding)


class TableOptions(ReadOptions):
    """One table's file: its name, its headers and any read option that differs."""

    file: str | None = Field(
        default=None,
        description="The table's file name when it is not <table>.csv, e.g. \"CUST.TXT\".",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="The file's header for each canonical column when it differs,"
        ' e.g. { customer_id = "CustNo" }.',
    )
    values: ValueMap = Field(
        default_factory=dict,
        description="The DMS's own words for the table's enumerated columns, per column:"
        ' { status = { WIP = "recommended" } }; they come before the built-in spellings'
        " (case and surrounding spaces ignored).",
    )


class DmsCsvSource(Source):
    """A DMS extract: a directory with ``customers.csv`` and optionally the other tables."""

    name = "dms-csv"

    class Config(ReadOptions):
        dir: str = Field(
            # `path` is its old name, still read (every directory option is `dir`)
            validation_alias=AliasChoices("dir", "path"),
            description="Directory of the extract, holding customers.csv and the other table"
            " files; relative to connectors.toml. `path` is accepted as its old name.",
        )
        files: dict[str, str] = Field(
            default_factory=dict,
            description="File name per table when it is not <table>.csv,"
            ' e.g. { customers = "CUST.TXT" } (or `file` under tables.<table>).',
        )
        columns: dict[str, dict[str, str]] = Field(
            default_factory=dict,
            description="Per table, the file's header for each canonical column when it differs,"
            ' e.g. { customers = { customer_id = "CustNo", email = "E-Mail" } }'
            " (or `columns` under tables.<table>). Unmapped columns are read by their"
            " canonical name; absent ones load empty. A header named here that the file"
            " lacks is a configuration error (exit 2, before anything loads).",
        )
        values: dict[str, ValueMap] = Field(
            default_factory=dict,
            description="Per table, the DMS's own words for enumerated columns onto the"
            ' canonical values, e.g. { ro_lines = { status = { WIP = "recommended" } } }'
            " (or `values` under tables.<table>, which adds to and overrides it). Built-in"
            " spellings (C, D, DECL, CP, W, I, ...) need no mapping; see docs/data-model.md.",
        )
        tables: dict[str, TableOptions] = Field(
            default_factory=dict,
            description="Per table, its file and how to read it when it differs from the"
            " source-wide options: [sources.<name>.tables.deals] with file, columns,"
            " values, delimiter, encoding, skip_rows, date_format, timestamp_format,"
            " decimal_separator.",
        )
        delimiter: str = Field(
            default=",",
            description="Field delimiter of every file (one character, e.g. ';', '|' or a"
            ' tab "\\t"); tables.<table>.delimiter overrides it.',
        )

        @field_validator("files", "columns", "tables", "values")
        @classmethod
        def _known_tables(cls, value: dict[str, Any]) -> dict[str, Any]:
            unknown = sorted(set(value) - set(TABLES))
            if unknown:
                raise ValueError(
                    f"unknown table {', '.join(unknown)} (tables: {', '.join(TABLES)})"
                )
            return value

        @field_validator("columns")
        @classmethod
        def _known_columns(
            cls, value: dict[str, dict[str, str]]
        ) -> dict[str, dict[str, str]]:
            for table, mapping in value.items():
                _check_columns(table, mapping)
            return value

        @field_validator("tables")
        @classmethod
        def _known_table_columns(
            cls, value: dict[str, TableOptions]
        ) -> dict[str, TableOptions]:
            for table, opts in value.items():
                _check_columns(table, opts.columns)
                _check_values(table, opts.values)
            return value

        @field_validator("values")
        @classmethod
        def _known_values(cls, value: dict[str, ValueMap]) -> dict[str, ValueMap]:
            for table, mapping in value.items():
                _check_values(table, mapping)
            return value

        @model_validator(mode="after")
        def _one_place_per_table(self) -> DmsCsvSource.Config:
            """A table's file and columns are set at the top level or under `tables`."""
            for table, opts in self.tables.items():
                if table in self.files and opts.file:
                    raise ValueError(
                        f"files.{table} and tables.{table}.file are both set; keep one"
                    )
                if table in self.columns and opts.columns:
                    raise ValueError(
                        f"columns.{table} and tables.{table}.columns are both set; keep one"
                    )
            return self

    config: Config

    # ------------------------------------------------------------------------------- layout

    @property
    def directory(self) -> Path:
        return self.context.resolve(self.config.dir)

    def table_options(self, table: str) -> TableOptions:
        """How ``table``'s file is read: its own options over the source-wide ones."""
        cfg = self.config
        own = cfg.tables.get(table, TableOptions())
        merged = {
            name: getattr(own, name) if getattr(own, name) is not None else getattr(cfg, name)
            for name in ReadOptions.model_fields
        }
        wide = cfg.values.get(table, {})
        values = {
            column: {**wide.get(column, {}), **own.values.get(column, {})}
            for column in {**wide, **own.values}
        }
        return TableOptions(
            file=own.file or cfg.files.get(table),
            columns=own.columns or cfg.columns.get(table, {}),
            values=values,
            **merged,
        )

    def file_for(self, table: str) -> Path:
        """The file holding ``table`` in this extract (it may not exist)."""
        return self.directory / (self.table_options(table).file or f"{table}.csv")

    # ------------------------------------------------------------------------------ contract

    def check_config(self, audiences: tuple[str, ...] = ()) -> None:
        """Before anything loads: the extract directory and its customers file exist, and every
        table file's header fits its table (found, ``columns`` applied, key columns there),
        read from the file's first lines as the load reads them (:func:`dealersync.check_layout`).
        Every file's problems are listed at once, each under the key to fix."""
        self._check_extract()
        problems: list[str] = []
        for table in self.streams():
            for ef in self.read(table, None):
                assert isinstance(ef, ExtractFile)  # read() yields extract files only
                try:
                    check_layout(ef)
                except LayoutError as e:
                    problems += [
                        f"{self._key(table, option)}: {e.file}: {reason}"
                        for option, reason in e.problems
                    ]
        if problems:
            raise ConfigErrors(problems)

    def _key(self, table: str, option: str | None) -> str:
        """The config key of ``table``'s ``option`` (None: its file), where the dealer set it."""
        where = f"sources.{self.context.instance}"
        own = self.config.tables.get(table, TableOptions())
        if option is None:
            return f"{where}.tables.{table}.file" if own.file else f"{where}.files.{table}"
        if option.startswith("columns."):
            column = option.removeprefix("columns.")
            if own.columns:
                return f"{where}.tables.{table}.columns.{column}"
            return f"{where}.columns.{table}.{column}"
        if table in self.config.tables and getattr(own, option, None) is not None:
            return f"{where}.tables.{table}.{option}"
        return f"{where}.{option}"

    def _check_extract(self) -> None:
        """The extract directory and its customers file exist."""
        where = f"sources.{self.context.instance}"
        if not self.directory.is_dir():
            raise ConfigError(
                f"{where}.dir: found {self.config.dir!r}, expected the extract directory"
                f" ({self.directory} does not exist)"
            )
        customers = self.file_for(REQUIRED_TABLE)
        if not customers.is_file():
            if REQUIRED_TABLE in self.config.files:
                key, hint = f"files.{REQUIRED_TABLE}", ""
            elif self.table_options(REQUIRED_TABLE).file:
                key, hint = f"tables.{REQUIRED_TABLE}.file", ""
            else:
                key = "dir"
                hint = (
                    "; if the extract names it differently, set"
                    f' files.{REQUIRED_TABLE} = "<file name>"'
                )
            raise ConfigError(
                f"{where}.{key}: the customers file {customers} does not exist{hint}"
            )

    def streams(self) -> list[str]:
        """The tables whose file exists in the extract, in load order; customers is required."""
        self._check_extract()
        return [t for t in TABLES if self.file_for(t).is_file()]

    def read(
        self, stream: str, state: dict[str, Any] | None
    ) -> Iterator[ExtractFile | RecordBatch]:
        """One extract file: a full snapshot of the table (``state`` is not used)."""
        if stream not in TABLES:
            raise ConfigError(
                f"[sources.{self.context.instance}]: unknown table '{stream}'"
            )
        opts = self.table_options(stream)
        yield ExtractFile(
            path=self.file_for(stream),
            table=stream,
            columns=dict(opts.columns),
            delimiter=opts.delimiter or ",",
            date_format=opts.date_format,
            timestamp_format=opts.timestamp_format,
            encoding=opts.encoding,
            skip_rows=opts.skip_rows,
            decimal_separator=opts.decimal_separator or ".",
            values=opts.values,
        )
