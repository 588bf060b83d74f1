"""Meta Custom Audiences destination: connector ``meta``."""

from dealersync import hookimpl

from dealersync_meta.destination import MetaCustomAudiences

__all__ = ["MetaCustomAudiences"]

#: The dealersync plugin API versions this plugin is written for, checked when it loads.
DEALERSYNC_API = ">=1.0,<2"


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [MetaCustomAudiences]
