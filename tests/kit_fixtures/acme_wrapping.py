"""Acme Ads with one mistake: for easier debugging it wraps a refused request in a FatalError
whose cause records the request, headers and token included. The message is clean; the chain
(what a traceback or an error tracker prints) is not."""

from __future__ import annotations

from typing import Any

from acme import AcmeAds
from dealersync import FatalError, MemberOutcome, RemoteAudience, hookimpl

DEALERSYNC_API = ">=1.0,<2"


class AcmeRequestFailed(Exception):
    """The request Acme refused, for the traceback."""


class WrappingAcme(AcmeAds):
    name = "acme-wrapping"

    def _send(self, method: str, audience: RemoteAudience, members: list[dict[str, Any]]) -> list[MemberOutcome]:
        try:
            return super()._send(method, audience, members)
        except FatalError as exc:
            request = AcmeRequestFailed(f"{method} /audiences/{audience.id}/members headers={dict(self.http.session.headers)}")
            raise FatalError(f"Acme refused the {method} of {len(members)} members ({exc.message})") from request


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [WrappingAcme]
