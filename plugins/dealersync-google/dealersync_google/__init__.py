"""Google Customer Match through the Google Data Manager API: the ``google`` connector."""

from dealersync import hookimpl

from dealersync_google.destination import GoogleCustomerMatch
from dealersync_google.ratelimit import RateLimitedSession, SlidingWindowLimiter

__all__ = ["GoogleCustomerMatch", "RateLimitedSession", "SlidingWindowLimiter"]


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [GoogleCustomerMatch]
