"""A Mailchimp ``cleaned`` or ``unsubscribed`` contact is suppressed for email only (issue 14.4):
the person leaves the Mailchimp audience and stays in the Meta file of the same audience."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from dealersync.testing import run_sync
from dealersync_mailchimp_fake import LIST_ID, FakeMailchimp

sys.path.insert(0, str(Path(__file__).parent))
from test_sync import AUDIENCE, Dealer, customer  # noqa: E402


def test_a_cleaned_address_leaves_the_person_in_the_meta_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    fake = FakeMailchimp()
    dealer = Dealer(tmp_path, monkeypatch, fake)
    rows = [customer(i) for i in range(6)]
    fake.put_contact(LIST_ID, "person.4@example.org", "cleaned")
    fake.put_contact(LIST_ID, "person.3@example.org", "unsubscribed")
    dealer.write(rows, status_for_new="subscribed")
    config = tmp_path / "connectors.toml"
    text = config.read_text(encoding="utf-8").replace('destinations = ["main"]', 'destinations = ["main", "meta"]')
    config.write_text(text + '\n[destinations.meta]\nconnector = "meta-file"\n', encoding="utf-8")
    for _ in range(2):  # the first run learns the statuses, the second selects with them
        with fake.running():
            results = {r.destination: r for r in run_sync(config)}
        assert set(results) == {"main", "meta"} and all(r.status == "ok" for r in results.values()), results
    assert dealer.table("SELECT reason, scope FROM _suppressions ORDER BY reason") == [
        ("cleaned", "email"), ("unsubscribe", "email")
    ]
    meta = (tmp_path / "out" / f"{AUDIENCE}.meta.csv").read_text(encoding="utf-8")
    for i in (3, 4):
        assert hashlib.sha256(f"person.{i}@example.org".encode()).hexdigest() in meta
    assert results["meta"].members == 6 and results["meta"].no_consent == 0
    assert results["main"].no_consent == 2  # suppressed for email: out of the Mailchimp audience
    assert dealer.tagged() == {f"person.{i}@example.org" for i in (0, 1, 2, 5)}
