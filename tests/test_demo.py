"""The main job end to end: sample dealership -> sync from the demo connectors.toml -> files."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from dealersync.cli import cli

ROOT = Path(__file__).parents[1]
HEX = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("demo")
    shutil.copy(ROOT / "connectors.toml", d / "connectors.toml")
    runner = CliRunner()
    res = runner.invoke(cli, ["sample", "--customers", "3000", "--out", str(d / "sample/dms"), "--config", str(d / "connectors.toml")])
    assert res.exit_code == 0, res.output
    return d


def _runs(d: Path) -> list[tuple]:
    con = duckdb.connect(str(d / ".dealersync/warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT audience, destination, status, members, written, location FROM _runs").fetchall()
    finally:
        con.close()


def test_demo_sync_writes_a_file_per_audience_and_destination(demo: Path) -> None:
    res = CliRunner().invoke(cli, ["sync", "--config", str(demo / "connectors.toml")])
    assert res.exit_code == 0, res.output + res.stderr
    assert "Audiences as of 2026-11-23" in res.output
    runs = _runs(demo)
    config_pairs = {(a, d) for a in ("winback", "tire_offer", "loyalist_seed", "lost", "declined_brakes", "lease_end") for d in ("meta_upload", "google_upload")}
    assert {(a, d) for a, d, *_ in runs} == config_pairs
    for audience, dest, status, members, written, location in runs:
        assert status == "ok" and members > 0 and written == members
        path = Path(location)
        assert path == demo / "out" / f"{audience}.{dest}.csv"
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == members
        if dest == "meta_upload":
            assert list(rows[0]) == ["email", "phone", "fn", "ln", "ct", "st", "zip", "country"]
            hashed = list(rows[0])
        else:
            assert list(rows[0]) == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
            hashed = ["Email", "Phone", "First Name", "Last Name"]
            assert any(r["Country"] for r in rows) and any(r["Zip"] for r in rows)  # the checks below read some
            assert all(re.fullmatch(r"[A-Z]{2}", r["Country"]) for r in rows if r["Country"])
            assert all(re.fullmatch(r"\d{5}", r["Zip"]) for r in rows if r["Zip"] and r["Country"] == "US")
        cells = [r[k] for r in rows for k in hashed if r[k]]
        assert cells and all(HEX.match(c) for c in cells)
        # one row per member: no email hash appears twice
        emails = [r[hashed[0]] for r in rows if r[hashed[0]]]
        assert len(emails) == len(set(emails))
    assert not list((demo / "out").glob(".*tmp*"))  # atomic writes leave no temporaries


def _file_rows(out: Path) -> dict[str, tuple[str, list[str]]]:
    """Each file's header and sorted rows (the row order of an upload file means nothing)."""
    files = {}
    for p in out.glob("*.csv"):
        header, *rows = p.read_text().splitlines()
        files[p.name] = (header, sorted(rows))
    return files


def test_sync_is_repeatable(demo: Path) -> None:
    first = _file_rows(demo / "out")
    res = CliRunner().invoke(cli, ["sync", "--config", str(demo / "connectors.toml")])
    assert res.exit_code == 0
    assert _file_rows(demo / "out") == first


def test_dry_run_writes_no_file_and_no_run(demo: Path, tmp_path: Path) -> None:
    before = len(_runs(demo))
    res = CliRunner().invoke(
        cli, ["sync", "--config", str(demo / "connectors.toml"), "--dry-run", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    assert "dry run: nothing written" in res.output
    assert not (tmp_path / "o").exists()
    assert len(_runs(demo)) == before


def test_one_audience_and_as_of_override(demo: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        ["sync", "--config", str(demo / "connectors.toml"), "--audience", "winback",
         "--as-of", (dt.date(2026, 11, 23) + dt.timedelta(days=400)).isoformat(), "--out", str(tmp_path)],
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["winback.google_upload.csv", "winback.meta_upload.csv"]
    bad = CliRunner().invoke(cli, ["sync", "--config", str(demo / "connectors.toml"), "--audience", "nope"])
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "error: --audience: unknown audience 'nope' (defined: winback, tire_offer, loyalist_seed, lost, declined_brakes, lease_end)"
