"""Upload-file destinations: ``meta-file`` and ``google-file``."""

from dealersync import hookimpl

from dealersync_files.destinations import GoogleFile, MetaFile

#: The dealersync plugin API versions this plugin is written for, checked when it loads.
DEALERSYNC_API = ">=1.0,<2"


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [MetaFile, GoogleFile]
