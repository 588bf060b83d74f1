"""meta-file and google-file: the files the engine writes, cell by cell, for known inputs."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import pydantic
import pytest

from dealersync import ConfigError, ConnectorContext
from dealersync.testing import run_sync, write_extract
from dealersync_files import MetaFile


def sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


CONFIG = """
as_of = "2026-11-23"
[warehouse]
path = "wh.duckdb"
[sources.dms]
connector = "dms-csv"
path = "dms"
[destinations.meta]
connector = "meta-file"
[destinations.google]
connector = "google-file"
filename = "cm-{audience}.csv"
[segments.everyone]
rule = { fact = "customer_id", op = "is_null", value = false }
[audiences.all]
segment = "everyone"
destinations = ["meta", "google"]
"""


CUSTOMERS = [
    {"customer_id": "C1", "first_name": "José", "last_name": "O'Brien", "email": "  Jo.Se+Tires@GMail.com ",
     "phone_mobile": "(800) 555-0100", "city": "San Antonio", "state": "Texas",
     "postal_code": "78205-1234", "country": "US"},
    # the same person under a second customer id, email differently written
    {"customer_id": "C2", "first_name": "Jose", "last_name": "OBrien", "email": "jo.se+tires@gmail.com"},
    {"customer_id": "C3", "first_name": "Ann", "email": "not-an-email", "phone_mobile": "555.201.3344"},
    {"customer_id": "C4", "first_name": "Nobody", "email": "", "phone_mobile": "n/a"},
    {"customer_id": "C5", "email": "opted@out.com", "do_not_market": True},
]


@pytest.fixture
def dealership(tmp_path: Path) -> Path:
    write_extract(tmp_path / "dms", {"customers": CUSTOMERS})
    (tmp_path / "connectors.toml").write_text(CONFIG)
    return tmp_path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_meta_file_cells(dealership: Path) -> None:
    results = {r.destination: r for r in run_sync(dealership / "connectors.toml")}
    meta = results["meta"]
    assert (meta.members, meta.unmatchable, meta.no_consent) == (2, 1, 1)
    assert meta.invalid["email"] == 1  # "not-an-email" blanked, never written raw
    rows = _rows(dealership / "out" / "all.meta.csv")
    assert len(rows) == meta.written == 2
    jose = next(r for r in rows if r["email"] == sha("jo.se+tires@gmail.com"))
    assert jose == {
        "email": sha("jo.se+tires@gmail.com"),  # Meta: trim + lowercase only
        "phone": sha("18005550100"),
        "fn": sha("josé"),  # Meta's docs keep letters outside a-z (the SDK helper would drop é)
        "ln": sha("obrien"),
        "ct": sha("sanantonio"),
        "st": sha("tx"),
        "zip": sha("78205"),
        "country": sha("us"),
    }
    ann = next(r for r in rows if r is not jose)
    assert ann["email"] == "" and ann["phone"] == sha("15552013344")
    text = (dealership / "out" / "all.meta.csv").read_text()
    assert "not-an-email" not in text and "gmail" not in text.lower()


def test_google_file_cells(dealership: Path) -> None:
    run_sync(dealership / "connectors.toml")
    rows = _rows(dealership / "out" / "cm-all.csv")
    assert list(rows[0]) == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
    jose = next(r for r in rows if r["Email"] == sha("jose@gmail.com"))  # gmail: dots and +tag removed
    assert jose == {
        "Email": sha("jose@gmail.com"),
        "Phone": sha("+18005550100"),
        "First Name": sha("josé"),
        "Last Name": sha("obrien"),  # user_data.proto AddressInfo: no punctuation
        "Country": "US",
        "Zip": "78205",
    }


def test_dry_run_writes_nothing(dealership: Path) -> None:
    results = run_sync(dealership / "connectors.toml", dry_run=True)
    assert {r.status for r in results} == {"planned"}
    assert results[0].members == 2
    assert not (dealership / "out").exists()


def test_rewrite_replaces_file_atomically(dealership: Path) -> None:
    out = dealership / "out"
    out.mkdir()
    (out / "all.meta.csv").write_text("stale\n")
    run_sync(dealership / "connectors.toml")
    assert (out / "all.meta.csv").read_text().startswith("email,phone,")
    assert sorted(p.name for p in out.iterdir()) == ["all.meta.csv", "cm-all.csv"]


CHANGES_CONFIG = CONFIG.replace('connector = "meta-file"\n', 'connector = "meta-file"\nsnapshot = false\nchanges = true\n')


def _change_files(out: Path, kind: str) -> list[Path]:
    return sorted(out.glob(f"all.meta.*.{kind}.csv"))


def test_change_files_hold_exactly_what_changed(dealership: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (dealership / "connectors.toml").write_text(CHANGES_CONFIG)
    out = dealership / "out"
    stamps = iter(f"2026112{i}T000000Z" for i in range(1, 9))
    import dealersync_files.destinations as d

    monkeypatch.setattr(d, "utc_stamp", lambda: next(stamps))
    first = {r.destination: r for r in run_sync(dealership / "connectors.toml")}["meta"]
    assert (first.written, first.added, first.removed) == (0, 2, 0)  # first run: everyone is an add
    assert not (out / "all.meta.csv").exists()
    [adds] = _change_files(out, "adds")
    assert {r["email"] for r in _rows(adds)} == {sha("jo.se+tires@gmail.com"), ""}

    # nothing changed: no file
    again = {r.destination: r for r in run_sync(dealership / "connectors.toml")}["meta"]
    assert (again.added, again.removed) == (0, 0) and len(_change_files(out, "adds")) == 1

    # C3 gets a valid email (identifiers changed: old row removed, new row added), C6 arrives
    ann = {**CUSTOMERS[2], "email": "ann@x.com"}
    write_extract(dealership / "dms", {"customers": [*CUSTOMERS[:2], ann, *CUSTOMERS[3:], {"customer_id": "C6", "email": "new@x.com"}]})
    third = {r.destination: r for r in run_sync(dealership / "connectors.toml")}["meta"]
    assert (third.added, third.removed, third.members) == (2, 1, 3)
    adds, removes = _change_files(out, "adds")[-1], _change_files(out, "removes")[-1]
    assert {r["email"] for r in _rows(adds)} == {sha("ann@x.com"), sha("new@x.com")}
    assert [r["email"] for r in _rows(removes)] == [""]  # Ann's old row: phone only
    assert [r["phone"] for r in _rows(removes)] == [sha("15552013344")]
    # the baseline took in exactly the changes; the kept members are this run's members
    import duckdb

    con = duckdb.connect(str(dealership / "wh.duckdb"), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        kept = sorted(t for t in tables if t.startswith(("_members_all_meta_", "_memberstate_all_meta_")))
        assert len(kept) == 2
        assert con.execute(f'SELECT count(*) FROM "{kept[0]}"').fetchone() == (3,)
        delivered = [t for t in tables if t.startswith("_delivered_all_meta_")]
        assert len(delivered) == 1
        assert con.execute(f'SELECT count(*) FROM "{delivered[0]}"').fetchone() == (3,)
    finally:
        con.close()


def test_failed_write_is_not_the_baseline(dealership: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose write failed is not compared against: the next run repeats its changes."""
    (dealership / "connectors.toml").write_text(CHANGES_CONFIG)
    run_sync(dealership / "connectors.toml")
    import dealersync_files.destinations as d

    def boom(*_a: object, **_k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(d.AudienceSnapshot, "write_changes_csv", boom)
    failed = {r.destination: r for r in run_sync(dealership / "connectors.toml")}["meta"]
    assert failed.status == "failed" and failed.error == "OSError: disk full"  # contained: this pair only
    monkeypatch.undo()
    # the failed run's members were never confirmed: still compared with the first run's
    res = {r.destination: r for r in run_sync(dealership / "connectors.toml")}["meta"]
    assert (res.added, res.removed) == (0, 0)
    res = {r.destination: r for r in run_sync(dealership / "connectors.toml", full_resync=True)}["meta"]
    assert (res.added, res.removed) == (2, 0)  # a full resync writes everyone again


def test_a_removed_pair_loses_its_baseline(dealership: Path) -> None:
    """The next sync drops the last-write table of a destination no longer configured; if it comes
    back, its change files start again with every member added."""
    import duckdb

    def delivered() -> set[str]:
        con = duckdb.connect(str(dealership / "wh.duckdb"), read_only=True)
        try:
            return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
                    if r[0].startswith("_delivered_")}
        finally:
            con.close()

    (dealership / "connectors.toml").write_text(CHANGES_CONFIG)
    run_sync(dealership / "connectors.toml")
    [table] = delivered()
    assert table.startswith("_delivered_all_meta_")
    (dealership / "connectors.toml").write_text(CHANGES_CONFIG.replace('destinations = ["meta", "google"]', 'destinations = ["google"]'))
    run_sync(dealership / "connectors.toml")
    assert delivered() == set()
    (dealership / "connectors.toml").write_text(CHANGES_CONFIG)
    res = {r.destination: r for r in run_sync(dealership / "connectors.toml")}["meta"]
    assert (res.added, res.removed) == (2, 0) and delivered() == {table}


