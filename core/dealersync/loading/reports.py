"""What a load did: per-file reports, the report category of each quarantine reason, the log."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from dealersync.vocabularies import fallback_label

log = logging.getLogger(__package__)


@dataclass
class FileReport:
    """What loading one extract file (or one table's record stream) did."""

    source: str
    table: str
    file: str
    loaded: int
    #: reason category ("bad date", "duplicate key", ...) -> quarantine entries
    quarantined: dict[str, int] = field(default_factory=dict)
    #: distinct quarantined rows (a row with two bad cells counts once here)
    rows_quarantined: int = 0
    #: rows loaded all the same with a column's fallback, per label ("unknown scope, applied to
    #: every channel", :func:`dealersync.vocabularies.fallback_label`): counted in ``loaded``,
    #: not in ``quarantined``; each has a quarantine entry marked ``row_loaded``
    fallbacks: dict[str, int] = field(default_factory=dict)
    #: file headers not mapped to the model: ignored
    extra_columns: list[str] = field(default_factory=list)
    #: canonical columns the file lacks: loaded as NULL
    missing_columns: list[str] = field(default_factory=list)
    #: True when the file's line numbers could not be established exactly
    #: (see :mod:`dealersync.loading.lines`)
    approximate_lines: bool = False
    #: True when the file was skipped: byte-identical to the table's last successful load
    #: (same files, same options), so its rows and quarantine were kept as they were; the
    #: counts above are that load's (see :mod:`dealersync.loading.unchanged`)
    unchanged: bool = False
    #: the encoding the file was read in ("UTF-8", "Windows-1252", "utf-16-le", ...)
    encoding: str = "UTF-8"
    #: title lines above the header, skipped (see :mod:`dealersync.loading.header`)
    title_rows: int = 0
    #: total rows at the end of the file, skipped (see :mod:`dealersync.loading.total_rows`)
    total_rows: int = 0
    #: what the reader had to guess or replace, each naming the option that settles it
    warnings: list[str] = field(default_factory=list)
    #: the file could not be loaded (why, and the fix): nothing of it was loaded and its
    #: table kept the rows of its previous load
    error: str | None = None

    @property
    def quarantined_total(self) -> int:
        """Quarantine entries for this file (one per bad cell or bad row)."""
        return sum(self.quarantined.values())


class UnreadableFile(Exception):
    """A file whose bytes cannot be read as CSV: an outcome for that file, not a configuration
    error (it becomes :attr:`FileReport.error`, and the load goes on)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class LoadReport:
    """What :func:`~dealersync.loading.load_source` did, file by file."""

    files: list[FileReport] = field(default_factory=list)

    @property
    def failed(self) -> list[FileReport]:
        """The files that could not be loaded (their tables kept their previous rows)."""
        return [f for f in self.files if f.error]

    @property
    def total_loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def total_quarantined(self) -> int:
        """Quarantine entries over all files."""
        return sum(f.quarantined_total for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        """Distinct quarantined rows over all files."""
        return sum(f.rows_quarantined for f in self.files)

    def quarantined_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for k, v in f.quarantined.items():
                out[k] = out.get(k, 0) + v
        return out

    def for_table(self, table: str) -> list[FileReport]:
        return [f for f in self.files if f.table == table]


#: Quarantine reason prefix -> report category, first match wins.
_CATEGORIES = (
    ("not a date", "bad date"),
    ("not a timestamp", "bad timestamp"),
    ("not a whole number", "bad whole number"),
    ("not a number", "bad number"),
    ("not a boolean", "bad boolean"),
    ("unknown value for ", "unknown value"),
    ("missing key", "missing key"),
    ("duplicate of", "duplicate key"),
    ("expected ", "wrong column count"),
    ("invalid UTF-8", "invalid UTF-8"),
    ("unterminated quote", "bad quoting"),
    ("invalid quoting", "bad quoting"),
    ("line too long", "line too long"),
    ("unknown column", "unknown column"),
    ("not a text value", "bad text"),
)


def category(reason: str) -> str:
    """The report category of a quarantine reason."""
    for prefix, cat in _CATEGORIES:
        if reason.startswith(prefix):
            return cat
    return "invalid"


def entry_counts(
    table: str, rows: Iterable[tuple[str | None, str, bool | None, int]]
) -> tuple[dict[str, int], dict[str, int]]:
    """Quarantine entries counted for a report, from (column, reason, row_loaded, count) rows:
    the held-back ones per category (:attr:`FileReport.quarantined`) and the loaded ones per
    fallback label (:attr:`FileReport.fallbacks`)."""
    cats: dict[str, int] = {}
    fallbacks: dict[str, int] = {}
    for column, reason, row_loaded, count in rows:
        if row_loaded and column is not None:
            label = fallback_label(table, column)
            fallbacks[label] = fallbacks.get(label, 0) + int(count)
        else:
            cat = category(reason)
            cats[cat] = cats.get(cat, 0) + int(count)
    return dict(sorted(cats.items())), dict(sorted(fallbacks.items()))


def log_file_report(f: FileReport) -> None:
    if f.error:
        log.error("%s: %s", f.file, f.error)
        return
    for w in f.warnings:
        log.warning("%s: %s", f.file, w)
    skipped = [
        f"{n} {what}"
        for n, what in ((f.title_rows, "title lines"), (f.total_rows, "total rows"))
        if n
    ]
    if skipped and not f.unchanged:
        log.info("%s: skipped %s", f.file, " and ".join(skipped))
    if f.unchanged:
        log.info(
            "%s: unchanged since the last load, skipped (%d rows kept in %s)",
            f.file,
            f.loaded,
            f.table,
        )
        return
    if f.quarantined:
        details = ", ".join(f"{k}: {v}" for k, v in f.quarantined.items())
        log.warning(
            "%s: loaded %d rows into %s; quarantined %d rows (%s)",
            f.file,
            f.loaded,
            f.table,
            f.rows_quarantined,
            details,
        )
    else:
        log.info("%s: loaded %d rows into %s", f.file, f.loaded, f.table)
    for label, n in f.fallbacks.items():
        log.warning("%s: %s: %d rows, loaded (their lines: the quarantine)", f.file, label, n)
    if f.extra_columns:
        log.info(
            "%s: ignored columns not in the model: %s",
            f.file,
            ", ".join(f.extra_columns),
        )
