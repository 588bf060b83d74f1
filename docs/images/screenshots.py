"""Make the report screenshots of the README and docs/report.md (run from the repository root):

    python docs/images/screenshots.py

A 20,000-customer sample dealership is synced eight times, once per weekly ``--as-of`` from
2026-10-05 to 2026-11-23. The runs happen within a minute, so each run's ``started_at`` is then
set to its ``as_of`` day at 06:00 (what a weekly scheduled sync would have recorded), and one
delivery is recorded as failed with the error a read-only output directory gives: the history a
dealer would have after two months. The report is opened in Debian's Chromium, as the browser
tests do, and the overview and the ``winback`` audience are captured.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from test_report_browser import open_page  # noqa: E402  (the browser tests' way of opening a page)

WEEKS = [dt.date(2026, 10, 5) + dt.timedelta(weeks=i) for i in range(7)] + [dt.date(2026, 11, 23)]


def run(*args: str, cwd: Path) -> None:
    subprocess.run(["dealersync", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        shutil.copy(ROOT / "connectors.toml", d / "connectors.toml")
        run("sample", "--customers", "20000", "--out", "sample/dms", cwd=d)
        for day in WEEKS:
            run("sync", "--as-of", day.isoformat(), cwd=d)
        con = duckdb.connect(str(d / ".dealersync/warehouse.duckdb"))
        try:
            con.execute("UPDATE _runs SET started_at = as_of + INTERVAL 6 HOUR + (started_at - date_trunc('minute', started_at))")
            con.execute("UPDATE _audience_overlaps SET recorded_at = as_of + INTERVAL 6 HOUR")
            con.execute(
                "UPDATE _runs SET status = 'failed', written = 0, error = 'cannot write out/winback.meta_upload.csv:"
                " the output directory is read-only' WHERE audience = 'winback' AND destination = 'meta_upload'"
                " AND as_of = DATE '2026-11-02'"
            )
        finally:
            con.close()
        run("report", "--out", "report.html", cwd=d)
        with open_page(d / "report.html", width=1280, height=1100) as (page, log):
            page.screenshot(path=str(ROOT / "docs/images/report-overview.png"))
            page.locator("#audience-winback").screenshot(path=str(ROOT / "docs/images/report-audience.png"))
            page.locator("#history").screenshot(path=str(ROOT / "docs/images/report-history.png"))
        assert log.other_requests == [] and log.console_errors == [], log


if __name__ == "__main__":
    main()
