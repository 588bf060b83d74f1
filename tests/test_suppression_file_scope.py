"""The ``scope`` column of a source's ``suppressions.csv`` (issue 14.4): an entry scoped to email
keeps the person in the ads audiences and out of Mailchimp; a file without the column (or an
empty cell) suppresses on every channel, as before; a scope that is none of all, ads, email, sms
is quarantined with its file, line and column. On the two-rooftop group (tests/fixtures/dealer_group)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import duckdb
import pytest

from dealersync.store import Warehouse
from dealersync.suppressions import SuppressionList
from dealersync.vocabularies import unknown_value_reason

sys.path.insert(0, str(Path(__file__).parent))
from test_rooftops import PEOPLE, group, mailchimp_people, run, sync_with_mailchimp  # noqa: E402
from test_state import _old_warehouse  # noqa: E402


def ads_people(root: Path) -> dict[str, set[str]]:
    """Who is in the tire offer's Meta and Google files (names as in test_rooftops.PEOPLE)."""
    out = {}
    for dest, column in (("meta_upload", "email"), ("google_upload", "Email")):
        with (root / "out" / f"tire_offer.{dest}.csv").open(encoding="utf-8", newline="") as fh:
            out[dest] = {PEOPLE[r[column]] for r in csv.DictReader(fh)}
    return out


def test_an_entry_scoped_to_email_keeps_the_person_in_meta_and_out_of_mailchimp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    files = {"north/suppressions.csv": "email,reason,scope\n Eve.Evans@Example.com ,bounce,E-Mail\n"}
    fake = sync_with_mailchimp(tmp_path, monkeypatch, files=files)
    assert ads_people(tmp_path) == {"meta_upload": {"ann", "eve", "dan"}, "google_upload": {"ann", "eve", "dan"}}
    assert mailchimp_people(fake, "tire_offer") == {"ann", "dan"}


def test_a_file_without_the_column_or_with_an_empty_cell_suppresses_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    files = {
        # the layout of every suppressions.csv before scopes existed
        "north/suppressions.csv": "email,phone,customer_id,reason,since\neve.evans@example.com,,,complaint,2026-10-01\n",
        # south's customer 1001 (Dan), scope left empty
        "south/suppressions.csv": "customer_id,reason,scope\n1001,legal,\n",
    }
    fake = sync_with_mailchimp(tmp_path, monkeypatch, files=files)
    assert ads_people(tmp_path) == {"meta_upload": {"ann"}, "google_upload": {"ann"}}
    assert mailchimp_people(fake, "tire_offer") == {"ann"}


def test_a_bad_scope_is_quarantined_with_file_line_and_column(tmp_path: Path) -> None:
    """Line 3's scope is no channel: reported with file, physical line and column (never the
    value); the load goes on, and line 2 (any case) suppresses Dan everywhere."""
    text = "email,reason,scope\ndan.diaz@example.com,legal,ALL\neve.evans@example.com,bounce,postal\n"
    config = group(tmp_path, files={"south/suppressions.csv": text})
    out = run("sync", "--config", str(config))
    con = duckdb.connect(str(tmp_path / ".dealersync" / "warehouse.duckdb"), read_only=True)
    try:
        quarantined = con.execute('SELECT source, "table", file, line, "column", reason FROM _quarantine').fetchall()
        loaded = con.execute("SELECT email, scope FROM suppressions").fetchall()
    finally:
        con.close()
    [(source, table, file, line, column, reason)] = quarantined
    assert (source, table, Path(file).name, line, column) == ("south_dms", "suppressions", "suppressions.csv", 3, "scope")
    assert Path(file).parent.name == "south"
    assert reason == unknown_value_reason("suppressions", "scope") and "postal" not in reason
    assert reason.startswith("unknown value for scope (expected all, ads, email or sms;")
    assert loaded == [("dan.diaz@example.com", "all")]
    assert "1 unknown value" in out  # the load table counts it beside the file's name
    assert "postal" not in out and "eve.evans" not in out
    assert ads_people(tmp_path)["meta_upload"] == {"ann", "eve"}  # the bad row suppresses nobody until fixed


def test_a_warehouse_from_before_the_column_keeps_its_loaded_entries_on_every_channel(tmp_path: Path) -> None:
    """A warehouse whose loaded suppressions table has no scope column (release e2e7d72; also
    bookkeeping schema 4) gains it on opening; its rows are entries of scope all."""
    target = _old_warehouse(tmp_path)
    con = duckdb.connect(str(target))
    assert "scope" not in {r[0] for r in con.execute("DESCRIBE suppressions").fetchall()}
    con.execute("INSERT INTO suppressions (email, reason, _source) VALUES ('Person.5@Example.org', 'legal', 'dms')")
    con.close()
    with Warehouse(target) as wh:
        suppressions = SuppressionList(wh.con)
        on = {scope: {r[0] for r in wh.con.execute(suppressions.suppressed_customers_sql(scope)).fetchall()} for scope in ("all", "email")}
        assert "C00005" in on["all"] and "C00005" not in on["email"]
        assert ("dms", "legal", "email", 1, "all") in [
            (c.source, c.reason, c.kind, c.entries, c.scope) for c in suppressions.counts()
        ]
