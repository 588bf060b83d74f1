"""The ``scope`` column of a source's ``suppressions.csv`` (issue 14.4): an entry scoped to email
keeps the person in the ads audiences and out of Mailchimp; a file without the column (or an
empty cell) suppresses on every channel, as before; a scope that is none of all, ads, email, sms
suppresses on every channel too (fail safe) and is reported with its file, line and column. On the two-rooftop group (tests/fixtures/dealer_group)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import duckdb
import pytest

from dealersync import RecordBatch
from dealersync.loading import load_source
from dealersync.store import Warehouse
from dealersync.suppressions import SuppressionList
from dealersync.model import TABLES
from dealersync.vocabularies import fallback_reason, unknown_value_reason

sys.path.insert(0, str(Path(__file__).parent))
from test_rooftops import PEOPLE, group, mailchimp_people, query, run, sync_with_mailchimp  # noqa: E402
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


def test_an_unknown_scope_suppresses_on_every_channel_and_is_reported_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dealersync_waits: list[float]
) -> None:
    """Fail safe: Eve's row says ``mail`` (postal mail, no channel of ours). Held back it would
    suppress nobody; it is loaded as ``all`` instead (out of Meta, Google and Mailchimp) and
    reported with file, physical line and column, never the value, as a row that was loaded."""
    text = "email,reason,scope\ndan.diaz@example.com,legal,email\neve.evans@example.com,complaint,mail\n"
    fake = sync_with_mailchimp(tmp_path, monkeypatch, files={"south/suppressions.csv": text})
    assert ads_people(tmp_path) == {"meta_upload": {"ann", "dan"}, "google_upload": {"ann", "dan"}}
    assert mailchimp_people(fake, "tire_offer") == {"ann"}
    entries = query(tmp_path, 'SELECT source, "table", file, line, "column", reason, row_loaded FROM _quarantine')
    [(source, table, file, line, column, reason, row_loaded)] = entries
    assert (source, table, line, column, row_loaded) == ("south_dms", "suppressions", 3, "scope", True)
    assert Path(file).parts[-2:] == ("south", "suppressions.csv")
    assert reason == fallback_reason("suppressions", "scope") == (
        "unknown value for scope (expected all, ads, email or sms); applied to every channel until fixed;"
        " map it with the source option values.suppressions.scope"
    )
    assert query(tmp_path, "SELECT email, scope FROM suppressions ORDER BY email") == [
        ("dan.diaz@example.com", "email"), ("eve.evans@example.com", "all")
    ]
    # loaded, not quarantined: the load history and the change guards count it as a row loaded
    assert query(tmp_path, "SELECT rows_loaded, rows_quarantined FROM _loads WHERE \"table\" = 'suppressions'") == [(2, 0)]


def test_the_load_table_says_the_row_was_loaded_on_every_channel(tmp_path: Path) -> None:
    """The sync's load table counts the row beside the file's name, without the value; a
    re-sync of the same file (skipped, unchanged) says it again."""
    text = "email,reason,scope\ndan.diaz@example.com,legal,ALL\neve.evans@example.com,bounce,postal\n"
    config = group(tmp_path, files={"south/suppressions.csv": text})
    for _ in range(2):
        out = run("sync", "--config", str(config))
        assert "1 unknown scope, applied to every channel (loaded)" in " ".join(out.split())
        assert "postal" not in out and "eve.evans" not in out
    assert ads_people(tmp_path)["meta_upload"] == {"ann"}  # Dan (line 2, any case) and Eve (line 3) suppressed


def test_other_enumerated_columns_declare_no_fallback() -> None:
    """Only the suppression scope fails open to "suppress more"; an unknown ``ro_lines.status``
    (or pay type, deal type, ...) still holds its row back (tests/test_values.py)."""
    assert {(t.name, c.name): c.fallback for t in TABLES.values() for c in t.columns if c.fallback} == {
        ("suppressions", "scope"): "all"
    }


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


def test_an_old_quarantine_gains_row_loaded_false(tmp_path: Path) -> None:
    """Bookkeeping schema 7: the quarantine of a warehouse from before fallbacks keeps its
    entries, each marked as a row held back (none was loaded then)."""
    target = _old_warehouse(tmp_path)
    con = duckdb.connect(str(target))
    con.execute("INSERT INTO _quarantine VALUES ('dms', 'ro_lines', 'ro_lines.csv', 7, 'status', 'unknown value for status', now())")
    before = con.execute('SELECT source, "table", file, line, "column", reason FROM _quarantine ORDER BY ALL').fetchall()
    con.close()
    with Warehouse(target) as wh:
        after = wh.con.execute('SELECT source, "table", file, line, "column", reason, row_loaded FROM _quarantine ORDER BY ALL').fetchall()
    assert after == [(*row, False) for row in before]


def test_a_record_source_fails_safe_alike(tmp_path: Path) -> None:
    """An API source's suppression record with an unknown scope is loaded as ``all`` and
    reported at its position in the stream; one held back for another cell (a bad ``since``)
    reports its scope as an unknown value."""
    batch = RecordBatch(
        "suppressions",
        [
            {"email": "a@example.com", "scope": "mail"},
            {"email": "b@example.com", "scope": "Text"},
            {"email": "c@example.com", "scope": "phone", "since": "someday"},
        ],
    )
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        report = load_source(wh, "api", [batch])
        rows = wh.con.execute("SELECT email, scope FROM suppressions ORDER BY email").fetchall()
        entries = wh.con.execute('SELECT line, "column", reason, row_loaded FROM _quarantine ORDER BY line, "column"').fetchall()
    assert rows == [("a@example.com", "all"), ("b@example.com", "sms")]
    assert entries == [
        (1, "scope", fallback_reason("suppressions", "scope"), True),
        (3, "scope", unknown_value_reason("suppressions", "scope"), False),
        (3, "since", "not a date (expected YYYY-MM-DD)", False),
    ]
    [f] = report.files
    assert (f.loaded, f.rows_quarantined, f.fallbacks) == (2, 1, {"unknown scope, applied to every channel": 1})
