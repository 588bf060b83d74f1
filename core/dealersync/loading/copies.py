"""Where the UTF-8 copies of extract files live while a load reads them.

A file DuckDB cannot read as it is (another encoding, mixed line ends; see
:mod:`dealersync.loading.encodings`) is copied to ``<warehouse file>.copies/`` (e.g.
``warehouse.duckdb.copies/``): on the warehouse's disk, which has room for the same data (a
copy is about the size of its file: UTF-16 shrinks to about half, Windows-1252 grows by one byte
per accented letter), rather than in ``/tmp`` (often a small tmpfs); readable by its owner only
(the directory 0700, the copies 0600: they hold customer data, as the extract does). A copy is
deleted as soon as its table is loaded, and the directory when the load ends. A run that
crashed leaves its copies behind: the next load of the same warehouse deletes them when it
starts (one run at a time uses a warehouse: DuckDB locks the file). An in-memory warehouse
(tests) uses a temporary directory, removed at the end.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__package__)

SUFFIX = ".utf8"


class Copies:
    """The copies directory of one load; created only when a file needs a copy."""

    def __init__(self, warehouse_path: Path | None) -> None:
        self._dir = (
            None if warehouse_path is None else warehouse_path.with_name(warehouse_path.name + ".copies")
        )
        self._temporary = warehouse_path is None
        self._numbers = itertools.count(1)
        if self._dir is not None and self._dir.is_dir():
            self._remove_leftovers(self._dir)

    def new(self, original: Path) -> Path:
        """A fresh path for a copy of ``original`` (the file is not created)."""
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="dealersync-copies-"))
        else:
            self._dir.mkdir(mode=0o700, exist_ok=True)
        return self._dir / f"{next(self._numbers)}-{original.name}{SUFFIX}"

    @staticmethod
    def open(path: Path) -> int:
        """A new file descriptor writing ``path``, readable by its owner only."""
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

    @staticmethod
    def remove(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as e:  # pragma: no cover - best effort; the next load retries
            log.debug("could not delete the copy %s (%s)", path, e.strerror)

    def close(self) -> None:
        """Delete the directory and whatever copy is left in it."""
        if self._dir is None or not self._dir.is_dir():
            return
        if self._temporary:
            shutil.rmtree(self._dir, ignore_errors=True)
            return
        self._remove_leftovers(self._dir)
        try:
            self._dir.rmdir()
        except OSError:  # pragma: no cover - something else put a file there: leave it
            log.debug("left the directory %s: not empty", self._dir)

    @staticmethod
    def _remove_leftovers(directory: Path) -> None:
        for leftover in directory.glob(f"*{SUFFIX}"):
            log.debug("deleting %s, left by an earlier load", leftover)
            Copies.remove(leftover)
