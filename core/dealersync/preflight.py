"""The preflight: every configuration check that needs neither the data nor the network, run
before anything is loaded, written or sent.

``dealersync sync`` runs it after reading ``connectors.toml`` and before opening the warehouse;
``dealersync check`` runs only it. It builds every source and every destination the run uses
(their ``Config`` validators, secret references), calls each connector's own
:meth:`~dealersync.connectors.Connector.check_config`, compiles every segment the audiences use,
and checks what only the pair of an audience and a destination tells: a mode the destination
cannot do, identity profiles the connector names. Errors are collected, not stopped at the first:
one :class:`~dealersync.errors.ConfigErrors` names every key at once (exit 2), and nothing has
moved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from dealersync.config import Config
from dealersync.connectors import AudienceDestination, Connector, Destination, SnapshotDestination, Source
from dealersync.errors import ConfigError, ConfigErrors, DealersyncError
from dealersync.identity.profiles import get_profile
from dealersync.segments import CompiledSQL

log = logging.getLogger("dealersync")


class Builds(Protocol):
    """What the preflight needs of a run: its config, and its way to build connectors and
    compile segments (the same the run itself uses, so what passes here builds there)."""

    config: Config

    def source(self, name: str) -> Source: ...

    def destination(self, name: str) -> Destination: ...

    def compile(self, segment: str) -> CompiledSQL: ...


@dataclass
class PreflightReport:
    """What the preflight checked (``dealersync check`` prints it)."""

    sources: list[str] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @contextmanager
    def collecting(self, where: str) -> Iterator[None]:
        """Run a check; a configuration or plugin error is noted (``where`` names the key of an
        error that does not name its own) and the preflight goes on to the next check."""
        try:
            yield
        except ConfigError as exc:
            self.errors.extend(exc.messages)
        except DealersyncError as exc:  # a plugin refused to build (PluginError, ...)
            self.errors.append(exc.message)
        except Exception as exc:  # a bug (a plugin's, most likely): its kind, never its text
            log.debug("preflight: checking %s failed", where, exc_info=True)
            self.errors.append(f"{where}: checking it failed with {type(exc).__name__} (a bug; --debug logs the traceback)")


def preflight(run: Builds, audiences: Iterable[str]) -> PreflightReport:
    """Check every source and the named audiences with their segments and destinations; raise
    :class:`ConfigErrors` listing every problem, or return what was checked."""
    s = run.config.settings
    report = PreflightReport(audiences=list(audiences))
    for name in s.sources:
        _check_connector(report, f"sources.{name}", run.source, name, ())
        report.sources.append(name)
    routed: dict[str, list[str]] = {}  # destination -> the audiences delivered to it
    for aud in report.audiences:
        for seg in [s.audiences[aud].segment, *s.audiences[aud].exclude]:
            if seg not in report.segments:
                report.segments.append(seg)
                with report.collecting(f"segments.{seg}"):
                    run.compile(seg)
        for name in s.audiences[aud].destinations:
            routed.setdefault(name, []).append(aud)
    for dest_name, dest_audiences in routed.items():
        dest = _check_connector(report, f"destinations.{dest_name}", run.destination, dest_name, tuple(dest_audiences))
        report.destinations.append(dest_name)
        if isinstance(dest, Destination):
            with report.collecting(f"destinations.{dest_name}"):
                _check_pairs(run.config, dest_name, dest, dest_audiences)
    if report.errors:
        raise ConfigErrors(report.errors)
    return report


def _check_connector(
    report: PreflightReport, where: str, build: Callable[[str], Connector], name: str, audiences: tuple[str, ...]
) -> Connector | None:
    """Build the connector (Config, secrets), then run its own checks; None when it did not build."""
    built: Connector | None = None
    with report.collecting(where):
        built = build(name)
    if built is not None:
        with report.collecting(where):
            built.check_config(audiences)
    return built


def _check_pairs(config: Config, dest_name: str, dest: Destination, audiences: list[str]) -> None:
    """What the destination's kind and declarations say about the audiences sent to it."""
    s = config.settings
    connector = s.destinations[dest_name].connector
    problems = []
    if not isinstance(dest, SnapshotDestination | AudienceDestination):
        problems.append(
            f"destinations.{dest_name}.connector: connector '{connector}' is neither a snapshot nor an"
            " audience destination (a bug in its plugin)"
        )
    for field_name, profile in dest.identifiers.items():
        try:
            get_profile(profile)
        except ConfigError as exc:
            problems.append(f"destinations.{dest_name}.connector: connector '{connector}' field {field_name}: {exc.message}")
    if isinstance(dest, AudienceDestination):
        kept = set(dest.identifiers)
        unknown = [f for f in [*(dest.state_fields or ()), *dest.attributes] if f not in kept]
        if unknown:
            problems.append(
                f"destinations.{dest_name}.connector: connector '{connector}' declares state_fields / attributes"
                f" {', '.join(unknown)} that are not among its identifiers (a bug in its plugin)"
            )
        for aud in audiences:
            if s.audiences[aud].mode == "replace" and not dest.supports_replace:
                problems.append(
                    f"audiences.{aud}.mode: found 'replace', expected 'mirror' or 'add': destination"
                    f" {dest_name} ({connector}) cannot replace a whole audience"
                )
    if problems:
        raise ConfigErrors(problems)
