"""mailchimp through the plugin author kit, against the stateful fake."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from dealersync.testing import DestinationConformance, KitSession
from dealersync_mailchimp import MailchimpDestination
from dealersync_mailchimp_fake import API_KEY, LIST_ID, FakeMailchimp


def _renamed(s: KitSession, members: list[dict[str, Any]]) -> object:
    """Members whose merge fields changed: one PATCH each (Mailchimp's own route)."""
    return s.send("update", [{**m, "first_name": f"Renamed {m.get('first_name') or ''}".strip()} for m in members])


class TestMailchimpConformance(DestinationConformance):
    connector = MailchimpDestination
    config: ClassVar[dict[str, Any]] = {
        "api_key": API_KEY,
        "list_id": LIST_ID,
        "status_for_new": "subscribed",
        "merge_fields": {"first_name": "FNAME", "last_name": "LNAME"},
    }
    platform = FakeMailchimp

    @pytest.fixture(autouse=True)
    def _no_batch_polling_waits(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A removal waits for its batch operation with the plugin's own sleep (not core http's,
        which the kit replaces): without this, 30,000 removals would sleep a minute."""
        monkeypatch.setattr("dealersync_mailchimp.destination.time.sleep", lambda _s: None)

    def platform_paths(self) -> Mapping[str, Any]:
        return {"update merge fields": _renamed}
