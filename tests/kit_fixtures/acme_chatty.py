"""Acme Ads with one mistake: a debug line with the request's headers, the token among them."""

from __future__ import annotations

from typing import Any

from acme import AcmeAds, log
from dealersync import MemberOutcome, RemoteAudience, hookimpl

DEALERSYNC_API = ">=1.0,<2"


class ChattyAcme(AcmeAds):
    name = "acme-chatty"

    def _send(self, method: str, audience: RemoteAudience, members: list[dict[str, Any]]) -> list[MemberOutcome]:
        log.debug("Acme: %s %d members, headers %s", method, len(members), dict(self.http.session.headers))
        return super()._send(method, audience, members)


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [ChattyAcme]
