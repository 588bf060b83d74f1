"""Meta Custom Audiences destination: connector ``meta``."""

from dealersync import hookimpl

from dealersync_meta.destination import MetaCustomAudiences

__all__ = ["MetaCustomAudiences"]


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [MetaCustomAudiences]
