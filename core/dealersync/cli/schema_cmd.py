"""``dealersync schema``: the JSON schema of ``connectors.toml``, installed connectors included.

Editors (VS Code with Even Better TOML, JetBrains, ...) validate and complete the config with it.
Each ``[sources.X]`` / ``[destinations.X]`` table is one of the installed connectors' configs,
told apart by the ``connector`` constant; secret fields also accept ``{ keyring = ... }`` or
``{ env = ... }``, which is how secrets are written in the file.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click
from pydantic import AliasChoices, BaseModel

from dealersync.config import Settings
from dealersync.plugins import ConnectorInfo, PluginRegistry, load_plugins

SECRET_REFERENCE: dict[str, Any] = {
    "description": "A secret stored outside the file: in the OS keyring or an environment variable.",
    "oneOf": [
        {"type": "object", "properties": {"keyring": {"type": "string"}}, "required": ["keyring"],
         "additionalProperties": False},
        {"type": "object", "properties": {"env": {"type": "string"}}, "required": ["env"],
         "additionalProperties": False},
    ],
}


def register(cli: click.Group) -> None:
    cli.add_command(schema)


@click.command()
def schema() -> None:
    """Print the JSON schema of connectors.toml, with every installed connector's settings."""
    click.echo(json.dumps(connectors_schema(load_plugins()), indent=2, ensure_ascii=False))


def connectors_schema(registry: PluginRegistry) -> dict[str, Any]:
    root = Settings.model_json_schema()
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    root["title"] = "dealersync connectors.toml"
    defs = root.setdefault("$defs", {})
    defs["SecretReference"] = SECRET_REFERENCE
    for table, kind in (("sources", "source"), ("destinations", "destination")):
        infos = sorted(registry.connectors(kind), key=lambda c: (c.name, c.distribution))
        if infos:
            options = [_connector_schema(info, defs) for info in infos]
            root["properties"][table]["additionalProperties"] = {"anyOf": options}
    return root


def _connector_schema(info: ConnectorInfo, defs: dict[str, Any]) -> dict[str, Any]:
    """One connector's Config as a table schema; its own $defs are namespaced into ``defs``."""
    prefix = re.sub(r"\W", "_", f"{info.kind}_{info.name}_{info.distribution}") + "__"
    schema = info.cls.Config.model_json_schema(ref_template=f"#/$defs/{prefix}{{model}}")
    for name, sub in schema.pop("$defs", {}).items():
        defs[prefix + name] = sub
    props: dict[str, Any] = {
        "connector": {"const": info.name, "description": f"{info.kind} connector from {info.distribution}"}
    }
    for name, prop in schema.get("properties", {}).items():
        if prop.get("format") == "password":  # SecretStr: the file holds a reference to it
            prop = {"description": prop.get("description", ""), "anyOf": [prop, {"$ref": "#/$defs/SecretReference"}]}
        props[name] = prop
    schema["properties"] = props
    schema["required"] = ["connector", *schema.get("required", [])]
    _old_names(info.cls.Config, schema)
    schema["additionalProperties"] = False
    schema["title"] = f"{info.name} ({info.distribution})"
    return schema


def _old_names(config: type[BaseModel], schema: dict[str, Any]) -> None:
    """A key also read under an old name (``validation_alias=AliasChoices("dir", "path")``): the
    old name is a deprecated property of the same type, and a required key may be written under
    either name, not both."""
    for field in config.model_fields.values():
        if not isinstance(field.validation_alias, AliasChoices):
            continue
        current, *old = [c for c in field.validation_alias.choices if isinstance(c, str)]
        rules = schema.setdefault("allOf", [])
        for name in old:
            schema["properties"][name] = {
                **schema["properties"][current], "deprecated": True,
                "description": f"the old name of `{current}`, still read (write one of the two)",
            }
            rules.append({"not": {"required": [current, name]}})
        if current in schema["required"]:
            schema["required"].remove(current)
            rules.append({"anyOf": [{"required": [n]} for n in (current, *old)]})
