"""``dealersync schema``: connectors.toml's JSON schema with every installed connector's config."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
from dealersync import ConnectorConfig, Destination, hookimpl
from dealersync.cli.schema_cmd import connectors_schema
from dealersync.plugins import load_plugins
from pydantic import Field, SecretStr

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def schema() -> dict:
    out = subprocess.run([sys.executable, "-m", "dealersync", "schema"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _connector(schema: dict, table: str, name: str) -> dict:
    options = schema["properties"][table]["additionalProperties"]["anyOf"]
    (found,) = [o for o in options if o["properties"]["connector"].get("const") == name]
    return found


def test_includes_installed_connectors_fields(schema: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    meta = _connector(schema, "destinations", "meta-file")
    assert {"connector", "filename", "dir"} <= set(meta["properties"])
    assert meta["additionalProperties"] is False and meta["required"] == ["connector"]
    dms = _connector(schema, "sources", "dms-csv")
    assert {"dir", "path", "files", "columns", "delimiter", "date_format", "timestamp_format"} <= set(dms["properties"])
    assert dms["properties"]["path"]["deprecated"] is True  # the old name of dir, still read
    assert dms["required"] == ["connector"]
    assert {"anyOf": [{"required": ["dir"]}, {"required": ["path"]}]} in dms["allOf"]
    assert "description" in dms["properties"]["delimiter"]


def test_the_sample_config_validates_and_mistakes_do_not(schema: dict) -> None:
    config = tomllib.loads((ROOT / "connectors.toml").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    assert [e.message for e in validator.iter_errors(config)] == []
    config["sources"]["store_dms"]["pth"] = "typo"
    assert list(validator.iter_errors(config))
    del config["sources"]["store_dms"]["pth"]
    config["destinations"]["meta_upload"]["connector"] = "no-such-connector"
    assert list(validator.iter_errors(config))


class Tokened(Destination):
    name = "tokened"
    identifiers = {"email": "meta.email"}

    class Config(ConnectorConfig):
        token: SecretStr = Field(description="API token")


class TokenedPlugin:
    @staticmethod
    @hookimpl
    def dealersync_register_destinations() -> list[type]:
        return [Tokened]


def test_secret_fields_take_a_reference() -> None:
    schema = connectors_schema(load_plugins([TokenedPlugin]))  # type: ignore[list-item]
    validator = jsonschema.Draft202012Validator(schema)
    good = {"destinations": {"t": {"connector": "tokened", "token": {"keyring": "t"}}}}
    assert list(validator.iter_errors(good)) == []
    bad = {"destinations": {"t": {"connector": "tokened", "token": {"vault": "t"}}}}
    assert list(validator.iter_errors(bad))
