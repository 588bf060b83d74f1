"""The ``google`` connector through the plugin author kit, against the Data Manager fake."""

from __future__ import annotations

from dealersync.testing import DestinationConformance
from dealersync_google import GoogleCustomerMatch
from dealersync_google_fake import (
    BASE,
    CLIENT_ID,
    CLIENT_SECRET,
    LIST_ID,
    REFRESH_TOKEN,
    TOKEN_URL,
    FakeDataManager,
)


class TestGoogleConformance(DestinationConformance):
    connector = GoogleCustomerMatch
    platform = FakeDataManager
    config = {
        "operating_account_id": "123-456-7890",
        "user_list_id": LIST_ID,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "base_url": BASE,
        "oauth_url": TOKEN_URL,
    }
