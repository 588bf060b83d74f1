"""A name whose Google hash changes is sent once (issue 16, deliver 4). Google's AddressInfo
names are part of the member's identity (user_data.proto: an address is matched on all four
parts), so they are state fields, not attributes: the old address is removed and the new one
ingested, once; the next run sends nothing."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("google_test_sync_update", Path(__file__).with_name("test_sync.py"))
assert _spec is not None and _spec.loader is not None
_sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sync)
World = _sync.World


def test_a_changed_name_hash_is_sent_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    w = World(tmp_path, monkeypatch, 120)
    w.run()
    w.customers["C00007"]["first_name"] = "Mary-Jane"  # hashed as "maryjane" (no punctuation)
    r = w.run()
    assert (r.status, r.added, r.removed, r.unchanged) == ("ok", 1, 1, 119)
    new_hash = hashlib.sha256(b"maryjane").hexdigest()
    assert [m for m in w.fake.held() if m["given_name"] == new_hash] != []
    again = w.run()
    assert (again.added, again.removed, again.platform_counts["requests"]) == (0, 0, 0)
    w.assert_remote_is_the_audience()
