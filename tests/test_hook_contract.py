"""The hook contract as hookspecs.py and docs/plugins.md state it, on a real plugin manager.

An implementation receives only the arguments it names; observers are called one at a time, so a
failing one silences nobody; registration hooks go through pluggy, one plugin at a time, and what
they return is checked, so a bad plugin is broken alone. Observers in a real sync:
tests/test_hooks.py; plugins found through entry points: tests/test_plugin_api_version.py.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, Field

import dealersync
from dealersync import DeliveryResult, Fact, PluginError, SegmentTemplate, SnapshotDestination, Source, hookimpl
from dealersync.facts import fact_registry
from dealersync.hooks import Hooks
from dealersync.plugins import DISABLE_AUTOLOAD, PluginRegistry, load_plugins
from dealersync.segments import template_registry


def plugin(name: str, **hooks: Callable[..., Any]) -> types.ModuleType:
    """An in-memory plugin module: each keyword is a hook implementation."""
    module = types.ModuleType(name)
    for hook, function in hooks.items():
        setattr(module, hook, hookimpl(function))
    return module


def only(*plugins: types.ModuleType) -> PluginRegistry:
    """A real plugin manager holding just these plugins (no installed ones)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DISABLE_AUTOLOAD, "1")
        return load_plugins(plugins)


def delivery(status: str = "ok") -> DeliveryResult:
    return DeliveryResult("all", "meta", "meta-file", "mirror", status=status)


class AcmeList(SnapshotDestination):
    name = "acme-list"
    identifiers = {"email": "meta.email"}

    def write_snapshot(self, snapshot: Any) -> Any:
        raise AssertionError("not used")


class VipParams(BaseModel):
    min_visits: int = Field(2, description="service visits at least")


VIP = SegmentTemplate("vip", "loyal customers", VipParams, lambda p: {"fact": "service_visits", "op": ">=", "value": p.min_visits})


# ------------------------------------------------------------------------------------ observers


def test_observers_without_and_with_the_result_are_both_called() -> None:
    calls: list[object] = []
    told = plugin("told", dealersync_sync_finished=lambda: calls.append("told"))
    shown = plugin("shown", dealersync_sync_finished=lambda result: calls.append((result.audience, result.status)))
    registry = only(told, shown)
    assert [(p.name, p.status) for p in registry.plugins] == [("told", "ok"), ("shown", "ok")]
    registry.hooks.sync_finished(delivery("held"))
    assert sorted(calls, key=str) == [("all", "held"), "told"]


def test_an_observer_that_raises_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def grumpy(result: DeliveryResult) -> None:
        raise RuntimeError(f"cannot report ann.smith@example.com in {result.audience}")

    first = plugin("a_grumpy", dealersync_sync_finished=grumpy)  # registered first, called first
    later = [plugin(f"b_watcher{i}", dealersync_sync_finished=lambda i=i: calls.append(f"w{i}")) for i in (1, 2)]
    registry = only(first, *later)
    with caplog.at_level(logging.WARNING, logger="dealersync"):
        registry.hooks.sync_finished(delivery())
        registry.hooks.sync_finished(delivery())
    assert sorted(calls) == ["w1", "w1", "w2", "w2"]
    [record, _] = [r for r in caplog.records if "a_grumpy" in r.getMessage()]
    message = record.getMessage()
    assert "dealersync_sync_finished in plugin a_grumpy failed: RuntimeError at test_hook_contract.py:" in message
    assert "example.com" not in caplog.text and "ann.smith" not in caplog.text  # the message may hold PII


def test_an_argument_the_hook_does_not_have_breaks_only_that_plugin() -> None:
    typo = plugin("typo_watcher", dealersync_sync_finished=lambda results: None)
    fine = plugin("fine", dealersync_register_destinations=lambda: [AcmeList])
    registry = only(typo, fine)
    broken = registry.plugins[0]
    assert broken.status == "broken"
    assert "dealersync_sync_finished" in (broken.error or "") and "'results'" in (broken.error or "")
    assert registry.connector("acme-list", "destination", "test").plugin == "fine"
    registry.hooks.sync_finished(delivery())  # the broken one is not registered: nothing to call


# ---------------------------------------------------------------------------- registration hooks


