"""Delivering an audience to an API destination: only the difference, batch by batch.

For each batch the engine calls the destination, then commits the outcome to the sync state in
one transaction. Nothing is marked synced before the platform accepted it; a batch that was sent
but not committed (the process died, the answer was lost) is sent again next run, which the
destination contract makes harmless. So a sync interrupted anywhere and run again converges.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from dealersync import interrupts
from dealersync.batching import split_batches
from dealersync.connectors import AudienceDestination, BatchInfo, MemberOutcome, ReadBack, RemoteAudience
from dealersync.delivery import clock
from dealersync.delivery.failures import describe_failure, rollback_open_transaction
from dealersync.delivery.plan import Plan, make_plan, payload_sql
from dealersync.delivery.state import SyncState
from dealersync.errors import ConfigError
from dealersync.identity import get_profile
from dealersync.store import quote_ident
from dealersync.timing import Timings

#: How run history names a request's outcome (the words of Google's RequestStatus enum).
OUTCOME_LABELS = {"success": "SUCCESS", "partial": "PARTIAL_SUCCESS", "failed": "FAILED", "pending": "PROCESSING"}

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
    updated: int = 0  # members whose attributes changed, sent through the destination's update
    refreshed: int = 0  # of the planned adds: stale members sent again (refresh_after_days)
    rejected: int = 0
    pending: int = 0  # members whose request waits for the platform's confirmation after this run
    unchanged: int = 0
    gave_up: int = 0
    remote_id: str = ""
    rejections: dict[str, int] = field(default_factory=dict)  # code -> members
    samples: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # why removals were held (see delivery.guards)
    #: requests resolved this run: {"request", "op", "members", "status", "counts"} (no PII)
    confirmations: list[dict[str, Any]] = field(default_factory=list)
    read_back: ReadBack | None = None  # the platform's own view of the list after the delivery


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
        self.attributes = list(dest.attributes)
        unknown = [f for f in [*self.state_fields, *self.attributes] if f not in self.fields]
        if unknown:
            raise ConfigError(f"{dest.name}: state_fields / attributes {unknown} are not among its identifiers")

    def plan(self, mode: str, full_resync: bool) -> Plan:
        return make_plan(
            self.con, self.members, self.state.pair, self.state_fields,
            # replace mode removes whoever is not sent again: planned like mirror's removals, so a
            # guard sees them (only mirror mode sends removals as such)
            mirror=mode != "add", full_resync=full_resync, retry_cap=RETRY_CAP, attributes=self.attributes,
            refresh_before=(
                clock.now() - dt.timedelta(days=self.dest.refresh_after_days) if self.dest.refresh_after_days else None
            ),
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
        out.planned_adds, out.planned_removes, out.unchanged, out.gave_up, out.refreshed = (
            plan.adds + plan.updates, plan.removes, plan.unchanged, plan.gave_up, plan.refreshes
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
        changed = self.state.bind_remote(remote)
        if changed:
            out.warnings.append(
                "the platform list changed since the last run (the old one was deleted or replaced): every member"
                " is sent again"
            )
        if self._resolve(remote, out) or changed:  # requests of earlier runs settled: plan again
            plan = self.plan(mode, full_resync)
            out.planned_adds, out.planned_removes, out.unchanged, out.gave_up, out.refreshed = (
                plan.adds + plan.updates, plan.removes, plan.unchanged, plan.gave_up, plan.refreshes
            )
        out.held = guard(plan) if guard else []
        try:
            with timings.step("deliver") as step:
                if out.held or (unknown and mode == "replace"):
                    self._add(remote, plan, out)  # additions flow; removals wait for a person
                elif mode == "replace":
                    self._replace(remote, out)
                else:
                    self._remove(remote, plan, out)
                    self._add(remote, plan, out)
                self._update(remote, plan, out)
                step.rows += out.added + out.removed + out.updated + out.rejected
                self._resolve(remote, out)  # a platform that answers quickly confirms in the same run
        finally:  # a delivery that fails midway still says what waits for confirmation
            out.pending = self._pending_members()
        if out.pending:
            out.warnings.append(
                f"{out.pending} members wait for the platform's confirmation of their request;"
                " the next run asks again (they count as synced only once confirmed)"
            )
        self._read_back(remote, out)
        self.state.forget_departed_rejections(f"_cur_{self.state.pair[0]}_{self.state.pair[1]}")
        return out

    # ------------------------------------------------------------------------------- steps
    def _add(self, remote: RemoteAudience, plan: Plan, out: IncrementalOutcome) -> None:
        self._send(self.dest.add, remote, plan.add_table, plan.adds, out, "added")

    def _update(self, remote: RemoteAudience, plan: Plan, out: IncrementalOutcome) -> None:
        """Members whose attributes changed: the destination's update, never a removal."""
        if plan.updates:
            self._send(self.dest.update, remote, plan.update_table, plan.updates, out, "updated")

    def _send(
        self, call: Callable[..., list[MemberOutcome]], remote: RemoteAudience, table: str, total: int,
        out: IncrementalOutcome, counter: str,
    ) -> None:
        rows = self._rows(table, ["member_key", *self.fields])
        for batch, info in self._batches(rows, total):
            outcomes = call(remote, batch.members, info) if batch.members else []
            outcomes = self._complete(batch.members, outcomes) + batch.rejected
            checkpoint("before_commit", info.seq)
            self.state.commit_added(table, outcomes)
            self._count(outcomes, out, counter)
            interrupts.check()

    def _remove(self, remote: RemoteAudience, plan: Plan, out: IncrementalOutcome) -> None:
        rows = self._rows(plan.remove_table, ["member_key", "_payload", "_platform_id"])
        members = (
            {"member_key": r["member_key"], **json.loads(r["_payload"]),
             **({"platform_id": r["_platform_id"]} if r["_platform_id"] else {})}
            for r in rows
        )
        for batch, info in self._batches(members, plan.removes):
            outcomes = self._complete(batch.members, self.dest.remove(remote, batch.members, info))
            checkpoint("before_commit", info.seq)
            self.state.commit_removed(outcomes)
            out.removed += sum(o.accepted and o.request_id is None for o in outcomes)
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

    def _resolve(self, remote: RemoteAudience, out: IncrementalOutcome) -> int:
        """Ask the destination for the outcome of the pair's pending requests and apply it;
        returns the members settled. A request that came back failed or partial is said so in the
        warnings: its members are sent again by the next plan (up to the retry cap)."""
        pending = self.state.pending_requests()
        if not pending:
            return 0
        ops = {request_id: op for request_id, op, _ in pending}
        sizes = {request_id: n for request_id, _, n in pending}
        answers = self.dest.resolve(remote, ops)
        settled = 0
        for request_id, status in answers.items():
            if request_id not in ops or status.state == "pending":
                continue
            settled += self.state.resolve(request_id, ops[request_id], status)
            members = sizes[request_id]
            out.confirmations.append(
                {"request": request_id, "op": ops[request_id], "members": members, "status": status.state,
                 "counts": dict(status.counts)}
            )
            if status.state == "success":
                if ops[request_id] == "add":
                    out.added += members
                else:
                    out.removed += members
            else:
                counts = ", ".join(f"{k} {v}" for k, v in sorted(status.counts.items()))
                out.warnings.append(
                    f"the platform reported {OUTCOME_LABELS[status.state]} for {ops[request_id]} request {request_id}"
                    f" ({members} members{': ' + counts if counts else ''}): the whole request is sent again"
                    + (" next run (up to the retry cap)" if ops[request_id] == "add" else " next run")
                )
        return settled

    def _read_back(self, remote: RemoteAudience, out: IncrementalOutcome) -> None:
        """The platform's own view of the list, for the run history. A failed status is a
        warning; a list deleted on the platform loses its state here, so the next run creates it
        again and sends every member."""
        try:
            out.read_back = read = self.dest.read_back(remote)
        except Exception as exc:  # the delivery happened; reading it back is not worth failing it
            rollback_open_transaction(self.con)
            out.warnings.append(f"reading the list back from the platform failed: {describe_failure(exc)}")
            return
        if read is None:
            return
        if read.deleted:
            self.state.forget()
            out.warnings.append(
                f"the platform list {remote.id} was deleted on the platform: its sync state was dropped, and"
                " the next run creates the list again and sends every member (a full resync)"
            )
        elif not read.healthy:
            out.warnings.append(f"the platform reports the list's status as {read.status!r}")

    def _pending_members(self) -> int:
        try:
            return sum(n for _, _, n in self.state.pending_requests())
        except duckdb.Error:  # the failure being reported left the connection unusable
            return self.outcome.pending

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
        """Accepted members count once confirmed: at once, or when their request resolves."""
        setattr(out, attr, getattr(out, attr) + sum(o.accepted and o.request_id is None for o in outcomes))
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
