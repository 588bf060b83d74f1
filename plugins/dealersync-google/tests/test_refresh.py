"""Refresh (issue 16, deliver 3): a Customer Match list keeps a member for its membership
duration (at most 540 days, set per list); members whose last confirmed upload is older than
``refresh_after_days`` (Google default 30) are sent again, a seventh of the list at most a run.
With an injected clock the stale members are re-sent across runs and none expires in the fake."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from dealersync.testing import sync_clock

_spec = importlib.util.spec_from_file_location("google_test_sync_refresh", Path(__file__).with_name("test_sync.py"))
assert _spec is not None and _spec.loader is not None
_sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sync)
World = _sync.World


def _with_clock(run_sync: Any, today: list[dt.datetime]) -> Any:
    """``run_sync`` with the sync state's clock reading ``today[0]``."""

    def run(*args: Any, **kw: Any) -> Any:
        with sync_clock(lambda: today[0]):
            return run_sync(*args, **kw)

    return run


@pytest.mark.slow
def test_stale_members_are_sent_again_across_runs_and_none_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    today = [dt.datetime(2026, 1, 1, 6, 0)]
    monkeypatch.setattr(_sync, "run_sync", _with_clock(_sync.run_sync, today))
    w = World(tmp_path, monkeypatch, 140)
    w.fake.clock = lambda: today[0]
    w.fake.membership_days = 45  # a list set to a short membership duration
    first = w.run()
    assert first.added == 140
    refreshed = []
    for day in range(1, 121):  # a daily sync for four months
        today[0] = dt.datetime(2026, 1, 1, 6, 0) + dt.timedelta(days=day)
        r = w.run()
        assert r.status == "ok", r.error
        refreshed.append(r.platform_counts["members_ingested"])
        assert w.fake.expired() == [], f"day {day}: members expired"
    assert max(refreshed) <= 20  # spread: at most a seventh of 140 a run
    assert refreshed[:29] == [0] * 29 and sum(refreshed) >= 3 * 140  # nothing before 30 days, then each again
    w.assert_remote_is_the_audience()


def test_without_refresh_members_expire_in_the_fake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    """The control: the fake's expiry is real, so the test above proves something."""
    today = [dt.datetime(2026, 1, 1)]
    monkeypatch.setattr(_sync, "run_sync", _with_clock(_sync.run_sync, today))
    w = World(tmp_path, monkeypatch, 20)
    w.fake.clock = lambda: today[0]
    w.fake.membership_days = 45
    w.run()
    today[0] += dt.timedelta(days=46)
    assert len(w.fake.expired()) == 20