def test_registration_goes_through_pluggy_marked_implementations_only() -> None:
    unmarked = types.ModuleType("unmarked")
    unmarked.dealersync_register_destinations = lambda: [AcmeList]  # type: ignore[attr-defined]  # no @hookimpl
    registry = only(unmarked)
    assert registry.plugins[0].status == "ok" and registry.connectors() == []


def test_a_failing_registration_hook_marks_only_its_plugin_broken() -> None:
    def explode() -> list[Fact]:
        raise ValueError("feature table missing")

    bad = plugin("bad", dealersync_register_destinations=lambda: [AcmeList], dealersync_register_features=explode)
    good = plugin(
        "good",
        dealersync_register_features=lambda: [Fact("is_vip", "boolean", "c.customer_id LIKE 'V%'", "VIP")],
        dealersync_register_segment_templates=lambda: [VIP],
    )
    registry = only(bad, good)
    assert [(p.name, p.status, p.error) for p in registry.plugins] == [
        ("bad", "broken", "ValueError: feature table missing"),
        ("good", "ok", None),
    ]
    # the broken plugin is unregistered whole: its destination registered fine but is not used
    with pytest.raises(PluginError, match=r"unknown destination connector 'acme-list'.*broken plugins: bad"):
        registry.connector("acme-list", "destination", "destinations.x.connector")
    assert fact_registry(registry).origin("is_vip") == "good"
    assert template_registry(registry).origin("vip") == "good"


@pytest.mark.parametrize(
    ("hook", "returned", "reason"),
    [
        ("dealersync_register_destinations", lambda: AcmeList, "dealersync_register_destinations returned ABCMeta, expected a list"),
        ("dealersync_register_sources", lambda: [AcmeList], "is not a dealersync.Source subclass"),
        ("dealersync_register_features", lambda: ["is_vip"], "dealersync_register_features returned a str, expected dealersync.Fact"),
        ("dealersync_register_segment_templates", lambda: [VIP.params], "expected dealersync.SegmentTemplate"),
    ],
)
def test_what_a_registration_hook_returns_is_checked(hook: str, returned: Callable[[], Any], reason: str) -> None:
    registry = only(plugin("wrong", **{hook: returned}), plugin("right", dealersync_register_destinations=lambda: [AcmeList]))
    wrong, right = registry.plugins
    assert wrong.status == "broken" and reason in (wrong.error or "")
    assert right.status == "ok" and [c.name for c in right.connectors] == ["acme-list"]


def test_connector_names_are_checked_at_load() -> None:
    class Shouty(AcmeList):
        name = "Shouty_List"

    registry = only(plugin("shouty", dealersync_register_destinations=lambda: [Shouty]))
    assert registry.plugins[0].error == "Shouty.name must be lowercase words joined by '-', got 'Shouty_List'"


# -------------------------------------------------------------------------------------- facade


def test_the_facade_returns_typed_results_for_all_plugins_or_one() -> None:
    class AcmeCrm(Source):
        name = "acme-crm"

        def streams(self) -> list[str]:
            return []

        def read(self, stream: str, state: Any) -> Any:
            return iter(())

    vip = Fact("is_vip", "boolean", "true", "VIP")
    crm = plugin("crm", dealersync_register_sources=lambda: [AcmeCrm], dealersync_register_features=lambda: [vip])
    ads = plugin("ads", dealersync_register_destinations=lambda: (AcmeList,), dealersync_register_segment_templates=lambda: None)
    registry = only(crm, ads)
    hooks = Hooks(registry.manager)
    assert (hooks.sources(), hooks.destinations(), hooks.facts(), hooks.segment_templates()) == ([AcmeCrm], [AcmeList], [vip], [])
    assert (hooks.of_plugin("ads").sources(), hooks.of_plugin("crm").sources()) == ([], [AcmeCrm])
    assert [p.facts for p in registry.plugins] == [[vip], []]  # collected once, when plugins load
    with pytest.raises(PluginError, match="no plugin registered as 'nobody'"):
        hooks.of_plugin("nobody")


def test_delivery_result_is_public_api() -> None:
    assert "DeliveryResult" in dealersync.__all__
    assert DeliveryResult.__module__.startswith("dealersync.")
