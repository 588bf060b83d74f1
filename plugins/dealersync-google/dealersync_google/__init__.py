"""Google Customer Match through the Google Data Manager API: the ``google`` connector."""

from dealersync import hookimpl

from dealersync_google.destination import GoogleCustomerMatch

__all__ = ["GoogleCustomerMatch"]

#: The dealersync plugin API versions this plugin is written for, checked when it loads.
DEALERSYNC_API = ">=1.0,<2"


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [GoogleCustomerMatch]
