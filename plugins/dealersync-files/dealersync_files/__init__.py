"""Upload-file destinations: ``meta-file`` and ``google-file``."""

from dealersync import hookimpl

from dealersync_files.destinations import GoogleFile, MetaFile


@hookimpl
def dealersync_register_destinations() -> list[type]:
    return [MetaFile, GoogleFile]
