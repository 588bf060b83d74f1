"""One audience at one destination: its members, its change guards, the delivery (a whole file,
or only the difference to a platform's audience), the platform's read-back, the run history row.

:class:`PairDeliveries` holds what the pairs of one run share: the identity indexes (brought up
to date once), the consent sets, the change guards, the credentials a destination refused and
each destination's deadline. Whatever goes wrong in a pair fails that pair only, with its reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

import duckdb

from dealersync import http
from dealersync.audiences import AudienceSnapshot
from dealersync.config import Settings
from dealersync.connectors import AudienceDestination, Destination, ReadBack, SnapshotDestination
from dealersync.consent import ChannelConsent
from dealersync.delivery.failures import describe_failure, rollback_open_transaction
from dealersync.delivery.guards import ChangeGuard
from dealersync.delivery.incremental import IncrementalDelivery
from dealersync.delivery.plan import Plan
from dealersync.delivery.result import DeliveryResult
from dealersync.delivery.snapshots import SnapshotHistory
from dealersync.errors import AuthError, ConfigError
from dealersync.identity import IdentityIndexes
from dealersync.policy import Selection
from dealersync.run_history import last_platform_size, record_delivery, utc_now
from dealersync.timing import Timings

log = logging.getLogger("dealersync")

Progress = Callable[[str], None]


class PairDeliveries:
    """The deliveries of one run, one (audience, destination) pair at a time."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: Settings,
        *,
        destination: Callable[[str], Destination],
        guard: ChangeGuard,
        consent: ChannelConsent,
        run_id: str,
        as_of: dt.date,
        dry_run: bool,
        full_resync: bool,
        timings: Timings,
        progress: Progress,
    ) -> None:
        self.con = con
        self.settings = settings
        self.destination = destination  # builds a configured destination by name
        self.guard = guard
        self.consent = consent
        self.run_id, self.as_of, self.dry_run, self.full_resync = run_id, as_of, dry_run, full_resync
        self.timings = timings
        self.progress = progress
        self._identity: IdentityIndexes | None = None  # made when the first pair needs members
        #: pairs delivered while a guard warned without holding: their baseline stays as it was
        self._unsettled: set[tuple[str, str]] = set()
        #: destinations whose credential was refused this run (not tried again) -> the message
        self._refused: dict[str, str] = {}
        #: per destination, the time.monotonic() by which this run's requests must be done
        self._budget_until: dict[str, float] = {}

    def deliver(self, audience: str, destination: str, selection: Selection | None, failure: str | None) -> DeliveryResult:
        """Deliver ``selection`` (the audience after policy; None when selecting it failed with
        ``failure``) to ``destination``; a real run records the outcome in the run history."""
        started, started_at = time.monotonic(), utc_now()
        res = DeliveryResult(
            audience, destination, self.settings.destinations[destination].connector, self.settings.audiences[audience].mode
        )
        res.full_resync = self.full_resync
        if selection is not None:
            res.segment_size, res.excluded, res.suppressed = selection.segment_size, selection.excluded, selection.suppressed
            res.outranked, res.held_out = selection.outranked, selection.held_out
        self._attempt(res, None if selection is None else selection.table, failure)
        res.seconds = round(time.monotonic() - started, 3)
        if not self.dry_run:
            if res.status == "ok" and (audience, destination) not in self._unsettled:
                self.guard.record(audience, destination)
            record_delivery(self.con, res, run_id=self.run_id, started_at=started_at, as_of=self.as_of)
        return res

    def close(self) -> None:
        """Release the run's identity indexes and consent sets."""
        if self._identity is not None:
            self._identity.close()
            self._identity = None
        self.consent.drop()

    def _attempt(self, res: DeliveryResult, audience_table: str | None, failure: str | None) -> None:
        """Deliver one pair within its deadlines. Whatever goes wrong fails this pair only, with
        its reason; a refused credential also stops its destination for the rest of the run."""
        refused = self._refused.get(res.destination)
        if audience_table is None or refused is not None:
            res.status = "failed"
            res.error = failure or f"not tried: the destination refused its credential earlier in this run: {refused}"
            log.error("audience %s to %s failed: %s", res.audience, res.destination, res.error)
            return
        limits = self.settings.deadlines
        until = self._budget_until.setdefault(res.destination, time.monotonic() + limits.destination_seconds)
        try:
            with http.deadlines(limits.request_seconds, until):
                self._deliver(res, audience_table)
        except Exception as exc:  # a plugin's bug, an I/O error, a malformed answer: this pair only
            rollback_open_transaction(self.con)
            res.status, res.error = "failed", describe_failure(exc)
            if isinstance(exc, AuthError):
                self._refused[res.destination] = res.error
            log.error("audience %s to %s failed: %s", res.audience, res.destination, res.error)

    def _deliver(self, res: DeliveryResult, audience_table: str) -> None:
        """Bring the pair's kept members up to date and deliver them as the destination takes them."""
        dest = self.destination(res.destination)
        members = self._members(res, dest, audience_table)
        if isinstance(dest, AudienceDestination):
            self._deliver_difference(res, dest, members)
        elif self.dry_run:
            return
        elif isinstance(dest, SnapshotDestination):
            self._write_snapshot(res, dest, members)
        else:
            raise ConfigError(
                f"destinations.{res.destination}: connector '{res.connector}' is neither a snapshot nor an audience destination"
            )

    def _members(self, res: DeliveryResult, dest: Destination, audience_table: str) -> str:
        """The pair's kept members table, updated for this run's consented customers."""
        consented = self.consent.of(audience_table, dest.channel)
        res.customers, res.no_consent = consented.customers, consented.in_audience - consented.customers
        self.progress(f"building members of {res.audience} for {res.destination}")
        with self.timings.step("identity") as step:
            if self._identity is None:
                self._identity = IdentityIndexes(
                    self.con, default_country=self.settings.identity.default_country, as_of=self.as_of
                )
            # the profile set's index is refreshed the first time this run needs it; the pair's
            # kept members are rebuilt where this run's changes can touch them
            kept = self._identity.kept(dest.identifiers, audience=res.audience, destination=res.destination)
            stats = kept.update_from_table(consented.table)
            step.rows += stats.customers
        res.members, res.unmatchable, res.invalid = stats.members, stats.unmatchable, dict(stats.invalid)
        if res.members < dest.min_members:
            res.warnings.append(
                f"{res.members} members: {res.connector} audiences under {dest.min_members} people are not served"
            )
        return kept.table

    def _write_snapshot(self, res: DeliveryResult, dest: SnapshotDestination, members: str) -> None:
        """Write the whole audience as the destination's file, unless a change guard holds it."""
        res.mode = "snapshot"  # a file is always the whole audience, whatever the audience's mode
        held = self._hold_reasons(res, True, self.guard.file_reason(res.audience, res.destination, res.members))
        if held:  # the last file stays as it is
            res.status, res.error = "held", "; ".join(held)
            return
        dest.check()
        self.progress(f"writing {res.audience} to {res.destination}")
        history = SnapshotHistory(self.con, res.audience, res.destination, members)
        snapshot = AudienceSnapshot(
            self.con, members, audience=res.audience, destination=res.destination, fields=list(dest.identifiers),
            previous=history.previous(full_resync=res.full_resync),
        )
        with self.timings.step("deliver") as step:
            out = dest.write_snapshot(snapshot)
            history.confirm(snapshot)
            step.rows += out.written + out.added + out.removed
        res.written, res.location, res.status = out.written, out.location, "ok"
        res.added, res.removed = out.added, out.removed

    def _deliver_difference(self, res: DeliveryResult, dest: AudienceDestination, members: str) -> None:
        """Send the platform's audience only what changed since the sync state's last delivery."""
        aud = self.settings.audiences[res.audience]
        delivery = IncrementalDelivery(
            self.con, dest, audience=res.audience, destination=res.destination,
            members=members, description=aud.description,
        )
        if not self.dry_run:
            dest.check()
            self.progress(f"sending {res.audience} to {res.destination}")

        def guard(plan: Plan) -> list[str]:
            removal = self.guard.removal_reason(res.audience, plan.removes, plan.synced)
            return self._hold_reasons(res, plan.removes > 0, removal)

        try:
            delivery.run(aud.mode, full_resync=res.full_resync, dry_run=self.dry_run, timings=self.timings, guard=guard)
        finally:  # a failure midway still reports what was committed before it
            out = delivery.outcome
            res.planned = out.planned_adds + out.planned_removes
            res.added, res.removed, res.rejected, res.unchanged, res.gave_up = (
                out.added, out.removed, out.rejected, out.unchanged, out.gave_up
            )
            res.rejections, res.samples, res.location = out.rejections, out.samples, out.remote_id
            res.pending, res.confirmations, res.updated = out.pending, out.confirmations, out.updated
            if out.read_back is not None:
                self._take_read_back(res, out.read_back)
            res.warnings.extend(out.warnings)
            if not self.dry_run:
                res.platform_counts = dict(dest.platform_counts())
        if self.dry_run:
            res.warnings.extend(f"a real run would hold its removals: {r}" for r in delivery.outcome.held)
        elif delivery.outcome.held:
            res.status, res.error = "held", "; ".join(delivery.outcome.held)
        else:
            res.status = "ok"

    def _take_read_back(self, res: DeliveryResult, read: ReadBack) -> None:
        """Keep the platform's view in the result; a size that fell by more than a fifth since the
        last read-back of the pair is a warning (someone emptied the list, or matching broke)."""
        res.platform_size_lower, res.platform_size_upper = read.size_lower, read.size_upper
        res.platform_status, res.match_rate = read.status, read.match_rate
        last = last_platform_size(self.con, res.audience, res.destination)
        if last is not None and read.size_upper is not None and read.size_upper < 0.8 * last:
            res.warnings.append(
                f"the platform's audience size fell from {last:,} to {read.size_upper:,} since the last run"
            )

    def _hold_reasons(self, res: DeliveryResult, removing: bool, reason: str | None) -> list[str]:
        """Why the pair's removals (or file replacement) must wait for a person; empty: go ahead.

        The extract-level reasons come first. An audience released with ``--accept-changes`` goes
        ahead with the reasons as warnings; a pair with nothing to remove goes ahead too, warned,
        and keeps its old baseline (so the guard still holds when removals come)."""
        reasons = self.guard.table_reasons(res.audience, res.destination) + ([reason] if reason else [])
        if not reasons:
            return []
        if self.guard.is_accepted(res.audience):
            res.warnings.extend(f"accepted (--accept-changes): {r}" for r in reasons)
            return []
        if not removing:
            self._unsettled.add((res.audience, res.destination))
            res.warnings.extend(f"{r} (nothing to remove yet; release with --accept-changes {res.audience})" for r in reasons)
            return []
        return reasons
