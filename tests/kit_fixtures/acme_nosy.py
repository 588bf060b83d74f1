"""Acme Ads with one mistake: it says which address Acme refused, in the log."""

from __future__ import annotations

from typing import Any

from acme import AcmeAds, log
from dealersync import MemberOutcome, RemoteAudience, hookimpl

DEALERSYNC_API = ">=1.0,<2"


class NosyAcme(AcmeAds):
    name = "acme-nosy"

    def _send(self, method: str, audience: RemoteAudience, members: list[dict[str, Any]]) -> list[MemberOutcome]:
        outcomes = super()._send(method, audience, members)
        by_key = {m["member_key"]: m for m in members}
        for o in outcomes:
            if not o.accepted:
                log.warning("Acme refused %s (%s)", by_key[o.member_key].get("email"), o.code)
        return outcomes


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [NosyAcme]