# ------------------------------------------------------------------ checks before any data moves


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"filename": "{audiance}.csv"}, "filename"),
        ({"filename": "{audience.upper}.csv"}, "filename"),
        ({"filename": "{audience:d}.csv"}, "filename"),
        ({"filename": "/tmp/{audience}.csv"}, "filename"),
        ({"filename": "../{audience}.csv"}, "filename"),
        ({"filename": "{"}, "filename"),
        ({"changes_filename": "{audience}.{stamp}.csv"}, "changes_filename"),
        ({"snapshot": False}, "changes"),
    ],
)
def test_settings_that_cannot_write_are_refused_by_the_config(options: dict, key: str) -> None:
    with pytest.raises(pydantic.ValidationError) as e:
        MetaFile.Config(**options)
    assert [err["loc"] for err in e.value.errors()] == [(key,)]


def test_a_sub_folder_name_and_changes_only_are_fine() -> None:
    MetaFile.Config(filename="meta/{audience}.{destination}.csv")
    MetaFile.Config(snapshot=False, changes=True)


def _dest(tmp_path: Path, **options: object) -> MetaFile:
    ctx = ConnectorContext("meta", tmp_path, dt.date(2026, 11, 23), tmp_path / "out")
    return MetaFile(MetaFile.Config(**options), ctx)


def test_check_config_refuses_one_file_for_two_audiences(tmp_path: Path) -> None:
    _dest(tmp_path).check_config(("a", "b"))  # the default name holds {audience}
    _dest(tmp_path, filename="upload.csv").check_config(("a",))
    with pytest.raises(ConfigError) as e:
        _dest(tmp_path, filename="upload.csv").check_config(("a", "b"))
    assert e.value.message == (
        "destinations.meta.filename: found 'upload.csv', expected a name with {audience}: audiences a and b"
        " would write the same file upload.csv"
    )
    with pytest.raises(ConfigError, match=r"^destinations\.meta\.changes_filename: "):
        _dest(tmp_path, snapshot=False, changes=True, changes_filename="{stamp}.{kind}.csv").check_config(("a", "b"))


def test_check_config_refuses_a_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    with pytest.raises(ConfigError, match=r"^destinations\.meta\.dir: found .*taken, a file; expected a directory"):
        _dest(tmp_path, dir="taken").check_config(("a",))
