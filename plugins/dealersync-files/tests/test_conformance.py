"""meta-file and google-file through the plugin author kit (snapshot destinations)."""

from __future__ import annotations

from dealersync.testing import DestinationConformance
from dealersync_files.destinations import GoogleFile, MetaFile


class TestMetaFileConformance(DestinationConformance):
    connector = MetaFile


class TestGoogleFileConformance(DestinationConformance):
    connector = GoogleFile
