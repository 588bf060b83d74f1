"""dealersync plugin: the ``dms-csv`` source (a DMS extract as one CSV file per table)."""

from dealersync import hookimpl

from dealersync_dms_csv.source import DmsCsvSource

__all__ = ["DmsCsvSource", "dealersync_register_sources"]

#: The dealersync plugin API versions this plugin is written for, checked when it loads.
DEALERSYNC_API = ">=1.0,<2"


@hookimpl
def dealersync_register_sources() -> list[type]:
    return [DmsCsvSource]
