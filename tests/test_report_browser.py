"""The report opened in a real headless Chromium (Debian's ``chromium`` package, which .ci/run
installs with apt-get; Playwright's Python client drives it, and no browser is downloaded):
no console error, no request of any kind, one chart mark per data-table row, and tables equal
to the run history.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from playwright.sync_api import Page, Route, sync_playwright

from dealersync.cli import cli

ROOT = Path(__file__).parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Flags known to work headless as root in a container; the profile is a fresh directory.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = pytest.mark.slow


@dataclass
class PageLog:
    url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    @property
    def other_requests(self) -> list[str]:
        """Every request but the page's own load."""
        return [u for u in self.requests if u != self.url]


@contextmanager
def open_page(path: Path, *, width: int = 1280, height: int = 900) -> Iterator[tuple[Page, PageLog]]:
    """``path`` opened in Debian's Chromium with a fresh profile. Every request is logged; any
    request but the page's own file is aborted, so nothing leaves the machine even when a page
    asks for it."""
    log = PageLog(path.resolve().as_uri())

    def route(r: Route) -> None:
        r.continue_() if r.request.url == log.url else r.abort()

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": width, "height": height},
        )
        try:
            context.route("**/*", route)
            page = context.new_page()
            page.on("request", lambda r: log.requests.append(r.url))
            page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: log.console_errors.append(str(e)))
            page.goto(log.url, wait_until="load")
            page.wait_for_timeout(200)  # let late requests (an image, a font) show up
            yield page, log
        finally:
            context.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample dealership synced twice, with one failed delivery in its history."""
    d = tmp_path_factory.mktemp("report_demo")
    shutil.copy(ROOT / "connectors.toml", d / "connectors.toml")
    cfg = str(d / "connectors.toml")
    runner = CliRunner()
    for args in (["sample", "--customers", "1500", "--out", str(d / "sample/dms"), "--config", cfg],
                 ["sync", "--config", cfg], ["sync", "--config", cfg]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 0, res.output
    con = duckdb.connect(str(d / ".dealersync/warehouse.duckdb"))
    try:  # a failed delivery: a copy of one, failed, older
        con.execute(
            "INSERT INTO _runs SELECT * REPLACE ('failed' AS status, 'the output directory is read-only' AS error,"
            " started_at - INTERVAL 1 DAY AS started_at, 0 AS written) FROM _runs"
            " WHERE audience = 'winback' AND destination = 'meta_upload' LIMIT 1"
        )
    finally:
        con.close()
    res = runner.invoke(cli, ["report", "--config", cfg])
    assert res.exit_code == 0, res.output
    return d


def report_path(d: Path) -> Path:
    return d / "out" / "report.html"


def history(d: Path) -> list[dict]:
    res = CliRunner().invoke(cli, ["runs", "--config", str(d / "connectors.toml"), "--json", "--limit", "100000"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_the_page_makes_no_request_and_logs_no_error(demo: Path) -> None:
    with open_page(report_path(demo)) as (page, log):
        assert page.title() == "Audience report"
        assert page.locator("figure.chart svg").count() >= 10
    assert log.requests == [log.url]
    assert log.other_requests == []
    assert log.console_errors == []


def test_negative_control_a_page_with_an_external_image_fails_the_check(tmp_path: Path) -> None:
    page_file = tmp_path / "leaky.html"
    page_file.write_text('<!DOCTYPE html><html><head><title>x</title></head><body>'
                         '<img src="http://example.invalid/pixel.png" alt=""></body></html>')
    with open_page(page_file) as (_, log):
        pass
    assert log.other_requests == ["http://example.invalid/pixel.png"]
    assert log.console_errors  # the aborted load is reported too


CHART_ROWS = """() => [...document.querySelectorAll('figure.chart')].map(f => ({
    chart: f.dataset.chart,
    marks: [...f.querySelectorAll('svg .role-mark > [role="graphics-symbol"]')].map(m => m.getAttribute('aria-label')),
    rows: [...f.querySelectorAll('table tbody tr')].map(r => r.dataset.label),
}))"""

TABLE = """(name) => [...document.querySelectorAll(`table[data-table="${name}"] tbody tr`)].map(
    r => [...r.cells].map(c => c.innerText.trim()))"""

TABLES_LIKE = """(prefix) => [...document.querySelectorAll(`table[data-table^="${prefix}"] tbody tr`)].map(
    r => [...r.cells].map(c => c.innerText.trim()))"""


def test_each_chart_has_a_mark_per_row_of_its_table(demo: Path) -> None:
    with open_page(report_path(demo)) as (page, _):
        charts = page.evaluate(CHART_ROWS)
    names = {c["chart"] for c in charts}
    assert {"reach", "overlaps", "coverage", "deliveries", "size-winback", "drops-winback"} <= names
    for c in charts:
        assert c["rows"], c["chart"]
        assert len(c["marks"]) == len(c["rows"]), c["chart"]
        assert Counter(c["marks"]) == Counter(c["rows"]), c["chart"]


def _minute(iso: str) -> str:
    return iso.replace("T", " ")[:16]


def test_the_tables_equal_the_run_history(demo: Path) -> None:
    runs = history(demo)
    with open_page(report_path(demo)) as (page, _):
        shown = page.evaluate(TABLE, "history")
        sizes = page.evaluate(TABLES_LIKE, "size-")
        per_day = page.evaluate(TABLE, "deliveries")
    # the history table: every delivery, failures first, then newest first
    expected = sorted(runs, key=lambda r: r["status"] != "failed")
    assert [(s[0], s[1], s[2], s[3], s[4]) for s in shown] == [
        (_minute(r["started_at"]), r["audience"], r["destination"], r["status"], f"{r['members']:,}") for r in expected
    ]
    assert shown[0][3] == "failed" and "read-only" in shown[0][-1]
    # the size-over-time tables of all audiences together: the same deliveries
    assert Counter((s[0], s[1], s[4], s[5]) for s in sizes) == Counter(
        (_minute(r["started_at"]), r["destination"], f"{r['members']:,}", r["status"]) for r in runs
    )
    # deliveries per day and status
    assert Counter({(d[0], d[1]): int(d[2]) for d in per_day}) == Counter(
        (r["started_at"][:10], r["status"]) for r in runs
    )
