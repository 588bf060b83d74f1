"""The kit's side of the plugin API version: which version the kit checks, and the check itself.

The kit is versioned with the plugin API (:data:`KIT_API_VERSION`): its checks are the contract
of that version. Where dealersync accepts a plugin that declares nothing (with a warning, for the
plugins written before the version existed), the kit requires the declaration: a plugin that
passes the kit says which contract it was checked against.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from dealersync.connectors import Connector
from dealersync.errors import PluginError
from dealersync.plugin_api import DECLARATION, PLUGIN_API_VERSION, RECOMMENDED_RANGE, check_plugin_api
from dealersync.plugins import load_plugins

#: The plugin API version whose contract this kit checks.
KIT_API_VERSION = PLUGIN_API_VERSION


def check_declared_api(connector: type[Connector[Any]]) -> None:
    """Fail the test unless the plugin providing ``connector`` declares a plugin API range that
    holds :data:`KIT_API_VERSION`."""
    module = _declaring_module(connector)
    try:
        declared = check_plugin_api(module, KIT_API_VERSION)
    except PluginError as exc:
        pytest.fail(f"{connector.__name__}'s plugin {exc.message}")
    if declared is None:
        pytest.fail(
            f"{connector.__name__}'s plugin declares no {DECLARATION}: add {DECLARATION} ="
            f' "{RECOMMENDED_RANGE}" (the plugin API versions it is written for; this kit checks'
            f" {KIT_API_VERSION}) to the module its entry point names"
        )


def _declaring_module(connector: type[Connector[Any]]) -> object | None:
    """The module the plugin's entry point names when an installed plugin registers ``connector``;
    otherwise (a vendor's test module, a plugin not installed yet, one broken by its declaration)
    the nearest of the connector's module and the packages above it that declares a range."""
    registry = load_plugins()
    for info in registry.loaded():
        if any(c.cls is connector for c in info.connectors):
            return registry.manager.get_plugin(info.name)
    parts = connector.__module__.split(".")
    modules = [sys.modules.get(".".join(parts[:n])) for n in range(len(parts), 0, -1)]
    declaring = [m for m in modules if m is not None and DECLARATION in vars(m)]
    return declaring[0] if declaring else None
