"""Acme Ads with one mistake: it declares Acme's 500 members a request but not its 128 KiB.
Short test emails fit; members as large as Acme allows (254-byte emails, long names) do not."""

from __future__ import annotations

from acme import AcmeAds
from dealersync import BatchLimits, hookimpl

DEALERSYNC_API = ">=1.0,<2"


class BloatedAcme(AcmeAds):
    name = "acme-bloated"
    limits = BatchLimits(rows=500)


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [BloatedAcme]
