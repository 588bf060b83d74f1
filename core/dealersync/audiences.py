"""An audience's members as a destination sees them (who may be reached is :mod:`dealersync.consent`).

:class:`AudienceSnapshot` is the public, set-oriented view a destination gets of the members the
engine built (normalized, hashed, deduped): it can write them as a CSV through the engine in one
statement, or hand them out in batches for request bodies.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from dealersync.store import table_columns


class AudienceSnapshot:
    """The full, current member list of one audience for one destination."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        *,
        audience: str,
        destination: str,
        fields: Sequence[str],
        previous: str | None = None,
    ) -> None:
        self._con = con
        self._table = table
        self._previous = previous
        #: (adds table, removes table) once write_changes_csv ran: what the engine commits
        self.changes_written: tuple[str, str] | None = None
        self.audience = audience
        self.destination = destination
        self.fields = list(fields)
        row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        self.count: int = int(row[0]) if row else 0

    def _select(self, headers: Mapping[str, str]) -> str:
        # No ORDER BY, and written unordered (see _copy_atomically): the platforms do not read
        # the order, and keeping it cost more than the write.
        cols = ", ".join(f'"{f}" AS "{h}"' for f, h in headers.items())
        return f'SELECT {cols} FROM "{self._table}"'

    def write_csv(self, path: Path, headers: Mapping[str, str]) -> int:
        """Write ``headers`` (field -> CSV header) for every member, atomically; return rows written.

        The file appears complete or not at all: the engine writes a temporary file beside it,
        which is then renamed over the target.
        """
        unknown = [f for f in headers if f not in self.fields]
        if unknown:
            raise ValueError(f"fields not in this snapshot: {unknown}")
        _copy_atomically(self._con, self._select(headers), path)
        return self.count

    @property
    def first(self) -> bool:
        """True when there is no earlier confirmed write to compare with (first run, full resync)."""
        return self._previous is None

    def write_changes_csv(self, adds: Path, removes: Path, headers: Mapping[str, str]) -> tuple[int, int]:
        """Write what changed since this destination's last confirmed write: members to add (new,
        or whose identifiers changed) to ``adds`` and members to remove (gone, or the old
        identifiers of changed ones) to ``removes``, each atomically and only when not empty.
        Returns (added, removed). On a first write every member is an add. Once the destination
        returns, the engine takes these members as the next run's baseline.
        """
        unknown = [f for f in headers if f not in self.fields]
        if unknown:
            raise ValueError(f"fields not in this snapshot: {unknown}")
        cols = ", ".join(f'"{f}" AS "{h}"' for f, h in headers.items())
        if self._previous is None:
            n = self.write_csv(adds, headers) if self.count else 0
            self.changes_written = (self._table, "")
            return n, 0
        # one full outer join on member_key (unique in both tables) finds both sides at once:
        # a key only in the new table is an add, only in the old a remove, in both with other
        # identifiers an add and a remove
        con = self._con
        columns = [name for name, _ in table_columns(con, _ref(self._table))]
        both = ", ".join(f'n."{c}" AS "n{i}", o."{c}" AS "o{i}"' for i, c in enumerate(columns))
        differ = " OR ".join(f'n."{f}" IS DISTINCT FROM o."{f}"' for f in self.fields)
        diff = f"{self._table}__diff"
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{diff}" AS SELECT n.member_key IS NOT NULL AS is_new,'
            f" o.member_key IS NOT NULL AS is_old, {both}"
            f" FROM {_ref(self._table)} AS n FULL OUTER JOIN {_ref(self._previous)} AS o ON o.member_key = n.member_key"
            f" WHERE n.member_key IS NULL OR o.member_key IS NULL OR {differ}"
        )
        tables = (f"{self._table}__adds", f"{self._table}__removes")
        counts = []
        try:
            for path, table, side, flag in ((removes, tables[1], "o", "is_old"), (adds, tables[0], "n", "is_new")):
                picked = ", ".join(f'"{side}{i}" AS "{c}"' for i, c in enumerate(columns))
                con.execute(f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT {picked} FROM "{diff}" WHERE {flag}')
                row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
                n = int(row[0]) if row else 0
                if n:
                    _copy_atomically(con, f'SELECT {cols} FROM "{table}"', path)
                counts.append(n)
        finally:
            con.execute(f'DROP TABLE IF EXISTS temp."{diff}"')
        self.changes_written = tables
        return counts[1], counts[0]

    def iter_batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """Members in batches of at most ``size``, each a dict of field -> value (None when blank)."""
        # Page by member_key, each page a query of its own: the member table is a temp table of
        # the engine's connection (a cursor would be another connection, which cannot see it),
        # and the destination may run other queries between pages.
        names = ["member_key", *self.fields]
        cols = ", ".join(f'"{f}"' for f in names)
        last: str | None = None
        while True:
            after = "" if last is None else "WHERE member_key > ? "
            rows = self._con.execute(
                f'SELECT {cols} FROM "{self._table}" {after}ORDER BY member_key LIMIT {int(size)}',
                [] if last is None else [last],
            ).fetchall()
            if not rows:
                return
            yield [dict(zip(names, r, strict=True)) for r in rows]
            last = rows[-1][0]


def _ref(table: str) -> str:
    """A table reference: ``main.<name>`` is the persisted table of that name, others are quoted."""
    if table.startswith("main."):
        return f'main."{table[5:]}"'
    return f'"{table}"'


def _copy_atomically(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> None:
    """COPY ``select`` to a CSV at ``path``: a temporary file beside it, renamed over the target.
    Its rows are in no particular order (written by all the engine's threads as they come)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        # PRESERVE_ORDER false: the threads' output is not put back in sequence (2-3x faster for
        # wide rows); an option of this COPY only, unlike the global preserve_insertion_order
        con.execute(f"COPY ({select}) TO '{_sql_path(tmp)}' (HEADER, DELIMITER ',', PRESERVE_ORDER false)")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_stale_temp_files(path: Path) -> None:
    """Remove the temporary files of earlier writes of ``path`` whose process is gone (killed
    mid-write): each is named ``.<name>.tmp-<pid>``."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _process_alive(int(pid)):
            stale.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")
