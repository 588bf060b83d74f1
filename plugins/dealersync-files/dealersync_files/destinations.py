"""Audience files in the layouts Meta Ads Manager and Google Ads take by hand.

The engine has already normalized, hashed and deduped the members; these classes only choose the
identity profiles, the headers and the file name.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field

from dealersync import AudienceSnapshot, ConnectorConfig, ConfigError, SnapshotDestination, SnapshotResult


def utc_stamp() -> str:
    """The run's UTC time as it appears in change file names."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


class FileConfig(ConnectorConfig):
    filename: str = Field(
        "{audience}.{destination}.csv",
        description="file name under the output directory; {audience} and {destination} are filled in",
    )
    dir: str | None = Field(None, description="write here instead of the output directory ([output] dir)")
    snapshot: bool = Field(True, description="write the whole audience to `filename` every run")
    changes: bool = Field(
        False,
        description="also write what changed since the last run, for the platforms' add / remove uploads:"
        " `changes_filename` with {kind} = adds or removes (written only when not empty; the first run's"
        " adds file holds the whole audience)",
    )
    changes_filename: str = Field(
        "{audience}.{destination}.{stamp}.{kind}.csv",
        description="name of the change files; {stamp} is the run's UTC time (YYYYMMDDTHHMMSSZ), so"
        " files not uploaded yet are never overwritten",
    )


class CsvFileDestination(SnapshotDestination):
    """Writes one CSV per audience: one row per member, the snapshot's fields under ``headers``."""

    headers: ClassVar[dict[str, str]]  # identity field -> CSV header
    Config = FileConfig

    def write_snapshot(self, snapshot: AudienceSnapshot) -> SnapshotResult:
        cfg: FileConfig = self.config  # type: ignore[assignment]
        if not (cfg.snapshot or cfg.changes):
            raise ConfigError(f"destinations.{self.context.instance}: snapshot and changes are both false: nothing to write")
        folder = self.context.resolve(cfg.dir) if cfg.dir else self.context.out_dir
        names = {"audience": snapshot.audience, "destination": snapshot.destination}
        written, location, added, removed = 0, str(folder), 0, 0
        if cfg.snapshot:
            path = folder / self._name("filename", cfg.filename, names)
            written, location = snapshot.write_csv(path, self.headers), str(path)
        if cfg.changes:
            stamp = utc_stamp()
            adds, removes = (
                folder / self._name("changes_filename", cfg.changes_filename, {**names, "stamp": stamp, "kind": kind})
                for kind in ("adds", "removes")
            )
            added, removed = snapshot.write_changes_csv(adds, removes, self.headers)
        return SnapshotResult(written=written, location=location, added=added, removed=removed)

    def _name(self, key: str, template: str, names: dict[str, str]) -> str:
        try:
            return template.format(**names)
        except (KeyError, IndexError, ValueError):
            raise ConfigError(
                f"destinations.{self.context.instance}.{key}: found {template!r}, "
                f"expected a name using only {', '.join('{' + n + '}' for n in names)}"
            ) from None


class MetaFile(CsvFileDestination):
    """Meta Ads Manager customer list: every column SHA-256 lowercase hex."""

    name = "meta-file"
    channel = "ads"
    min_members = 100  # Meta does not serve custom audiences under 100 people
    identifiers = {
        "email": "meta.email",
        "phone": "meta.phone",
        "fn": "meta.fn",
        "ln": "meta.ln",
        "ct": "meta.ct",
        "st": "meta.st",
        "zip": "meta.zip",
        "country": "meta.country",
    }
    headers = {f: f for f in identifiers}


class GoogleFile(CsvFileDestination):
    """Google Ads Customer Match CSV: identifiers hashed; Country and Zip in plain text."""

    name = "google-file"
    channel = "ads"
    min_members = 100  # Customer Match lists need 100 active members to serve
    identifiers = {
        "email": "google.email",
        "phone": "google.phone",
        "first_name": "google.given_name",
        "last_name": "google.family_name",
        "country": "google.country",
        "zip": "google.postal_code",
    }
    headers = {
        "email": "Email",
        "phone": "Phone",
        "first_name": "First Name",
        "last_name": "Last Name",
        "country": "Country",
        "zip": "Zip",
    }
