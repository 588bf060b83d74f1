"""Delivering audiences: full snapshots to file destinations, only the difference to API ones."""

from dealersync.delivery.incremental import RETRY_CAP, IncrementalDelivery, IncrementalOutcome
from dealersync.delivery.state import SyncState

__all__ = ["RETRY_CAP", "IncrementalDelivery", "IncrementalOutcome", "SyncState"]
