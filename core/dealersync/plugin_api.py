"""The plugin API version, and the range of it a plugin declares it supports.

The plugin API is everything a plugin uses: the hooks (:mod:`dealersync.hookspecs`), the names
``dealersync`` exports and the contracts of :mod:`dealersync.connectors`. Its version is not the
package's: ``MAJOR.MINOR``, where a new minor version only adds (a hook, an optional argument, a
capability) and a new major version may change or remove something a plugin relies on.

A plugin states the versions it works with in the module its entry point names, as a PEP 440
version specifier (the syntax of ``Requires-Dist``)::

    DEALERSYNC_API = ">=1.0,<2"

Why a module attribute rather than distribution metadata: it is read from the object dealersync
has just loaded, so it is right for every way a plugin gets loaded (a wheel, an editable install,
a module passed in-process by a test or an embedding application); it is checked with
``packaging.specifiers`` like any ``Requires-Dist`` range; and it does not take over the
distribution's ``dealersync`` requirement, which pip resolves and which says which *releases* a
plugin installs with, not which contract it was written against (a plugin may require
``dealersync>=0.1`` and still need to say "API 1").

A plugin that declares nothing loads, with a warning (``dealersync plugins`` shows it): every
plugin written before the version existed declares nothing, and they all work with 1.0. A
declaration that is not a version range, or a range without this version, makes the plugin
broken with the reason; the others load.
"""

from __future__ import annotations

from types import ModuleType

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from dealersync.errors import PluginError

#: The version of the plugin API this dealersync provides.
PLUGIN_API_VERSION = "1.0"
#: The module attribute a plugin declares its supported range in.
DECLARATION = "DEALERSYNC_API"
#: What a plugin written for this version declares.
RECOMMENDED_RANGE = ">=1.0,<2"
UNDECLARED = (
    f"declares no {DECLARATION}: loaded as if it said '{RECOMMENDED_RANGE}'"
    f" (its entry-point module should say {DECLARATION} = \"{RECOMMENDED_RANGE}\")"
)


def declared_range(plugin: object) -> str | None:
    """The range ``plugin`` (its entry-point module) declares, or None when it declares none.

    A declaration that is not a non-empty PEP 440 specifier raises :class:`PluginError`.
    """
    declared = getattr(plugin, DECLARATION, None)
    if declared is None:
        return None
    problem = f"{DECLARATION} = {declared!r} is not a version range such as '{RECOMMENDED_RANGE}'"
    if not isinstance(declared, str) or not declared.strip():
        raise PluginError(problem)
    try:
        SpecifierSet(declared)
    except InvalidSpecifier:
        raise PluginError(f"{problem} (PEP 440 version specifiers)") from None
    return declared


def check_plugin_api(plugin: ModuleType | object, version: str = PLUGIN_API_VERSION) -> str | None:
    """Raise :class:`PluginError` unless ``plugin`` supports API ``version``; return its range.

    None means the plugin declares nothing (accepted: see the module docstring).
    """
    declared = declared_range(plugin)
    if declared is not None and Version(version) not in SpecifierSet(declared):
        raise PluginError(
            f"supports plugin API {declared}, this dealersync provides {version}: install a release "
            f"of the plugin made for plugin API {version}, or a dealersync whose plugin API is in its range"
        )
    return declared
