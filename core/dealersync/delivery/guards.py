"""Change guards: a broken extract must never empty a live audience.

DMS exports fail partially all the time (a report writer times out, a transfer is cut, dates come
in another format and are quarantined). Loaded as they are, they look like customers leaving, and
mirror mode would remove them from the platform. Before any removal is sent or any file replaced,
each (audience, destination) pair is compared with its **last good state**:

* **table drop**: a loaded table (per source) holds fewer rows than at the pair's last good
  delivery, by more than ``max_table_drop`` (default 50%);
* **quarantine**: a table became mostly quarantined (more than ``max_quarantined_share`` of its rows,
  default 50%) where it was not at the last good delivery;
* **removals**: the run would remove more than ``max_removed_share`` (default 20%) of the members
  the platform holds (API destinations, from the sync state) or the file would shrink by more
  than that share (file destinations, against the last file written);

changes smaller than ``min_change`` rows or members (default 25) never trip a guard. A tripped
guard **holds** the pair: an API destination gets its additions but no removal, a file is not
replaced; the run is recorded ``held`` with the reasons, and the CLI exits 3 until an operator
releases the audience with ``dealersync sync --accept-changes AUDIENCE``.

The "last good state" of a pair is kept in ``_guard_baseline``: per pair, the row and quarantine
counts of every (source, table) at its last delivery that was not held (written after that
delivery). A held run leaves it alone, so the next run holds again until someone decides.

Anchors: Hightouch evaluates syncs against alert triggers for "unexpected data drops" with
thresholds set per destination or per sync (https://hightouch.com/docs/syncs/alerting); Census
alerts on a percentage of invalid or rejected records (``InvalidRecordPercentAlertConfiguration``,
0-100) and offers dry runs that report "expected deletes" before a sync
(https://docs.getcensus.com/basics/sync-monitoring/sync-dry-runs). Both alert; neither documents
holding the deletes themselves. Holding only the delete phase follows AWS Bedrock's
``deletion_protection_threshold`` ("If a sync would delete more than this percentage, the sync
skips its delete phase", default 15%). The defaults here are ours: a dealer's service audiences
churn a few percent a week, so 20% of an audience leaving in one run is worth a look.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import PurePath

import duckdb

from dealersync.config import AudienceSettings, GuardSettings
from dealersync.model import TABLES
from dealersync.run_history import utc_now
from dealersync.store import GUARD_BASELINE_DDL, quote_ident

#: Exit status of a run in which a guard held a delivery (0 ok, 1 failed, 2 configuration).
HELD_EXIT_CODE = 3

BASELINE_TABLE = "_guard_baseline"  # created with the warehouse: store.GUARD_BASELINE_DDL


@dataclass(frozen=True)
class TableCount:
    """One source's rows in one canonical table, now or at a pair's last good delivery."""

    source: str
    table: str
    rows: int
    quarantined: int
    files: str  # the extract file names that loaded it, for messages ("customers.csv")

    @property
    def quarantined_share(self) -> float:
        total = self.rows + self.quarantined
        return self.quarantined / total if total else 0.0

    @property
    def label(self) -> str:
        return self.files or f"table {self.table}"


def current_counts(con: duckdb.DuckDBPyConnection, sources: Collection[str]) -> dict[tuple[str, str], TableCount]:
    """Rows and quarantined rows per (source, table) in the warehouse now, for configured sources."""
    union = " UNION ALL ".join(
        f"SELECT _source AS source, '{name}' AS tbl, count(*) AS n FROM {quote_ident(name)} GROUP BY _source"
        for name in TABLES
    )
    rows = {(s, t): int(n) for s, t, n in con.execute(union).fetchall()}
    quarantined = {
        (s, t): int(n)
        for s, t, n in con.execute(
            'SELECT source, "table", count(DISTINCT (file, line)) FROM _quarantine'
            " WHERE NOT row_loaded GROUP BY ALL"
        ).fetchall()
    }
    files: dict[tuple[str, str], list[str]] = {}
    for s, t, f in con.execute('SELECT source, "table", file FROM _load_files ORDER BY position').fetchall():
        files.setdefault((s, t), []).append(PurePath(str(f)).name)
    return {
        key: TableCount(key[0], key[1], rows.get(key, 0), quarantined.get(key, 0), ", ".join(files.get(key, [])))
        for key in sorted(set(rows) | set(quarantined) | set(files))
        if key[0] in sources
    }


class ChangeGuard:
    """The guards of one run: the current table counts (read once) against each pair's baseline."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        defaults: GuardSettings,
        audiences: Mapping[str, AudienceSettings],
        sources: Collection[str],
        accepted: Collection[str] = (),
    ) -> None:
        self.con = con
        self.defaults = defaults
        self.audiences = audiences
        self.accepted = set(accepted)
        self.sources = set(sources)
        con.execute(GUARD_BASELINE_DDL)  # a connection not opened through Warehouse (tests) has none yet
        self.current = current_counts(con, sources)

    def limits(self, audience: str) -> GuardSettings:
        return self.audiences[audience].guards.over(self.defaults)

    def is_accepted(self, audience: str) -> bool:
        return audience in self.accepted

    # ------------------------------------------------------------------------------- checks
    def table_reasons(self, audience: str, destination: str) -> list[str]:
        """Why the extracts look broken compared with the pair's last good delivery (empty: fine)."""
        lim = self.limits(audience)
        baseline = self._baseline(audience, destination)
        reasons = []
        for key, then in baseline.items():
            now = self.current.get(key, TableCount(key[0], key[1], 0, 0, then.files))
            fell = then.rows - now.rows
            if fell >= max(lim.min_change, 1) and fell > lim.max_table_drop * then.rows:
                reasons.append(
                    f"sources.{now.source}: {now.label} has {now.rows:,} rows (table {now.table}), the"
                    f" last good load had {then.rows:,} (-{fell / then.rows:.0%}; guards.max_table_drop is"
                    f" {lim.max_table_drop:.0%})"
                )
        for key, now in self.current.items():
            then = baseline.get(key)
            if then is None or now.quarantined < max(lim.min_change, 1):
                continue
            if now.quarantined_share > lim.max_quarantined_share >= then.quarantined_share:
                reasons.append(
                    f"sources.{now.source}: {now.label} has {now.quarantined:,} of its"
                    f" {now.rows + now.quarantined:,} rows quarantined (table {now.table},"
                    f" {now.quarantined_share:.0%}; the last good load had {then.quarantined:,};"
                    f" guards.max_quarantined_share is {lim.max_quarantined_share:.0%})"
                )
        return reasons

    def removal_reason(self, audience: str, removes: int, before: int) -> str | None:
        """Why removing ``removes`` of the ``before`` members on the platform is too many (or None)."""
        lim = self.limits(audience)
        if removes < max(lim.min_change, 1) or removes <= lim.max_removed_share * before:
            return None
        return (
            f"the run would remove {removes:,} of the {before:,} members on the platform"
            f" ({removes / before:.0%}; guards.max_removed_share is {lim.max_removed_share:.0%})"
        )

    def file_reason(self, audience: str, destination: str, members: int) -> str | None:
        """Why replacing the pair's last file (its row count from ``_runs``) by ``members`` rows is
        too big a fall (or None)."""
        row = self.con.execute(
            "SELECT written FROM _runs WHERE audience = ? AND destination = ? AND status = 'ok'"
            " AND written IS NOT NULL ORDER BY started_at DESC LIMIT 1",
            [audience, destination],
        ).fetchone()
        if row is None:
            return None
        before = int(row[0])
        lim = self.limits(audience)
        fell = before - members
        if fell < max(lim.min_change, 1) or fell <= lim.max_removed_share * before:
            return None
        return (
            f"the new file would hold {members:,} members, the last one {before:,}"
            f" (-{fell / before:.0%}; guards.max_removed_share is {lim.max_removed_share:.0%})"
        )

    # ----------------------------------------------------------------------------- baseline
    def record(self, audience: str, destination: str) -> None:
        """The pair was delivered and nothing was held: its baseline becomes the current counts."""
        con = self.con
        con.execute(f"DELETE FROM {BASELINE_TABLE} WHERE audience = ? AND destination = ?", [audience, destination])
        now = utc_now()
        for c in self.current.values():
            con.execute(
                f"INSERT INTO {BASELINE_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [audience, destination, c.source, c.table, c.rows, c.quarantined, c.files, now],
            )

    def _baseline(self, audience: str, destination: str) -> dict[tuple[str, str], TableCount]:
        rows = self.con.execute(
            f'SELECT source, "table", rows, quarantined, files FROM {BASELINE_TABLE}'
            " WHERE audience = ? AND destination = ?",
            [audience, destination],
        ).fetchall()
        return {
            (s, t): TableCount(s, t, int(r), int(q), str(f or ""))
            for s, t, r, q, f in rows
            if s in self.sources  # a source removed from the config is not compared (see loading)
        }
