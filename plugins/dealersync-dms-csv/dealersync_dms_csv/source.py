"""The ``dms-csv`` source: a directory holding one CSV file per canonical table.

The generic layout is ``customers.csv``, ``vehicles.csv``, ... with the canonical column names as
headers (see the data model). Other layouts are described in config: a file name per table
(``files``) and a header per canonical column (``columns``). The engine loads each file through
its CSV reader with quarantine; this class only says which files to load and how to read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dealersync import (
    TABLES,
    ConfigError,
    ConnectorConfig,
    ExtractFile,
    RecordBatch,
    Source,
)
from pydantic import Field, field_validator

REQUIRED_TABLE = "customers"


class DmsCsvSource(Source):
    """A DMS extract: a directory with ``customers.csv`` and optionally the other tables."""

    name = "dms-csv"

    class Config(ConnectorConfig):
        path: str = Field(
            description="Directory of the extract, holding customers.csv and the other table"
            " files; relative to connectors.toml."
        )
        files: dict[str, str] = Field(
            default_factory=dict,
            description="File name per table when it is not <table>.csv,"
            ' e.g. { customers = "CUST.TXT" }.',
        )
        columns: dict[str, dict[str, str]] = Field(
            default_factory=dict,
            description="Per table, the file's header for each canonical column when it differs,"
            ' e.g. { customers = { customer_id = "CustNo", email = "E-Mail" } }.'
            " Unmapped columns are read by their canonical name; absent ones load empty.",
        )
        delimiter: str = Field(
            default=",",
            description="Field delimiter of every file (one character, e.g. ';' or '|').",
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

        @field_validator("files", "columns")
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
                unknown = sorted(set(mapping) - set(TABLES[table].column_names))
                if unknown:
                    raise ValueError(
                        f"{table}: unknown column {', '.join(unknown)}"
                        f" (columns: {', '.join(TABLES[table].column_names)})"
                    )
            return value

        @field_validator("delimiter")
        @classmethod
        def _one_character(cls, value: str) -> str:
            if len(value) != 1 or value in '\r\n"':
                raise ValueError(
                    "must be one character other than a quote or a line break"
                )
            return value

    config: Config

    # ------------------------------------------------------------------------------- layout

    @property
    def directory(self) -> Path:
        return self.context.resolve(self.config.path)

    def file_for(self, table: str) -> Path:
        """The file holding ``table`` in this extract (it may not exist)."""
        return self.directory / self.config.files.get(table, f"{table}.csv")

    # ------------------------------------------------------------------------------ contract

    def check(self) -> None:
        where = f"[sources.{self.context.instance}]"
        if not self.directory.is_dir():
            raise ConfigError(
                f"{where} path: the extract directory {self.directory} does not exist"
            )
        customers = self.file_for(REQUIRED_TABLE)
        if not customers.is_file():
            hint = (
                " (set by the `files` option)"
                if REQUIRED_TABLE in self.config.files
                else "; if the extract names it differently, set"
                f' files.{REQUIRED_TABLE} = "<file name>"'
            )
            raise ConfigError(
                f"{where}: the customers file {customers} does not exist{hint}"
            )

    def streams(self) -> list[str]:
        """The tables whose file exists in the extract, in load order; customers is required."""
        self.check()
        return [t for t in TABLES if self.file_for(t).is_file()]

    def read(
        self, stream: str, state: dict[str, Any] | None
    ) -> Iterator[ExtractFile | RecordBatch]:
        """One extract file: a full snapshot of the table (``state`` is not used)."""
        if stream not in TABLES:
            raise ConfigError(
                f"[sources.{self.context.instance}]: unknown table '{stream}'"
            )
        yield ExtractFile(
            path=self.file_for(stream),
            table=stream,
            columns=dict(self.config.columns.get(stream, {})),
            delimiter=self.config.delimiter,
            date_format=self.config.date_format,
            timestamp_format=self.config.timestamp_format,
        )
