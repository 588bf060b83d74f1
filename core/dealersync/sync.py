"""The main job: load sources, build facts, select each audience, and deliver it.

:class:`Runner` orchestrates one run: it loads every source, brings the facts up to date,
selects each audience through the policy (:mod:`dealersync.policy`) and hands each (audience,
destination) pair to :class:`~dealersync.delivery.pair.PairDeliveries`, which delivers and records
it. The connectors it uses are built from the configuration by
:class:`~dealersync.configured_connectors.ConfiguredConnectors`. It touches rows only through SQL;
destinations receive an :class:`~dealersync.audiences.AudienceSnapshot`.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dealersync import interrupts
from dealersync.config import Config
from dealersync.configured_connectors import ConfiguredConnectors
from dealersync.connectors import ConnectorContext, Destination, Source
from dealersync.consent import ChannelConsent
from dealersync.delivery.failures import describe_failure, rollback_open_transaction
from dealersync.delivery.guards import ChangeGuard
from dealersync.delivery.pair import PairDeliveries, Progress
from dealersync.delivery.result import DeliveryResult
from dealersync.delivery.snapshots import drop_stale_deliveries
from dealersync.errors import ConfigError
from dealersync.facts import build_facts, fact_registry
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
from dealersync.store import Warehouse
from dealersync.suppressions import SuppressionList
from dealersync.timing import Timings

log = logging.getLogger("dealersync")

__all__ = ["DeliveryResult", "Progress", "Runner"]


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
        self.connectors = ConfiguredConnectors(config, registry, self._context)
        #: dry runs: audience -> (customer id, step, other record's id) dropped through another record
        self.removed_through_another_record: dict[str, list[tuple[str, str, str]]] = {}
        self.timings = Timings()

    # ----------------------------------------------------------------------------- plumbing
    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            wh = self.config.settings.warehouse
            self._warehouse = Warehouse(
                self.config.resolve(wh.path), memory_limit=wh.memory_limit, threads=wh.threads
            )
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

    def source(self, name: str) -> Source:
        return self.connectors.source(name)

    def destination(self, name: str) -> Destination:
        return self.connectors.destination(name)

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
        s = self.config.settings
        con = self.warehouse.con
        if not dry_run:
            pairs = {(a, d) for a, aud in s.audiences.items() for d in aud.destinations}
            dropped = drop_stale(con, pairs) + drop_stale_deliveries(con, pairs)
            if dropped:
                log.info("dropped %d tables of audience/destination pairs no longer configured", len(dropped))
        policy = AudiencePolicy(
            con, s.audiences, self.compile, self.timings, qualified_sources=self.rooftops.qualified_sources
        )
        deliveries = PairDeliveries(
            con, s, destination=self.destination,
            guard=ChangeGuard(con, s.guards, s.audiences, s.sources, accepted),
            consent=ChannelConsent(con, self.rooftops.rooftop_only_opt_out_sources),
            run_id=run_id, as_of=self.as_of, dry_run=dry_run, full_resync=full_resync,
            timings=self.timings, progress=self.progress,
        )
        selected: dict[str, str] = {}  # audience -> its customers after policy (for the overlaps)
        results = []
        try:
            for name in names:
                selection, failure = self._select(policy, name, dry_run, run_id)
                if selection is not None and not dry_run:
                    selected[name] = selection.table
                for destination in s.audiences[name].destinations:
                    interrupts.check()
                    res = deliveries.deliver(name, destination, selection, failure)
                    if not dry_run:
                        self.registry.hooks.sync_finished(res)
                    results.append(res)
            if not dry_run:
                with self.timings.step("policy"):
                    record_overlaps(con, run_id, self.as_of, selected)
        finally:
            deliveries.close()
        return results

    def selected(self, audiences: Iterable[str] | None, option: str = "--audience") -> list[str]:
        known = self.config.settings.audiences
        names = list(audiences) if audiences else list(known)
        for n in names:
            if n not in known:
                raise ConfigError(f"{option}: unknown audience '{n}' (defined: {', '.join(known) or 'none'})")
        return names

    def _select(self, policy: AudiencePolicy, name: str, dry_run: bool, run_id: str) -> tuple[Selection | None, str | None]:
        """The audience's customers after policy, or why selecting them failed (its deliveries
        then fail with that reason; the run goes on)."""
        self.progress(f"selecting audience {name}")
        try:
            selection = policy.select(name)
            if dry_run:  # what `audiences preview` shows: ids only
                self.removed_through_another_record[name] = policy.removed_through_another_record(name)
            else:
                policy.record_holdout(run_id, self.as_of, name)
        except Exception as exc:
            rollback_open_transaction(self.warehouse.con)
            return None, f"selecting the audience failed: {describe_failure(exc)}"
        return selection, None
