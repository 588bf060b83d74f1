"""mailchimp through the plugin author kit, against the stateful fake."""

from __future__ import annotations

from typing import Any, ClassVar

from dealersync.testing import DestinationConformance
from dealersync_mailchimp import MailchimpDestination
from dealersync_mailchimp_fake import API_KEY, LIST_ID, FakeMailchimp


class TestMailchimpConformance(DestinationConformance):
    connector = MailchimpDestination
    config: ClassVar[dict[str, Any]] = {
        "api_key": API_KEY,
        "list_id": LIST_ID,
        "status_for_new": "subscribed",
        "merge_fields": {"first_name": "FNAME", "last_name": "LNAME"},
    }
    platform = FakeMailchimp
