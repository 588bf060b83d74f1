"""Delivering an audience to an API destination: only the difference, batch by batch.

For each batch the engine calls the destination, then commits the outcome to the sync state in
one transaction. Nothing is marked synced before the platform accepted it; a batch that was sent
but not committed (the process died, the answer was lost) is sent again next run, which the
destination contract makes harmless. So a sync interrupted anywhere and run again converges.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from dealersync import interrupts
from dealersync.batching import split_batches
from dealersync.connectors import AudienceDestination, BatchInfo, MemberOutcome, RemoteAudience
from dealersync.delivery.plan import Plan, make_plan, payload_sql
from dealersync.delivery.state import SyncState
from dealersync.errors import ConfigError
from dealersync.identity import get_profile
from dealersync.store import quote_ident
from dealersync.timing import Timings

#: How many runs a rejected member is sent again before the engine gives up on it.
RETRY_CAP = 3


def checkpoint(stage: str, seq: int) -> None:
    """A seam for fault-injection tests (``dealersync.testing.crash_at``); does nothing."""


@dataclass
class IncrementalOutcome:
    planned_adds: int = 0
    planned_removes: int = 0
    added: int = 0
    removed: int = 0
    rejected: int = 0
    unchanged: int = 0
    gave_up: int = 0
    remote_id: str = ""
    rejections: dict[str, int] = field(default_factory=dict)  # code -> members
    samples: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # why removals were held (see delivery.guards)


#: Looks at a plan before anything is sent; returns the reasons to hold its removals (none: go on).
RemovalGuard = Callable[[Plan], list[str]]


class IncrementalDelivery:
    """Syncs one audience's members table to one AudienceDestination."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        dest: AudienceDestination,
        *,
        audience: str,
        destination: str,
        members: str,
        description: str = "",
    ) -> None:
        self.con = con
        self.dest = dest
        self.audience = audience
        self.members = members
        self.description = description
        self.state = SyncState(con, audience, destination)
        #: Filled in as batches are committed, so a delivery that fails midway still tells the truth.
        self.outcome = IncrementalOutcome()
        self.fields = list(dest.identifiers)
        self.state_fields = list(dest.state_fields or self.fields)
        unknown = [f for f in self.state_fields if f not in self.fields]
        if unknown:
            raise ConfigError(f"{dest.name}: state_fields {unknown} are not among its identifiers")

    def plan(self, mode: str, full_resync: bool) -> Plan:
        return make_plan(
            self.con, self.members, self.state.pair, self.state_fields,
            # replace mode removes whoever is not sent again: planned like mirror's removals, so a
            # guard sees them (only mirror mode sends removals as such)
            mirror=mode != "add", full_resync=full_resync, retry_cap=RETRY_CAP,
        )

    def run(
        self,
        mode: str,
        *,
        full_resync: bool = False,
        dry_run: bool = False,
        timings: Timings | None = None,
        guard: RemovalGuard | None = None,
    ) -> IncrementalOutcome:
        """Send the plan. A ``guard`` that returns reasons holds the removals (and a replace):
        only the additions are sent, and ``outcome.held`` says why."""
        timings = timings or Timings()
        out = self.outcome
        if mode == "replace" and not self.dest.supports_replace:
            raise ConfigError(f"{self.dest.name} cannot replace a whole audience; use mode = \"mirror\"")
        with timings.step("diff") as step:
            plan = self.plan(mode, full_resync)
            step.rows += plan.adds + plan.removes + plan.unchanged
        out.planned_adds, out.planned_removes, out.unchanged, out.gave_up = (
            plan.adds, plan.removes, plan.unchanged, plan.gave_up
        )
        if dry_run:
            out.samples = self._samples(plan)
            out.held = guard(plan) if guard else []
            return out
        remote = self.dest.ensure_audience(self.audience, self.description)
        out.remote_id = remote.id
        unknown = self.state.remote_id() is None and plan.synced == 0 and not remote.created
        if unknown:  # a list this warehouse never wrote to, or a rebuilt warehouse: nothing destructive
            out.warnings.append(
                f"the platform list {remote.id} is not in this warehouse's sync state (a first sync, or a new or"
                " rebuilt warehouse?): members are added, none removed"
                + (", and it is not replaced" if mode == "replace" else "")
                + "; if the warehouse was rebuilt, `dealersync state import` the last export"
            )
        if self.state.bind_remote(remote):
            out.warnings.append("the platform list changed since the last run: every member is sent again")
            plan = self.plan(mode, full_resync)
            out.planned_adds, out.planned_removes, out.unchanged = plan.adds, plan.removes, plan.unchanged
        out.held = guard(plan) if guard else []
        with timings.step("deliver") as step:
            if out.held or (unknown and mode == "replace"):
                self._add(remote, plan, out)  # additions flow; removals wait for a person
            elif mode == "replace":
                self._replace(remote, out)
            else:
                self._remove(remote, plan, out)
                self._add(remote, plan, out)
            step.rows += out.added + out.removed + out.rejected
        self.state.forget_departed_rejections(f"_cur_{self.state.pair[0]}_{self.state.pair[1]}")
        return out

    # ------------------------------------------------------------------------------- steps
    def _add(self, remote: RemoteAudience, plan: Plan, out: IncrementalOutcome) -> None:
        rows = self._rows(plan.add_table, ["member_key", *self.fields])
        for batch, info in self._batches(rows, plan.adds):
            outcomes = self.dest.add(remote, batch.members, info) if batch.members else []
            outcomes = self._complete(batch.members, outcomes) + batch.rejected
            checkpoint("before_commit", info.seq)
            self.state.commit_added(plan.add_table, outcomes)
            self._count(outcomes, out, "added")
            interrupts.check()

    def _remove(self, remote: RemoteAudience, plan: Plan, out: IncrementalOutcome) -> None:
        rows = self._rows(plan.remove_table, ["member_key", "_payload"])
        members = ({"member_key": r["member_key"], **json.loads(r["_payload"])} for r in rows)
        for batch, info in self._batches(members, plan.removes):
            outcomes = self._complete(batch.members, self.dest.remove(remote, batch.members, info))
            checkpoint("before_commit", info.seq)
            self.state.commit_removed(outcomes)
            out.removed += sum(o.accepted for o in outcomes)
            interrupts.check()

    def _replace(self, remote: RemoteAudience, out: IncrementalOutcome) -> None:
        cols = ["member_key", *self.fields]
        total = int(self.con.execute(f'SELECT count(*) FROM {quote_ident(self.members)}').fetchone()[0])  # type: ignore[index]
        rows = self._rows(self.members, cols)
        rejected: dict[str, MemberOutcome] = {}
        for batch, info in self._batches(rows, total):
            outcomes = self._complete(batch.members, self.dest.replace(remote, batch.members, info)) + batch.rejected
            rejected.update({o.member_key: o for o in outcomes if not o.accepted})
            self._count(outcomes, out, "added")
        checkpoint("before_commit", 0)
        self.state.replace_all(self.members, payload_sql(self.state_fields), rejected)
        out.planned_adds = total

    # ---------------------------------------------------------------------------- helpers
    def _batches(self, members: Iterator[dict[str, Any]], total: int) -> Iterator[tuple[Any, BatchInfo]]:
        """Batches within the destination's limits, numbered from 1, the last one flagged."""
        session = random.SystemRandom().randrange(1, 2**62)
        batches = split_batches(members, self.dest.limits)
        current = next(batches, None)
        seq = 0
        while current is not None:
            following = next(batches, None)
            seq += 1
            yield current, BatchInfo(session, seq, following is None, total)
            current = following

    def _complete(self, sent: list[dict[str, Any]], outcomes: list[MemberOutcome]) -> list[MemberOutcome]:
        """One outcome per sent member: a member the destination did not report on is *not* synced."""
        seen = {o.member_key for o in outcomes}
        sent_keys = {m["member_key"] for m in sent}
        missing = [
            MemberOutcome(m["member_key"], False, "no_outcome", "the destination did not report on this member")
            for m in sent
            if m["member_key"] not in seen
        ]
        return [o for o in outcomes if o.member_key in sent_keys] + missing

    def _count(self, outcomes: list[MemberOutcome], out: IncrementalOutcome, attr: str) -> None:
        setattr(out, attr, getattr(out, attr) + sum(o.accepted for o in outcomes))
        for o in outcomes:
            if not o.accepted:
                out.rejected += 1
                out.rejections[o.code or "rejected"] = out.rejections.get(o.code or "rejected", 0) + 1

    def _rows(self, table: str, cols: list[str], page: int = 10_000) -> Iterator[dict[str, Any]]:
        """Rows of ``table`` in member_key order, a page at a time on this connection (temp tables
        are per connection, and state commits happen between pages)."""
        select = f'SELECT {", ".join(quote_ident(c) for c in cols)} FROM {quote_ident(table)}'
        last: str | None = None
        while True:
            where = "" if last is None else "WHERE member_key > ?"
            chunk = self.con.execute(
                f"{select} {where} ORDER BY member_key LIMIT {page}", [] if last is None else [last]
            ).fetchall()
            for r in chunk:
                yield dict(zip(cols, r, strict=True))
            if len(chunk) < page:
                return
            last = chunk[-1][0]

    def _samples(self, plan: Plan, n: int = 3) -> list[dict[str, Any]]:
        """A few planned add payloads for a dry run: hashed fields shown, plain ones hidden."""
        hashed = {f for f, p in self.dest.identifiers.items() if get_profile(p).hashed}
        cols = ["member_key", *self.fields]
        rows = self.con.execute(
            f'SELECT {", ".join(quote_ident(c) for c in cols)} FROM {quote_ident(plan.add_table)} LIMIT {n}'
        ).fetchall()
        return [
            {c: (v if c in hashed or c == "member_key" or v is None else "(plain, hidden)") for c, v in zip(cols, r, strict=True)}
            for r in rows
        ]
