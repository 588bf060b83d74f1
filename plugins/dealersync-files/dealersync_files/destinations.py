"""Audience files in the layouts Meta Ads Manager and Google Ads take by hand.

The engine has already normalized, hashed and deduped the members; these classes only choose the
identity profiles, the headers and the file name.
"""

from __future__ import annotations

import datetime as dt
import string
from pathlib import Path, PurePath
from typing import ClassVar

from pydantic import Field, ValidationInfo, field_validator

from dealersync import AudienceSnapshot, ConnectorConfig, ConfigError, SnapshotDestination, SnapshotResult

#: The placeholders each file name template may use.
SNAPSHOT_NAMES = ("audience", "destination")
CHANGE_NAMES = (*SNAPSHOT_NAMES, "stamp", "kind")


def utc_stamp() -> str:
    """The run's UTC time as it appears in change file names."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def file_name(template: str, names: dict[str, str]) -> str:
    """``template`` filled in with ``names``; ValueError saying what a name may hold when it uses
    another placeholder, an attribute or index of one (``{audience.upper}``), a bad format spec,
    or when it leaves the directory (absolute, ``..``) or is empty."""
    expected = f"a file name under the directory using only {', '.join('{' + n + '}' for n in names)}"
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        if any(f not in names for f in fields):
            raise ValueError(expected)
        name = template.format(**names)
    except (KeyError, IndexError, ValueError):
        raise ValueError(expected) from None
    path = PurePath(name)
    if not name.strip() or path.is_absolute() or ".." in path.parts or name.endswith(("/", "\\")):
        raise ValueError(expected)
    return name


class FileConfig(ConnectorConfig):
    filename: str = Field(
        "{audience}.{destination}.csv",
        description="file name under the output directory; {audience} and {destination} are filled in",
    )
    dir: str | None = Field(None, description="write here instead of the output directory ([output] dir)")
    snapshot: bool = Field(True, description="write the whole audience to `filename` every run")
    changes: bool = Field(
        False,
        validate_default=True,  # snapshot = false alone must fail too
        description="also write what changed since the last run, for the platforms' add / remove uploads:"
        " `changes_filename` with {kind} = adds or removes (written only when not empty; the first run's"
        " adds file holds the whole audience)",
    )
    changes_filename: str = Field(
        "{audience}.{destination}.{stamp}.{kind}.csv",
        description="name of the change files; {stamp} is the run's UTC time (YYYYMMDDTHHMMSSZ), so"
        " files not uploaded yet are never overwritten; {kind} (adds or removes) is required",
    )

    # Checked with made-up names when the config is read, so a wrong template stops the run
    # before anything is loaded (the preflight), not at the first write.
    @field_validator("filename")
    @classmethod
    def _snapshot_name(cls, value: str) -> str:
        file_name(value, dict.fromkeys(SNAPSHOT_NAMES, "x"))
        return value

    @field_validator("changes_filename")
    @classmethod
    def _change_name(cls, value: str) -> str:
        names = dict.fromkeys(CHANGE_NAMES, "x")
        if file_name(value, {**names, "kind": "adds"}) == file_name(value, {**names, "kind": "removes"}):
            raise ValueError("a name with {kind}: the adds and removes files would be one file")
        return value

    @field_validator("changes")
    @classmethod
    def _something_to_write(cls, value: bool, info: ValidationInfo) -> bool:
        if not value and info.data.get("snapshot") is False:
            raise ValueError("true when snapshot is false (both false: nothing would be written)")
        return value


class CsvFileDestination(SnapshotDestination[FileConfig]):
    """Writes one CSV per audience: one row per member, the snapshot's fields under ``headers``."""

    headers: ClassVar[dict[str, str]]  # identity field -> CSV header
    Config = FileConfig

    @property
    def folder(self) -> Path:
        cfg = self.config
        return self.context.resolve(cfg.dir) if cfg.dir else self.context.out_dir

    def check_config(self, audiences: tuple[str, ...] = ()) -> None:
        """The directory is not a file, and no two audiences write the same file."""
        cfg = self.config
        where = f"destinations.{self.context.instance}"
        if self.folder.exists() and not self.folder.is_dir():
            key = f"{where}.dir" if cfg.dir else "output.dir"
            raise ConfigError(f"{key}: found {self.folder}, a file; expected a directory")
        for key, template, extra, used in (
            ("filename", cfg.filename, {}, cfg.snapshot),
            ("changes_filename", cfg.changes_filename, {"stamp": "s", "kind": "adds"}, cfg.changes),
        ):
            if not used:
                continue
            writers: dict[str, str] = {}
            for audience in audiences:
                name = file_name(template, {"audience": audience, "destination": self.context.instance, **extra})
                other = writers.setdefault(name, audience)
                if other != audience:
                    raise ConfigError(
                        f"{where}.{key}: found {template!r}, expected a name with {{audience}}: audiences"
                        f" {other} and {audience} would write the same file {name}"
                    )

    def write_snapshot(self, snapshot: AudienceSnapshot) -> SnapshotResult:
        cfg = self.config
        folder = self.folder
        names = {"audience": snapshot.audience, "destination": snapshot.destination}
        written, location, added, removed = 0, str(folder), 0, 0
        if cfg.snapshot:
            path = folder / file_name(cfg.filename, names)
            written, location = snapshot.write_csv(path, self.headers), str(path)
        if cfg.changes:
            stamp = utc_stamp()
            adds, removes = (
                folder / file_name(cfg.changes_filename, {**names, "stamp": stamp, "kind": kind})
                for kind in ("adds", "removes")
            )
            added, removed = snapshot.write_changes_csv(adds, removes, self.headers)
        return SnapshotResult(written=written, location=location, added=added, removed=removed)


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
