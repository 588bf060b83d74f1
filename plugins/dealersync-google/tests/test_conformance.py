"""The ``google`` connector through the plugin author kit, against the Data Manager fake."""

from __future__ import annotations

from dealersync.testing import DestinationConformance
from dealersync_google import GoogleCustomerMatch
from dealersync_google_fake import FAKE_CONFIG, FakeDataManager


class TestGoogleConformance(DestinationConformance):
    connector = GoogleCustomerMatch
    platform = FakeDataManager
    config = FAKE_CONFIG
