"""Audience files in the layouts Meta Ads Manager and Google Ads take by hand.

The engine has already normalized, hashed and deduped the members; these classes only choose the
identity profiles, the headers and the file name.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from dealersync import AudienceSnapshot, ConnectorConfig, ConfigError, SnapshotDestination, SnapshotResult


class FileConfig(ConnectorConfig):
    filename: str = Field(
        "{audience}.{destination}.csv",
        description="file name under the output directory; {audience} and {destination} are filled in",
    )
    dir: str | None = Field(None, description="write here instead of the output directory ([output] dir)")


class CsvFileDestination(SnapshotDestination):
    """Writes one CSV per audience: one row per member, the snapshot's fields under ``headers``."""

    headers: ClassVar[dict[str, str]]  # identity field -> CSV header
    Config = FileConfig

    def write_snapshot(self, snapshot: AudienceSnapshot) -> SnapshotResult:
        cfg: FileConfig = self.config  # type: ignore[assignment]
        try:
            name = cfg.filename.format(audience=snapshot.audience, destination=snapshot.destination)
        except (KeyError, IndexError, ValueError):
            raise ConfigError(
                f"destinations.{self.context.instance}.filename: found {cfg.filename!r}, "
                "expected a name using only {audience} and {destination}"
            ) from None
        folder = self.context.resolve(cfg.dir) if cfg.dir else self.context.out_dir
        path = folder / name
        written = snapshot.write_csv(path, self.headers)
        return SnapshotResult(written=written, location=str(path))


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
