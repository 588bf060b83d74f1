"""The hooks a dealersync plugin can implement. These docstrings are the reference.

A plugin is a distribution with an entry point in the ``dealersync`` group pointing at a module
holding ``@hookimpl`` functions, and declaring the plugin API versions it supports
(``DEALERSYNC_API = ">=1.0,<2"``, see :mod:`dealersync.plugin_api`). Core calls the hooks
through :class:`dealersync.hooks.Hooks`, never a function directly.

Arguments: an implementation receives only the arguments it names, and may name none of them
(``def dealersync_sync_finished():`` is valid). A later minor version of the plugin API may add
arguments to a hook; existing implementations keep working. Naming an argument the hook does not
have makes the plugin broken when it loads.

Registration hooks (``dealersync_register_*``) are called once per plugin when plugins load
(``dealersync plugins`` and every command that needs them). Each returns a list (or nothing);
anything else in it, or an exception, marks that plugin broken with the reason
(``dealersync plugins`` shows it) and the other plugins load.

Observer hooks (``dealersync_sync_finished``) are called on each implementation on its own: an
exception is logged (the plugin, the exception type, where it was raised) and the other observers
and the sync go on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from dealersync.connectors import Destination, Source
    from dealersync.facts import Fact
    from dealersync.segments import SegmentTemplate
    from dealersync.sync import DeliveryResult

PROJECT = "dealersync"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def dealersync_register_sources() -> list[type[Source]]:  # type: ignore[empty-body]
    """Return the :class:`dealersync.Source` subclasses this plugin provides.

    Each class's ``name`` is the connector name dealers write in ``connectors.toml``
    (``connector = "dms-csv"``): lowercase words joined by ``-``.
    """


@hookspec
def dealersync_register_destinations() -> list[type[Destination]]:  # type: ignore[empty-body]
    """Return the :class:`dealersync.Destination` subclasses this plugin provides.

    A destination with an optional capability inherits its interface as well (for instance
    :class:`dealersync.LookalikeCapable`).
    """


@hookspec
def dealersync_register_features() -> list[Fact]:  # type: ignore[empty-body]
    """Return :class:`dealersync.Fact` objects: extra columns of the customer facts view.

    A fact's ``sql`` is an expression over the customer's row ``c`` and the per-customer
    aggregates (see :mod:`dealersync.facts`); ``{as_of}`` stands for the run's as-of date.
    A name already taken (by the core or another plugin) is a configuration error naming both.
    """


@hookspec
def dealersync_register_segment_templates() -> list[SegmentTemplate]:  # type: ignore[empty-body]
    """Return :class:`dealersync.SegmentTemplate` objects: named rules with parameters.

    Dealers use one as ``[segments.X] template = "<name>"``, ``params = {...}``. A template's
    ``params`` model gives every parameter a default and a ``Field(description=...)``; its
    ``build`` turns validated params into a rule tree in its ``connectors.toml`` shape (a dict:
    ``{"fact": "vehicles_owned", "op": ">=", "value": params.min_vehicles}``), compiled like a
    hand-written rule. Names must not clash with the core library's or another plugin's.
    """


@hookspec
def dealersync_sync_finished(result: DeliveryResult) -> None:
    """Called once after each (audience, destination) delivery with its
    :class:`dealersync.DeliveryResult` (counts, status, warnings; never an identifier).

    Observers only: the delivery has happened. ``def dealersync_sync_finished():`` (told that a
    delivery finished) and ``def dealersync_sync_finished(result):`` are both valid. An exception
    is logged and does not fail the sync nor stop the other observers.
    """
