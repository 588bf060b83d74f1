"""`dealersync report`: what it reads, what it leaves out (planted PII), its options, old warehouses.

The page in a real browser (marks, requests, console) is tests/test_report_browser.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from dealersync.cli import cli
from dealersync.report.overlaps import OVERLAPS_TABLE
from dealersync.report.scrub import Scrubber
from dealersync.testing import write_extract

from tests.support import configs as toml

NAME, SURNAME = "Zebulon", "Plantedname"
EMAIL = "planted.person@leak-test.example"
PHONE = "(312) 555-0199"
STREET, CITY = "77 Quillfeather Lane", "Xanthoriaville"
CAMPAIGN = "Plantedcampaign Spring Blowout"
#: Every form of the planted values that must not appear in the report's bytes.
PLANTED = [NAME, SURNAME, EMAIL, PHONE, "312) 555-0199", "3125550199", "555-0199", "Quillfeather", CITY, CAMPAIGN, "Plantedcampaign"]
ERROR = f"Meta refused {NAME} {SURNAME} <{EMAIL}>, +1 {PHONE}, {STREET}, {CITY} after {CAMPAIGN}"

CONFIG = toml.dealership(
    toml.destination("meta_upload", "meta-file"),
    toml.destination("google_upload", "google-file"),
    toml.table("segments.everyone", description="Every customer.", rule=toml.EVERYONE_RULE),
    toml.table("segments.first_ten", rule={"fact": "customer_id", "op": "in", "value": [f"C{i:02d}" for i in range(1, 11)]}),
    toml.table("segments.tail", rule={"fact": "customer_id", "op": "in", "value": [f"C{i:02d}" for i in range(8, 16)]}),
    toml.audience("everyone", "everyone", ["meta_upload", "google_upload"]),
    toml.audience("first_ten", "first_ten", ["meta_upload"]),
    toml.audience("tail", "tail", ["google_upload"], exclude=["first_ten"]),
)


def _customers() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {"customer_id": "C01", "first_name": NAME, "last_name": SURNAME, "email": EMAIL, "phone_mobile": PHONE,
         "address_line1": STREET, "city": CITY, "state": "IL", "postal_code": "60601", "country": "US"},
    ]
    for i in range(2, 31):
        rows.append({"customer_id": f"C{i:02d}", "first_name": "Pat", "last_name": f"Doe{i}",
                     "email": f"pat{i}@example.com" if i % 3 else "", "phone_mobile": f"312555{i:04d}" if i % 2 else "",
                     "postal_code": "60601" if i % 4 else "", "country": "US"})
    return rows


@pytest.fixture
def dealership(tmp_path: Path) -> Path:
    write_extract(tmp_path / "dms", {
        "customers": _customers(),
        "events": [{"event_id": "E1", "customer_id": "C01", "occurred_at": "2026-11-01", "channel": "email",
                    "type": "open", "campaign": CAMPAIGN}],
        "repair_orders": [{"ro_id": "R1", "customer_id": "C01", "opened_on": "2026-10-01", "closed_on": "2026-10-01",
                           "pay_type": "customer", "total": "250"}],
        "ro_lines": [{"ro_id": "R1", "line_no": "1", "op_code": "ZZ99", "description": f"Custom work for {NAME} {SURNAME}",
                      "labor_amount": "250", "parts_amount": "0", "status": "performed"}],
    })
    (tmp_path / "c.toml").write_text(CONFIG)
    return tmp_path


def invoke(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, res.output + (res.stderr or "")
    return res.output


def sync(d: Path, *args: str) -> None:
    invoke("sync", "--config", str(d / "c.toml"), *args)


def report(d: Path, *args: str) -> tuple[Path, str]:
    out = invoke("report", "--config", str(d / "c.toml"), *args)
    path = Path(re.search(r"report written to (\S+) \(", out).group(1))  # type: ignore[union-attr]
    return path, path.read_text(encoding="utf-8")


def plant_failed_run(d: Path, *, started: dt.datetime | None = None, status: str = "failed") -> None:
    """A failed delivery in the history whose error and warning carry customer values."""
    con = duckdb.connect(str(d / "wh.duckdb"))
    try:
        con.execute(
            "INSERT INTO _runs (run_id, started_at, seconds, as_of, audience, destination, connector, mode, status,"
            " members, error, warnings, platform_counts, rejections)"
            " VALUES ('planted', ?, 1.5, DATE '2026-11-23', 'everyone', 'meta_upload', 'meta-file', 'snapshot', ?,"
            " 0, ?, [?], ?, ?)",
            [started or dt.datetime.now(), status, ERROR, f"rejected {EMAIL} for {NAME}",
             json.dumps({f"count for {NAME}": 3}), json.dumps({f"bad_{SURNAME}": 1})],
        )
    finally:
        con.close()


def test_planted_pii_appears_nowhere_in_the_report(dealership: Path) -> None:
    sync(dealership)
    sync(dealership)
    plant_failed_run(dealership)
    path, text = report(dealership)
    raw = path.read_bytes().decode("utf-8").lower()
    for planted in PLANTED:
        assert planted.lower() not in raw, f"{planted!r} leaked into the report"
    # not vacuous: the failed delivery and what could be kept of its error are there
    assert "Meta refused [redacted] [redacted] &lt;[email]&gt;, [number], 77 [redacted] [redacted], [redacted] after [redacted]" in text
    assert "status-failed" in text and "first_ten" in text and "everyone" in text
    # an op code's description, typed by a service advisor, is scrubbed too
    assert "Custom work for [redacted] [redacted]" in text and "$250 of $250 performed service revenue (100.0%)" in text


def test_the_scrubber_keeps_ordinary_words_and_audience_names(dealership: Path) -> None:
    sync(dealership)
    con = duckdb.connect(str(dealership / "wh.duckdb"), read_only=True)
    try:
        s = Scrubber(con)
        assert s.clean("43 members: meta-file audiences under 100 people are not served (first_ten)") == (
            "43 members: meta-file audiences under 100 people are not served (first_ten)")
        assert s.clean(f"{NAME.upper()} at {EMAIL.upper()} 312.555.0199") == "[redacted] at [email] [number]"
        assert s.clean(None) == ""
    finally:
        con.close()


def test_the_report_holds_what_the_history_says(dealership: Path) -> None:
    sync(dealership)
    path, text = report(dealership)
    assert path == dealership / "out" / "report.html"  # the default: the output directory
    con = duckdb.connect(str(dealership / "wh.duckdb"), read_only=True)
    try:
        runs = con.execute("SELECT audience, destination, members, segment_size, excluded FROM _runs").fetchall()
        overlaps = dict(((a, b), n) for a, b, n in con.execute(
            f"SELECT audience_a, audience_b, customers FROM {OVERLAPS_TABLE}").fetchall())
    finally:
        con.close()
    assert len(runs) == 4
    # overlaps: recorded for every pair of the run, equal to the sets the configuration defines
    assert overlaps == {
        ("everyone", "everyone"): 30, ("everyone", "first_ten"): 10, ("everyone", "tail"): 5,
        ("first_ten", "first_ten"): 10, ("first_ten", "tail"): 0, ("tail", "tail"): 5,
    }
    tail = [r for r in runs if r[0] == "tail"][0]
    assert tail[3:] == (8, 3)  # segment 8, 3 excluded by first_ten
    for section in ("overview", "audience-everyone", "audience-first_ten", "audience-tail", "overlaps", "data-quality", "history"):
        assert f'id="{section}"' in text
    assert text.count('data-table="history"') == 1
    # coverage: the identity index of each destination, counted per customer
    others = range(2, 31)
    expected = {
        "email": 1 + sum(1 for i in others if i % 3), "phone": 1 + sum(1 for i in others if i % 2),
        "meta address": 1,  # city, state and zip: only C01 has all three
        "google address": 1 + sum(1 for i in others if i % 4),  # the postal code
    }
    for dest in ("meta_upload", "google_upload"):
        for kind in ("email", "phone", "address"):
            cells = re.search(f'<tr data-label="{dest} · {kind}">(.*?)</tr>', text).group(1)  # type: ignore[union-attr]
            n = expected.get(kind) or expected[f"{dest.split('_')[0]} {kind}"]
            assert f'<td class="num">{n:,}</td><td class="num">{n / 30:.1%}</td>' in cells, (dest, kind, cells)
    # no script, no external reference of any kind
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text, re.IGNORECASE)


def test_options_since_audience_and_out(dealership: Path, tmp_path: Path) -> None:
    sync(dealership)
    plant_failed_run(dealership, started=dt.datetime(2025, 1, 15, 9, 30))
    out = tmp_path / "monthly" / "nov.html"
    path, text = report(dealership, "--since", "2026-01-01", "--audience", "tail", "--audience", "first_ten", "--out", str(out))
    assert path == out
    assert 'id="audience-tail"' in text and 'id="audience-first_ten"' in text
    assert 'id="audience-everyone"' not in text
    assert "2025-01-15" not in text  # the old failure is outside the period
    history = re.findall(r'<tr data-label="([^"]+)">', text.split('data-table="history"')[1].split("</table>")[0])
    assert sorted(h.split(" · ")[0] for h in history) == ["first_ten", "tail"]
    _, everything = report(dealership)
    assert "2025-01-15" in everything
    res = CliRunner().invoke(cli, ["report", "--config", str(dealership / "c.toml"), "--audience", "nope"])
    assert res.exit_code == 2 and "unknown audience 'nope'" in res.output
    res = CliRunner().invoke(cli, ["report", "--config", str(dealership / "c.toml"), "--since", "last week"])
    assert res.exit_code == 2 and "expected a date YYYY-MM-DD" in res.output


def test_failures_then_held_runs_come_first_and_new_columns_are_shown(dealership: Path) -> None:
    sync(dealership)
    con = duckdb.connect(str(dealership / "wh.duckdb"))
    try:  # a column added by later work (the change guards' reason) is read and shown
        con.execute("ALTER TABLE _runs ADD COLUMN held_reason VARCHAR")
    finally:
        con.close()
    plant_failed_run(dealership, started=dt.datetime(2026, 1, 2, 8, 0), status="held")
    plant_failed_run(dealership, started=dt.datetime(2026, 1, 1, 8, 0))
    con = duckdb.connect(str(dealership / "wh.duckdb"))
    try:
        con.execute(f"UPDATE _runs SET held_reason = 'customers.csv has 0 rows, last load had 30 ({NAME})' WHERE status = 'held'")
    finally:
        con.close()
    _, text = report(dealership)
    history = text.split('data-table="history"')[1].split("</table>")[0]
    statuses = re.findall(r'class="status status-(\w+)"', history)
    assert statuses[:2] == ["failed", "held"] and set(statuses[2:]) == {"ok"}
    assert "held reason" in history and "customers.csv has 0 rows, last load had 30 ([redacted])" in history


def test_a_warehouse_from_before_the_report_opens(dealership: Path) -> None:
    """A warehouse written before overlaps were recorded (no _audience_overlaps) and one with no
    sync at all both give a report; the next sync adds the overlaps."""
    path, text = report(dealership)  # nothing synced: an empty warehouse
    assert "No sync recorded yet" in text and "No overlaps recorded yet" in text
    sync(dealership)
    con = duckdb.connect(str(dealership / "wh.duckdb"))
    try:
        con.execute(f"DROP TABLE {OVERLAPS_TABLE}")
        runs_before = con.execute("SELECT count(*) FROM _runs").fetchone()
    finally:
        con.close()
    _, text = report(dealership)
    assert "No overlaps recorded yet" in text and 'data-table="history"' in text
    sync(dealership)
    con = duckdb.connect(str(dealership / "wh.duckdb"), read_only=True)
    try:
        assert con.execute(f"SELECT count(*) FROM {OVERLAPS_TABLE}").fetchone() == (6,)
        assert con.execute("SELECT count(*) FROM _runs").fetchone()[0] == runs_before[0] + 4  # type: ignore[index]
    finally:
        con.close()
    _, text = report(dealership)
    assert 'data-chart="overlaps"' in text


def test_a_dry_run_records_no_overlap(dealership: Path) -> None:
    sync(dealership, "--dry-run")
    con = duckdb.connect(str(dealership / "wh.duckdb"), read_only=True)
    try:
        have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert OVERLAPS_TABLE not in have or con.execute(f"SELECT count(*) FROM {OVERLAPS_TABLE}").fetchone() == (0,)
    finally:
        con.close()
