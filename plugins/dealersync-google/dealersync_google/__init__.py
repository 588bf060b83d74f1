"""Google Customer Match through the Google Data Manager API: the ``google`` connector."""

from dealersync import hookimpl

from dealersync_google.destination import GoogleCustomerMatch

__all__ = ["GoogleCustomerMatch"]


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [GoogleCustomerMatch]
