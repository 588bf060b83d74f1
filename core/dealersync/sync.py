"""The main job: load sources, build facts, select each audience, and deliver it.

:class:`Runner` ties config, plugins and the warehouse together. It touches rows only through SQL;
destinations receive an :class:`~dealersync.audiences.AudienceSnapshot`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dealersync import http, interrupts, secrets
from dealersync.audiences import AudienceSnapshot, person_consent_sql
from dealersync.config import Config, ConnectorEntry, validate
from dealersync.connectors import (
    AudienceDestination,
    Channel,
    Connector,
    ConnectorContext,
    Destination,
    ReadBack,
    SnapshotDestination,
    Source,
)
from dealersync.delivery import IncrementalDelivery
from dealersync.delivery.failures import describe_failure, rollback_open_transaction
from dealersync.delivery.guards import ChangeGuard
from dealersync.delivery.plan import Plan
from dealersync.delivery.snapshots import SnapshotHistory, drop_stale_deliveries
from dealersync.errors import AuthError, ConfigError
from dealersync.facts import build_facts, fact_registry
from dealersync.identity import IdentityIndexes
from dealersync.identity.kept import drop_stale
from dealersync.loading import LoadReport, load_source
from dealersync.loading.unconfigured import forget_unconfigured_sources
from dealersync.plugins import PluginRegistry
from dealersync.policy import AudiencePolicy, Selection
from dealersync.preflight import PreflightReport, preflight
from dealersync.report.overlaps import record_overlaps
from dealersync.rooftops import Rooftops
from dealersync.segments import CompiledSQL, compile_segment, template_registry
from dealersync.service_categories import config_rules
from dealersync.service_categories.usage import uncategorized_warning
from dealersync.store import Warehouse, ensure_table, quote_ident, scalar_int
from dealersync.suppressions import SuppressionList
from dealersync.timing import Timings

log = logging.getLogger("dealersync")

#: The run history, one row per (audience, destination) delivery; never holds an identifier.
RUNS_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (c.split()[0], c.split()[1])
    for c in """
    run_id VARCHAR, started_at TIMESTAMP, seconds DOUBLE, as_of DATE, audience VARCHAR,
    destination VARCHAR, connector VARCHAR, mode VARCHAR, status VARCHAR, segment_size BIGINT,
    excluded BIGINT, suppressed BIGINT, outranked BIGINT, held_out BIGINT, no_consent BIGINT,
    customers BIGINT, members BIGINT, unmatchable BIGINT, written BIGINT, location VARCHAR,
    error VARCHAR, warnings VARCHAR[], planned BIGINT, added BIGINT, removed BIGINT,
    rejected BIGINT, unchanged BIGINT, gave_up BIGINT, full_resync BOOLEAN,
    platform_counts VARCHAR, rejections VARCHAR, pending BIGINT, confirmations VARCHAR,
    platform_size_lower BIGINT, platform_size_upper BIGINT, platform_status VARCHAR, match_rate VARCHAR,
    updated BIGINT
    """.split(",")
)


@dataclass
class DeliveryResult:
    """What happened to one audience at one destination (recorded in ``_runs``)."""

    audience: str
    destination: str
    connector: str
    mode: str
    status: str = "planned"  # planned (dry run), ok, held (a change guard held removals), failed
    segment_size: int = 0  # customers in the audience's segment
    excluded: int = 0  # left out by the audience's exclude segments
    suppressed: int = 0  # on the global suppression list
    outranked: int = 0  # in a higher-ranked audience of the same priority group
    held_out: int = 0  # in the audience's holdout (recorded in _holdouts)
    no_consent: int = 0  # left out by the destination channel's consent rule
    customers: int = 0  # customers remaining after exclusions and consent
    members: int = 0  # people as the platform sees them (customers sharing an identifier merged)
    unmatchable: int = 0  # customers with no valid email or phone for this destination
    written: int = 0  # snapshot destinations: rows in the file
    planned: int = 0  # API destinations: adds + removes the plan called for
    added: int = 0
    removed: int = 0
    updated: int = 0  # already on the list, attributes changed (e.g. a merge field), sent as an update
    rejected: int = 0
    unchanged: int = 0
    gave_up: int = 0  # rejected too often or for good: not sent again
    pending: int = 0  # accepted, waiting for the platform's confirmation of their request
    #: requests of this or earlier runs the platform settled this run (status and its counts)
    confirmations: list[dict[str, Any]] = field(default_factory=list)
    #: the platform's own view after the delivery (read back): audience size bounds (equal when
    #: exact), its status in the platform's words, a match rate or range; None when not reported
    platform_size_lower: int | None = None
    platform_size_upper: int | None = None
    platform_status: str | None = None
    match_rate: str | None = None
    full_resync: bool = False
    platform_counts: dict[str, int] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)  # code -> members
    samples: list[dict[str, Any]] = field(default_factory=list)  # dry run: a few hashed payloads
    location: str = ""
    error: str | None = None
    seconds: float = 0.0
    invalid: dict[str, int] = field(default_factory=dict)  # field -> values blanked as invalid
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[str], None]


class Runner:
    """One run of the main job over a loaded config and plugin registry."""

    def __init__(
        self,
        config: Config,
        registry: PluginRegistry,
        *,
        as_of: dt.date | None = None,
        out_dir: Path | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.as_of = config.as_of(as_of)
        self.out_dir = out_dir or config.resolve(config.settings.output.dir)
        self.progress: Progress = progress or (lambda _msg: None)
        self.facts = fact_registry(registry)  # core facts, then plugins' (a clash names both)
        self.rooftops = Rooftops.of(config.settings)
        self.facts.register(self.rooftops.fact())
        self.templates = template_registry(registry)
        self.category_rules = config_rules(config)  # checked before any data moves
        #: this run's warnings about the data (the summary prints them), e.g. uncategorized revenue
        self.warnings: list[str] = []
        self._warehouse: Warehouse | None = None
        self._identity: IdentityIndexes | None = None  # this run's identity indexes
        self._consent: dict[Channel, str] = {}  # this run's consent tables: see _consented
        self._consented_sets: dict[tuple[str, Channel], tuple[str, int, int]] = {}
        self._selected: dict[str, str] = {}  # this run's audiences -> their customers after policy
        #: dry runs: audience -> (customer id, step, other record's id) dropped through another record
        self.removed_through_another_record: dict[str, list[tuple[str, str, str]]] = {}
        self._guard: ChangeGuard | None = None  # this run's change guards (see sync)
        #: pairs delivered while a guard warned without holding: their baseline stays as it was
        self._unsettled: set[tuple[str, str]] = set()
        #: destinations whose credential was refused this run (not tried again) -> the message
        self._refused: dict[str, str] = {}
        #: per destination, the time.monotonic() by which this run's requests must be done
        self._budget_until: dict[str, float] = {}
        #: called with each delivered (result, kept member table) (the bench exports members
        #: through it)
        self.members_sink: Callable[[DeliveryResult, str], None] | None = None
        self.timings = Timings()

    # ----------------------------------------------------------------------------- plumbing
    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            wh = self.config.settings.warehouse
            self._warehouse = Warehouse(
                self.config.resolve(wh.path), memory_limit=wh.memory_limit, threads=wh.threads
            )
            ensure_table(self._warehouse.con, "_runs", RUNS_COLUMNS)
        return self._warehouse

    def close(self) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None

    def _context(self, instance: str) -> ConnectorContext:
        return ConnectorContext(
            instance, self.config.base_dir, self.as_of, self.out_dir, log, suppression_sink=self._suppress
        )

    def _suppress(self, **entry: Any) -> int:
        return SuppressionList(self.warehouse.con).add(**entry)

    def _build(self, table: str, name: str, entry: ConnectorEntry, kind: str) -> Connector:
        where = f"{table}.{name}"
        info = self.registry.connector(entry.connector, kind, f"{where}.connector")
        if not self.config.settings.allow_inline_secrets:
            secrets.refuse_inline(entry.options, info.cls.Config, where)
        options = {k: secrets.resolve(v, f"{where}.{k}") for k, v in entry.options.items()}
        cfg = validate(options, info.cls.Config, prefix=where)
        return info.cls(cfg, self._context(name))

    def source(self, name: str) -> Source:
        entry = self.config.settings.sources[name]
        return self._build("sources", name, entry, "source")  # type: ignore[return-value]

    def destination(self, name: str) -> Destination:
        entry = self.config.settings.destinations[name]
        return self._build("destinations", name, entry, "destination")  # type: ignore[return-value]

    def compile(self, segment: str) -> CompiledSQL:
        return compile_segment(
            segment, self.config.settings.segments, self.facts, as_of=self.as_of, templates=self.templates
        )

    def validate_all(self, audiences: Iterable[str]) -> PreflightReport:
        """Fail fast, before any data moves: every configuration error at once (:mod:`dealersync.preflight`)."""
        return preflight(self, audiences)

    # ----------------------------------------------------------------------------- steps
    def load(self, *, reload: bool = False) -> list[LoadReport]:
        """Load every source (files identical to the last load are skipped unless ``reload``),
        then bring the facts up to date (only the customers the load changed, when it can)."""
        reports = []
        for gone, rows in forget_unconfigured_sources(self.warehouse.con, self.config.settings.sources).items():
            log.warning(
                "source %s is no longer in %s: its %s rows were removed from the warehouse (a renamed"
                " source loads again under its new name)", gone, self.config.path.name, f"{rows:,}",
            )
        for name in self.config.settings.sources:
            interrupts.check()
            src = self.source(name)
            src.check()
            self.progress(f"loading source {name}")
            batches = (b for stream in src.streams() for b in src.read(stream, None))
            with self.timings.step("load") as step:
                reports.append(
                    load_source(
                        self.warehouse, name, batches, force=reload,
                        default_country=self.config.settings.identity.default_country,
                        id_prefix=self.rooftops.id_prefix(name),
                    )
                )
                step.rows += reports[-1].total_loaded
        interrupts.check()
        self.progress("building customer facts")
        with self.timings.step("facts") as step:
            built = build_facts(self.warehouse.con, self.facts, as_of=self.as_of, rules=self.category_rules)
            step.rows += built.customers
        log.info("facts: %s (%d customers computed, %d changed)%s", built.kind, built.customers, built.changed,
                 f": {built.reason}" if built.reason else "")
        warning = uncategorized_warning(self.warehouse.con, self.category_rules.uncategorized_warning)
        if warning:
            self.warnings.append(warning)
        return reports

    def sync(
        self,
        audiences: Iterable[str] | None = None,
        *,
        dry_run: bool = False,
        full_resync: bool = False,
        accept_changes: Iterable[str] = (),
    ) -> list[DeliveryResult]:
        """Deliver the named audiences (all by default). Sources must be loaded first.

        ``accept_changes``: audiences whose change guards are released for this run (their
        removals and file replacements go ahead, and the current counts become their baseline)."""
        names = self.selected(audiences)
        accepted = self.selected(accept_changes, option="--accept-changes") if accept_changes else []
        run_id = uuid.uuid4().hex[:12]
        self._identity = None  # each run brings the identity indexes up to date once (and reads
        # consent once per channel and audience: see _consented)
        if not dry_run:
            known = self.config.settings.audiences
            pairs = {(a, d) for a, aud in known.items() for d in aud.destinations}
            dropped = drop_stale(self.warehouse.con, pairs) + drop_stale_deliveries(self.warehouse.con, pairs)
            if dropped:
                log.info("dropped %d tables of audience/destination pairs no longer configured", len(dropped))
        policy = AudiencePolicy(
            self.warehouse.con, self.config.settings.audiences, self.compile, self.timings,
            qualified_sources=self.rooftops.qualified_sources,
        )
        s = self.config.settings
        self._guard = ChangeGuard(self.warehouse.con, s.guards, s.audiences, s.sources, accepted)
        self._unsettled.clear()
        self._selected.clear()
        results = []
        try:
            for name in names:
                results.extend(self._sync_audience(policy, name, dry_run, run_id, full_resync))
            if not dry_run:
                with self.timings.step("policy"):
                    record_overlaps(self.warehouse.con, run_id, self.as_of, self._selected)
        finally:
            if self._identity is not None:
                self._identity.close()
            self._drop_consent()
        return results

    def selected(self, audiences: Iterable[str] | None, option: str = "--audience") -> list[str]:
        known = self.config.settings.audiences
        names = list(audiences) if audiences else list(known)
        for n in names:
            if n not in known:
                raise ConfigError(f"{option}: unknown audience '{n}' (defined: {', '.join(known) or 'none'})")
        return names

    def _sync_audience(
        self, policy: AudiencePolicy, name: str, dry_run: bool, run_id: str, full_resync: bool
    ) -> list[DeliveryResult]:
        aud = self.config.settings.audiences[name]
        self.progress(f"selecting audience {name}")
        sel: Selection | None = None
        failure: str | None = None
        try:
            sel = policy.select(name)
            if dry_run:  # what `audiences preview` shows: ids only
                self.removed_through_another_record[name] = policy.removed_through_another_record(name)
            else:
                policy.record_holdout(run_id, self.as_of, name)
                self._selected[name] = sel.table
        except Exception as exc:  # this audience's deliveries fail; the run goes on
            rollback_open_transaction(self.warehouse.con)
            failure = f"selecting the audience failed: {describe_failure(exc)}"
        results = []
        for dest_name in aud.destinations:
            interrupts.check()
            started, started_at = time.monotonic(), dt.datetime.now()
            res = DeliveryResult(name, dest_name, self.config.settings.destinations[dest_name].connector, aud.mode)
            res.full_resync = full_resync
            if sel is not None:
                res.segment_size, res.excluded, res.suppressed = sel.segment_size, sel.excluded, sel.suppressed
                res.outranked, res.held_out = sel.outranked, sel.held_out
            self._attempt(res, None if sel is None else sel.table, failure, dry_run)
            res.seconds = round(time.monotonic() - started, 3)
            if not dry_run:
                if res.status == "ok" and (name, dest_name) not in self._unsettled:
                    self._guard_state.record(name, dest_name)
                self._record(run_id, started_at, res)
                self._notify(res)
            results.append(res)
        return results

    def _attempt(self, res: DeliveryResult, audience_table: str | None, failure: str | None, dry_run: bool) -> None:
        """Deliver one pair within its deadlines. Whatever goes wrong fails this pair only, with
        its reason; a refused credential also stops its destination for the rest of the run."""
        refused = self._refused.get(res.destination)
        if audience_table is None or refused is not None:
            res.status = "failed"
            res.error = failure or f"not tried: the destination refused its credential earlier in this run: {refused}"
            log.error("audience %s to %s failed: %s", res.audience, res.destination, res.error)
            return
        limits = self.config.settings.deadlines
        until = self._budget_until.setdefault(res.destination, time.monotonic() + limits.destination_seconds)
        try:
            with http.deadlines(limits.request_seconds, until):
                self._deliver(res, audience_table, dry_run)
        except Exception as exc:  # a plugin's bug, an I/O error, a malformed answer: this pair only
            rollback_open_transaction(self.warehouse.con)
            res.status, res.error = "failed", describe_failure(exc)
            if isinstance(exc, AuthError):
                self._refused[res.destination] = res.error
            log.error("audience %s to %s failed: %s", res.audience, res.destination, res.error)

    def _consented(self, audience_table: str, channel: Channel) -> tuple[str, int, int]:
        """The audience's customers ``channel``'s consent rule lets through, as a temp table
        made once per run (an audience's destinations often share a channel), with the counts of
        customers in the audience and let through."""
        con = self.warehouse.con
        if channel not in self._consent:
            con.execute(f'CREATE OR REPLACE TEMP TABLE {quote_ident("_consent_" + channel)} AS {self._person_consent_sql(channel)}')
            self._consent[channel] = quote_ident("_consent_" + channel)
        key = (audience_table, channel)
        if key not in self._consented_sets:
            table = quote_ident(f"_consented_{audience_table}_{channel}")
            # the audience table holds each customer once (policy builds it with set operations)
            con.execute(
                f'CREATE OR REPLACE TEMP TABLE {table} AS SELECT customer_id FROM {quote_ident(audience_table)}'
                f" WHERE customer_id IN (SELECT customer_id FROM {self._consent[channel]})"
            )
            total = scalar_int(con, f'SELECT count(customer_id) FROM {quote_ident(audience_table)}')
            self._consented_sets[key] = (table, total, scalar_int(con, f"SELECT count(*) FROM {table}"))
        return self._consented_sets[key]

    def _person_consent_sql(self, channel: Channel) -> str:
        """Consent per person: opt-outs (group-wide unless a rooftop keeps its own) and the
        suppression entries scoped to ``channel``."""
        suppressed = SuppressionList(self.warehouse.con).suppressed_customers_sql(channel)
        return person_consent_sql(channel, suppressed, self.rooftops.rooftop_only_opt_out_sources)

    def _drop_consent(self) -> None:
        for table in [*self._consent.values(), *(t for t, _, _ in self._consented_sets.values())]:
            self.warehouse.con.execute(f"DROP TABLE IF EXISTS temp.{table}")
        self._consent.clear()
        self._consented_sets.clear()

    def _deliver(self, res: DeliveryResult, audience_table: str, dry_run: bool) -> None:
        """Bring the pair's kept members up to date and deliver them."""
        members = self._build_and_deliver(res, audience_table, dry_run)
        if self.members_sink is not None and res.status != "failed":
            self.members_sink(res, members)

    def _build_and_deliver(self, res: DeliveryResult, audience_table: str, dry_run: bool) -> str:
        """Returns the members table delivered."""
        con = self.warehouse.con
        dest = self.destination(res.destination)
        consented, in_audience, res.customers = self._consented(audience_table, dest.channel)
        res.no_consent = in_audience - res.customers
        self.progress(f"building members of {res.audience} for {res.destination}")
        with self.timings.step("identity") as step:
            if self._identity is None:
                self._identity = IdentityIndexes(
                    con, default_country=self.config.settings.identity.default_country, as_of=self.as_of
                )
            # the profile set's index is refreshed the first time this run needs it; the pair's
            # kept members are rebuilt where this run's changes can touch them
            kept = self._identity.kept(dest.identifiers, audience=res.audience, destination=res.destination)
            stats = kept.update_from_table(consented)
            members = kept.table
            step.rows += stats.customers
        res.members, res.unmatchable, res.invalid = stats.members, stats.unmatchable, dict(stats.invalid)
        if res.members < dest.min_members:
            res.warnings.append(
                f"{res.members} members: {res.connector} audiences under {dest.min_members} people are not served"
            )
        if isinstance(dest, AudienceDestination):
            self._deliver_incremental(res, dest, members, dry_run)
            return members
        if dry_run:
            return members
        if not isinstance(dest, SnapshotDestination):
            raise ConfigError(f"destinations.{res.destination}: connector '{res.connector}' is neither a snapshot nor an audience destination")
        res.mode = "snapshot"  # a file is always the whole audience, whatever the audience's mode
        held = self._hold_reasons(res, True, self._guard_state.file_reason(res.audience, res.destination, res.members))
        if held:  # the last file stays as it is
            res.status, res.error = "held", "; ".join(held)
            return members
        dest.check()
        self.progress(f"writing {res.audience} to {res.destination}")
        history = SnapshotHistory(con, res.audience, res.destination, members)
        snapshot = AudienceSnapshot(
            con, members, audience=res.audience, destination=res.destination, fields=list(dest.identifiers),
            previous=history.previous(full_resync=res.full_resync),
        )
        with self.timings.step("deliver") as step:
            out = dest.write_snapshot(snapshot)
            history.confirm(snapshot)
            step.rows += out.written + out.added + out.removed
        res.written, res.location, res.status = out.written, out.location, "ok"
        res.added, res.removed = out.added, out.removed
        return members

    def _deliver_incremental(self, res: DeliveryResult, dest: AudienceDestination, members: str, dry_run: bool) -> None:
        aud = self.config.settings.audiences[res.audience]
        delivery = IncrementalDelivery(
            self.warehouse.con, dest, audience=res.audience, destination=res.destination,
            members=members, description=aud.description,
        )
        if not dry_run:
            dest.check()
            self.progress(f"sending {res.audience} to {res.destination}")
        def guard(plan: Plan) -> list[str]:
            removal = self._guard_state.removal_reason(res.audience, plan.removes, plan.synced)
            return self._hold_reasons(res, plan.removes > 0, removal)

        try:
            delivery.run(aud.mode, full_resync=res.full_resync, dry_run=dry_run, timings=self.timings, guard=guard)
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
            if not dry_run:
                res.platform_counts = dict(dest.platform_counts())
        if dry_run:
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
        last = self.warehouse.con.execute(
            "SELECT platform_size_upper FROM _runs WHERE audience = ? AND destination = ?"
            " AND platform_size_upper IS NOT NULL ORDER BY started_at DESC LIMIT 1",
            [res.audience, res.destination],
        ).fetchone()
        if last and read.size_upper is not None and read.size_upper < 0.8 * last[0]:
            res.warnings.append(
                f"the platform's audience size fell from {last[0]:,} to {read.size_upper:,} since the last run"
            )

    @property
    def _guard_state(self) -> ChangeGuard:
        assert self._guard is not None, "sync() sets the run's guards up"
        return self._guard

    def _hold_reasons(self, res: DeliveryResult, removing: bool, reason: str | None) -> list[str]:
        """Why the pair's removals (or file replacement) must wait for a person; empty: go ahead.

        The extract-level reasons come first. An audience released with ``--accept-changes`` goes
        ahead with the reasons as warnings; a pair with nothing to remove goes ahead too, warned,
        and keeps its old baseline (so the guard still holds when removals come)."""
        reasons = self._guard_state.table_reasons(res.audience, res.destination) + ([reason] if reason else [])
        if not reasons:
            return []
        if self._guard_state.is_accepted(res.audience):
            res.warnings.extend(f"accepted (--accept-changes): {r}" for r in reasons)
            return []
        if not removing:
            self._unsettled.add((res.audience, res.destination))
            res.warnings.extend(f"{r} (nothing to remove yet; release with --accept-changes {res.audience})" for r in reasons)
            return []
        return reasons

    def _notify(self, res: DeliveryResult) -> None:
        """Tell every observer; each is called on its own, so one that fails cannot silence the others
        (pluggy would stop the whole hook call at the first exception)."""
        for impl in self.registry.manager.hook.dealersync_sync_finished.get_hookimpls():
            try:
                impl.function(result=res)
            except Exception as exc:  # observers must not fail a delivery that already happened
                log.warning("dealersync_sync_finished in plugin %s failed: %s", impl.plugin_name, type(exc).__name__)

    def _record(self, run_id: str, started_at: dt.datetime, r: DeliveryResult) -> None:
        self.warehouse.con.execute(
            f"INSERT INTO _runs ({', '.join(n for n, _ in RUNS_COLUMNS)}) VALUES ({', '.join(['?'] * len(RUNS_COLUMNS))})",
            [run_id, started_at, r.seconds, self.as_of, r.audience, r.destination, r.connector, r.mode, r.status,
             r.segment_size, r.excluded, r.suppressed, r.outranked, r.held_out, r.no_consent, r.customers,
             r.members, r.unmatchable, r.written, r.location, r.error, r.warnings,
             r.planned, r.added, r.removed, r.rejected, r.unchanged, r.gave_up, r.full_resync,
             json.dumps(r.platform_counts, sort_keys=True), json.dumps(r.rejections, sort_keys=True),
             r.pending, json.dumps(r.confirmations, sort_keys=True),
             r.platform_size_lower, r.platform_size_upper, r.platform_status, r.match_rate, r.updated],
        )
