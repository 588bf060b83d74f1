"""Destination checks for leaks: planted secrets and raw personal data in logs and in errors.

Mixed into :class:`~dealersync.testing.DestinationConformance`. The kit plants the credentials
it gives the connector (the sample config's secret fields) and the test people's raw emails,
phones and names, drives every path it knows while capturing every log record (any logger, at
DEBUG), and looks for them:

* against the fake: ``ensure_audience``, ``add`` with a member the platform refuses,
  ``resolve`` of pending requests, ``read_back``, the vendor's :meth:`platform_paths`, ``remove``;
* retries: the first request of each method answered 503, then the fake;
* errors: every request answered 400, 401, 404 and 500 (retried until it gives up), and 200
  with an error body, each answer echoing the planted secret, and the personal data the
  destination sends plain, as platforms echo what they were sent: ``check``, ``ensure_audience``, ``add``, ``remove``, ``read_back`` and the
  platform paths, each raising what it raises.

``log-leaks`` fails when a log record (message, arguments, traceback, ``extra``) holds one;
``error-leaks`` when a raised error does, anywhere in it: message, ``args``, attributes such as
``rejections``, notes, and every error in its ``__cause__`` / ``__context__`` chain; or a
:class:`~dealersync.MemberOutcome`'s code or reason (what a partial failure reports per member).
A snapshot destination is checked on its logs while it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dealersync.connectors import ConnectorContext, MemberOutcome
from dealersync.identity import get_profile
from dealersync.testing.kit_session import KitSession, fail_check
from dealersync.testing.leaks import Leak, LogCapture, capture_logs, error_texts, find_leaks, secret_labels
from dealersync.testing.mocks import every_request_answered, first_request_answered

#: ``drive(session, members)``: one platform-specific call of the connector (see ``platform_paths``).
PlatformPath = Callable[[KitSession, list[dict[str, Any]]], object]

LEAK_SAMPLE = 6  # people planted (their raw data) and sent
ERROR_ANSWERS = (400, 401, 404, 500, 200)


@dataclass
class _Driven:
    """What the paths left behind, each text with where it was: log records, and errors and
    member outcomes."""

    secrets: Mapping[str, str]
    pii: Mapping[str, str]
    capture: LogCapture
    logs: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def run(self, path: str, call: Callable[[], Any], *, expected_to_work: bool = False) -> Any:
        """Run one step of a path; what it raises or reports is kept, not raised (unless it
        was ``expected_to_work``: a path against the fake that fails fails the check)."""
        mark = len(self.capture)
        try:
            result = call()
        except Exception as exc:  # any kind: a plugin's own exceptions leak as much
            self.errors += [(f"in the {link} raised on path '{path}'", t) for link, t in error_texts(exc)]
            if expected_to_work:
                raise
            return None
        finally:
            self.logs += [(f"{where} on path '{path}'", t) for where, t in self.capture.texts(mark)]
        if isinstance(result, list):
            self.errors += [
                (f"in the MemberOutcome code/reason on path '{path}'", f"{o.code} {o.reason}")
                for o in result if isinstance(o, MemberOutcome) and (o.code or o.reason)
            ]
        return result

    def leaks(self, texts: list[tuple[str, str]]) -> list[Leak]:
        return find_leaks(texts, self.secrets, self.pii)


class LeakChecks:
    """``log-leaks`` and ``error-leaks`` (see the module docstring), and the platform-paths hook."""

    # ---------------------------------------------------------------------- vendor hooks
    def platform_paths(self) -> Mapping[str, PlatformPath]:
        """The connector's platform-specific calls the generic checks do not make, by name:
        ``{"lookalike": lambda s, members: s.dest.create_lookalike(s.audience, country="US", ratio=0.05)}``.

        Each gets the kit's :class:`~dealersync.testing.kit_session.KitSession` (``dest``,
        ``audience``, ``platform``, ``send(op, members)``) once ``members`` were added. The kit
        runs it under its checks: ``log-leaks`` and ``error-leaks`` with planted secrets and
        people (against the fake, and with every request failing), ``request-bytes`` and
        ``request-rows`` with members as large as platforms allow. Returned MemberOutcomes have
        their codes and reasons checked too."""
        return {}

    # ---------------------------------------------------------------------------- checks
    def test_no_secret_or_pii_in_logs(self, dealersync_context: ConnectorContext) -> None:
        driven = self._drive_for_leaks(dealersync_context)
        _fail_on("log-leaks", "written to the log", driven.leaks(driven.logs))

    def test_no_secret_or_pii_in_errors(self, dealersync_context: ConnectorContext) -> None:
        driven = self._drive_for_leaks(dealersync_context)
        _fail_on("error-leaks", "carried", driven.leaks(driven.errors))

    # --------------------------------------------------------------------------- driving
    def _drive_for_leaks(self, ctx: ConnectorContext) -> _Driven:
        with self.people() as people, capture_logs() as capture:  # type: ignore[attr-defined]
            secrets = secret_labels(self.secret_values(ctx.base_dir))  # type: ignore[attr-defined]
            driven = _Driven(secrets, people.pii_values(LEAK_SAMPLE), capture)
            if self._kind() == "snapshot":  # type: ignore[attr-defined]
                snapshot = people.snapshot(LEAK_SAMPLE)
                driven.run("write", lambda: self._write(ctx, snapshot), expected_to_work=True)  # type: ignore[attr-defined]
            else:
                self._drive_audience(ctx, driven, people.members(LEAK_SAMPLE))
        return driven

    def _drive_audience(self, ctx: ConnectorContext, driven: _Driven, members: list[dict[str, Any]]) -> None:
        dest = self.build(ctx)  # type: ignore[attr-defined]
        platform = self.new_platform()  # type: ignore[attr-defined]
        paths = self.platform_paths()
        works = {"expected_to_work": True}
        with self.http(platform) as rsps:  # type: ignore[attr-defined]
            s: KitSession = driven.run("ensure_audience", lambda: KitSession(dest, platform, rsps), **works)
            platform.reject_values = {next(v for k, v in members[1].items() if k != "member_key" and v)}
            added = driven.run("add, one member refused", lambda: s.send("add", members), **works)
            platform.reject_values = set()
            pending = {o.request_id: "add" for o in added if o.request_id}
            if pending:
                driven.run("resolve", lambda: dest.resolve(s.audience, pending), **works)
            driven.run("read-back", lambda: dest.read_back(s.audience), **works)
            for name, drive in paths.items():
                driven.run(name, lambda drive=drive: drive(s, members), **works)
            driven.run("remove", lambda: s.send("remove", members[:2]), **works)
        with first_request_answered(503, platform) as rsps:
            retry = KitSession(dest, platform, rsps, s.audience)
            driven.run("add, retried after a 503", lambda: retry.send("add", members))
            driven.run("remove, retried after a 503", lambda: retry.send("remove", members[2:4]))
        echo = _echoed(driven, dest.identifiers)
        for status in ERROR_ANSWERS:
            with every_request_answered(status, body=echo) as rsps:
                failing = KitSession(dest, platform, rsps, s.audience)
                failing.platform_ids = dict(s.platform_ids)
                where = f"every request answered HTTP {status}"
                driven.run(f"check, {where}", dest.check)
                driven.run(f"ensure_audience, {where}", lambda: dest.ensure_audience("dealersync kit"))
                driven.run(f"add, {where}", lambda: failing.send("add", members))
                driven.run(f"remove, {where}", lambda: failing.send("remove", members))
                driven.run(f"read-back, {where}", lambda: dest.read_back(failing.audience))
                for name, drive in paths.items():
                    driven.run(f"{name}, {where}", lambda drive=drive: drive(failing, members))


def _echoed(driven: _Driven, identifiers: Mapping[str, str]) -> dict[str, Any]:
    """An error answer echoing the planted secret, and the personal data the destination sends
    plain (a platform can echo only what it received: never a value it got hashed), in the
    shapes platforms use."""
    plain = {c for p in identifiers.values() if not get_profile(p).hashed for c in get_profile(p).columns}
    planted = [*list(driven.secrets)[:1], *_first_person(driven.pii, plain)]
    text = "simulated by the dealersync kit: refused " + " ".join(planted)
    return {
        "error": {"code": 400, "message": text, "error_user_msg": text, "status": "INVALID_ARGUMENT"},
        "errors": [{"message": text, "error": text, "email_address": planted[-1] if planted else "", "field": "email"}],
        "title": "Invalid Resource",
        "detail": text,
        "message": text,
    }


def _first_person(pii: Mapping[str, str], columns: set[str]) -> list[str]:
    """One raw email, phone and name of the planted people, as written (of ``columns``)."""
    out = []
    for column in [c for c in ("first_name", "last_name", "phone_mobile", "email") if c in columns]:
        forms = [v for v, label in pii.items() if label.startswith(f"customers.{column} ")]
        out += sorted(forms, key=lambda v: ("\\" in v, v == v.lower(), v))[:1]  # as written first
    return out


def _fail_on(check: str, what: str, leaks: list[Leak]) -> None:
    if leaks:
        more = f" (and {len(leaks) - 1} more)" if len(leaks) > 1 else ""
        first = leaks[0]
        fail_check(check, f"{first.label} was {what} {first.where}: {first.excerpt}{more}")
