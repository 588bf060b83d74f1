"""What a batch becomes before its table's transaction: temp tables, named per load.

Both paths (extract files and record batches) stage a batch as a SELECT of its good rows and a
temp table of its quarantine entries; :mod:`dealersync.loading.replace` then swaps them in.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from dealersync.errors import ConfigError
from dealersync.loading.reports import FileReport
from dealersync.loading.sql import append_rows, ident
from dealersync.model import TABLES, Table

log = logging.getLogger(__package__)


def target_table(name: str) -> Table:
    """The canonical table a batch names, or a :class:`ConfigError`."""
    try:
        return TABLES[name]
    except KeyError:
        raise ConfigError(
            f"unknown table '{name}' (known tables: {', '.join(TABLES)})"
        ) from None


@dataclass
class Staged:
    """One batch staged in temp tables, waiting for its table's transaction."""

    batch: int
    table: str
    file: str
    good_sql: str  # SELECT canonical cols, _source_id, _line, _ord, _batch, _file
    quarantine: str  # temp table: file, line, "column", reason, row_loaded
    report: FileReport


class Scratch:
    """The temporary tables and views of one load: uniquely named, dropped at the end.

    One counter numbers both the batches (their staging order decides which duplicate is kept)
    and the temp objects.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._prefix = "_ds_" + uuid.uuid4().hex[:8]
        self._objects: list[tuple[str, str]] = []  # (kind, name) to drop at the end
        self._numbers = itertools.count(1)

    def number(self) -> int:
        """The next batch (or temp object) number of this load."""
        return next(self._numbers)

    def name(self, kind: str, suffix: str) -> str:
        """A fresh name for a temp object of ``kind`` ("TABLE" or "VIEW"), dropped at the end."""
        name = f"{self._prefix}_{suffix}"
        self._objects.append((kind, name))
        return name

    def new_quarantine_table(
        self,
        n: int,
        rows: Sequence[tuple[Any, ...]] = (),
        loaded: Sequence[tuple[Any, ...]] = (),
    ) -> str:
        """A temp table of quarantine entries (file, line, column, reason, row_loaded) holding
        ``rows`` (held back) and ``loaded`` (cells whose row was loaded with the column's
        fallback, :attr:`dealersync.model.Column.fallback`), each (file, line, column, reason)."""
        name = self.name("TABLE", f"{n}_q")
        self.con.execute(
            f"CREATE TEMP TABLE {ident(name)} (file VARCHAR, line BIGINT, "
            '"column" VARCHAR, reason VARCHAR, row_loaded BOOLEAN)'
        )
        entries = [(*r, False) for r in rows] + [(*r, True) for r in loaded]
        if entries:
            append_rows(self.con, name, entries)
        return name

    def mark(self) -> int:
        """A point to :meth:`drop_since`: the temp objects named so far are kept."""
        return len(self._objects)

    def drop_since(self, mark: int) -> None:
        """Drop the temp objects named since ``mark`` (a table's staging, once it is loaded)."""
        for kind, name in reversed(self._objects[mark:]):
            try:
                self.con.execute(f"DROP {kind} IF EXISTS temp.main.{ident(name)}")
            except duckdb.Error:  # pragma: no cover - best effort
                log.debug("could not drop temporary %s %s", kind, name)
        del self._objects[mark:]

    def drop_all(self) -> None:
        self.drop_since(0)
