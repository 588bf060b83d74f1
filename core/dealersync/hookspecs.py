"""The hooks a dealersync plugin can implement. These docstrings are the reference.

A plugin is a distribution with an entry point in the ``dealersync`` group pointing at a module
holding ``@hookimpl`` functions. Hooks are called without arguments unless shown; a later version
may add arguments, and pluggy passes an implementation only the ones it names.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "dealersync"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def dealersync_register_sources() -> list[type]:  # type: ignore[empty-body]
    """Return the :class:`dealersync.Source` subclasses this plugin provides.

    Each class's ``name`` is the connector name dealers write in ``connectors.toml``
    (``connector = "dms-csv"``).
    """


@hookspec
def dealersync_register_destinations() -> list[type]:  # type: ignore[empty-body]
    """Return the :class:`dealersync.Destination` subclasses this plugin provides."""


@hookspec
def dealersync_register_features() -> list[Any]:  # type: ignore[empty-body]
    """Return :class:`dealersync.Fact` objects: extra columns of the customer facts view.

    A fact's ``sql`` is an expression over the customer's row ``c`` and the per-customer
    aggregates (see :mod:`dealersync.facts`); ``{as_of}`` stands for the run's as-of date.
    """


@hookspec
def dealersync_register_segment_templates() -> list[Any]:  # type: ignore[empty-body]
    """Return :class:`dealersync.SegmentTemplate` objects: named rules with parameters.

    Dealers use one as ``[segments.X] template = "<name>"``, ``params = {...}``. A template's
    ``params`` model gives every parameter a default and a ``Field(description=...)``; its
    ``build`` turns validated params into a rule tree in its ``connectors.toml`` shape (a dict:
    ``{"fact": "vehicles_owned", "op": ">=", "value": params.min_vehicles}``), compiled like a
    hand-written rule. Names must not clash with the core library's or another plugin's.
    """


@hookspec
def dealersync_sync_finished(result: Any) -> None:
    """Called once after each (audience, destination) delivery with its ``DeliveryResult``.

    Observers only: an exception here is logged and does not fail the sync.
    """
