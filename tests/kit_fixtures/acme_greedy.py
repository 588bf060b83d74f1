"""Acme Ads with one mistake: to save requests it keeps a removal session's batches and sends
them all with the last one, in one request far past Acme's 500 members."""

from __future__ import annotations

from typing import Any

from acme import AcmeAds
from dealersync import BatchInfo, MemberOutcome, RemoteAudience, hookimpl

DEALERSYNC_API = ">=1.0,<2"


class GreedyAcme(AcmeAds):
    name = "acme-greedy"

    def remove(self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None) -> list[MemberOutcome]:
        self._kept = [*getattr(self, "_kept", []), *members]
        if batch is not None and not batch.last:
            return [MemberOutcome(m["member_key"], True) for m in members]  # sent with the last batch
        kept, self._kept = self._kept, []
        outcomes = self._send("DELETE", audience, kept)
        return outcomes[len(kept) - len(members):]


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [GreedyAcme]
