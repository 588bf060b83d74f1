"""Dates per file: the options' formats, ISO 8601, or a format detected from the values."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from dealersync import ExtractFile
from dealersync.loading import load_source

from tests.support.configs import dealership, destination, everyone_to, table
from tests.support.queries import quarantine

D = dt.date
T = dt.datetime


def _vehicles(tmp_path: Path, dates: list[str]) -> Path:
    path = tmp_path / "vehicles.csv"
    rows = [f"V{i},{d}" for i, d in enumerate(dates)]
    path.write_text("\n".join(["vehicle_id,purchased_on", *rows]) + "\n")
    return path


def _load(wh, path: Path, table: str = "vehicles", country: str = "US", **options):
    load_source(
        wh, "s", [ExtractFile(path=path, table=table, **options)],
        force=True, default_country=country,
    )


def _dates(wh) -> list:
    return [r[0] for r in wh.con.execute("SELECT purchased_on FROM vehicles ORDER BY _line").fetchall()]


def test_us_dates_are_detected_and_the_option_named_in_the_log(wh, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="dealersync.loading")
    _load(wh, _vehicles(tmp_path, ["3/15/2020", "12/31/2021", "01/02/2022", ""]))
    assert _dates(wh) == [D(2020, 3, 15), D(2021, 12, 31), D(2022, 1, 2), None]
    assert "vehicles.csv: date values read as %m/%d/%Y (detected); set date_format to pin it" in caplog.text
    assert not quarantine(wh, order=("line",))


def test_day_first_dates_are_detected_whatever_the_country(wh, tmp_path):
    _load(wh, _vehicles(tmp_path, ["15/03/2020", "31/12/2021", "01/02/2022"]), country="US")
    assert _dates(wh) == [D(2020, 3, 15), D(2021, 12, 31), D(2022, 2, 1)]


def test_ambiguous_dates_read_month_first_in_the_us(wh, tmp_path):
    _load(wh, _vehicles(tmp_path, ["01/02/2022", "03/04/2021"]), country="US")
    assert _dates(wh) == [D(2022, 1, 2), D(2021, 3, 4)]


def test_ambiguous_dates_elsewhere_are_quarantined_naming_the_option(wh, tmp_path, caplog):
    _load(wh, _vehicles(tmp_path, ["01/02/2022", "03/04/2021", "2020-05-06"]), country="GB")
    assert _dates(wh) == [D(2020, 5, 6)]
    reason = (
        "not a date (expected YYYY-MM-DD; they read as %m/%d/%Y or %d/%m/%Y: set date_format)"
    )
    assert quarantine(wh, order=("line",)) == [(2, "purchased_on", reason), (3, "purchased_on", reason)]
    assert "set date_format for this file" in caplog.text
    assert "01/02/2022" not in caplog.text


def test_iso_files_are_not_detected(wh, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="dealersync.loading")
    _load(wh, _vehicles(tmp_path, ["2020-03-15", "2021-12-31"]))
    assert _dates(wh) == [D(2020, 3, 15), D(2021, 12, 31)]
    assert "detected" not in caplog.text


@pytest.mark.parametrize(
    "written,expected",
    [
        (["20240315", "20231201"], [D(2024, 3, 15), D(2023, 12, 1)]),
        (["15.03.2024", "01.12.2023"], [D(2024, 3, 15), D(2023, 12, 1)]),
        (["3/15/24", "12/1/69"], [D(2024, 3, 15), D(1969, 12, 1)]),
        (["03-15-2024", "12-01-2023"], [D(2024, 3, 15), D(2023, 12, 1)]),
        (["15-MAR-2024", "01-Dec-2023"], [D(2024, 3, 15), D(2023, 12, 1)]),
        (["3/15/2024 12:00:00 AM", "12/1/2023 00:00"], [D(2024, 3, 15), D(2023, 12, 1)]),
    ],
)
def test_other_common_formats_are_detected(wh, tmp_path, written, expected):
    _load(wh, _vehicles(tmp_path, written))
    assert _dates(wh) == expected
    assert not quarantine(wh, order=("line",))


def test_a_typo_does_not_stop_the_detection(wh, tmp_path):
    dates = [f"{1 + i % 12}/{1 + i % 28}/2021" for i in range(300)]
    dates[150] = "13/45/2021"
    _load(wh, _vehicles(tmp_path, dates))
    assert len(_dates(wh)) == 299
    assert quarantine(wh, order=("line",)) == [
        (152, "purchased_on",
         "not a date (expected %m/%d/%Y, detected; set date_format for another format)")
    ]


def test_no_known_format_is_quarantined_naming_the_option(wh, tmp_path):
    _load(wh, _vehicles(tmp_path, ["March 15th", "2021-12-31"]))
    assert _dates(wh) == [D(2021, 12, 31)]
    assert quarantine(wh, order=("line",)) == [
        (2, "purchased_on", "not a date (expected YYYY-MM-DD; other formats: set date_format)")
    ]


def test_a_given_date_format_is_used_and_iso_still_read(wh, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="dealersync.loading")
    _load(wh, _vehicles(tmp_path, ["01/02/2022", "2020-05-06", "13/01/2022"]), date_format="%d/%m/%Y")
    assert _dates(wh) == [D(2022, 2, 1), D(2020, 5, 6), D(2022, 1, 13)]
    assert "detected" not in caplog.text


def test_timestamps_are_detected_with_or_without_a_time(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,created_at,updated_at\n"
        "C1,3/15/2024 2:05:00 PM,3/16/2024 14:05\n"
        "C2,3/17/2024,12/31/2024 23:59:59\n"
        "C3,2024-01-02 03:04:05,\n"
    )
    _load(wh, path, table="customers")
    assert wh.con.execute(
        "SELECT created_at, updated_at FROM customers ORDER BY _line"
    ).fetchall() == [
        (T(2024, 3, 15, 14, 5), T(2024, 3, 16, 14, 5)),
        (T(2024, 3, 17), T(2024, 12, 31, 23, 59, 59)),
        (T(2024, 1, 2, 3, 4, 5), None),
    ]


def test_date_format_per_table_through_dms_csv(wh, tmp_path):
    """[sources.x.tables.deals] date_format applies to deals only; vehicles are detected."""
    from dealersync import ConnectorContext
    from dealersync_dms_csv import DmsCsvSource

    d = tmp_path / "extract"
    d.mkdir()
    (d / "customers.csv").write_text("customer_id\nC1\n")
    (d / "deals.csv").write_text("deal_id,deal_date\nD1,01/02/2022\n")
    _vehicles(d, ["01/02/2022"])
    ctx = ConnectorContext("x", tmp_path, dt.date(2026, 1, 1), tmp_path / "out")
    src = DmsCsvSource(
        DmsCsvSource.Config(path="extract", tables={"deals": {"date_format": "%d/%m/%Y"}}), ctx
    )
    batches = [b for t in src.streams() for b in src.read(t, None)]
    load_source(wh, "x", batches, default_country="US")
    assert wh.con.execute("SELECT deal_date FROM deals").fetchall() == [(D(2022, 2, 1),)]
    assert _dates(wh) == [D(2022, 1, 2)]


@pytest.mark.parametrize("country,expected", [("US", D(2022, 1, 2)), ("GB", None)])
def test_sync_reads_ambiguous_dates_by_the_dealers_country(tmp_path, country, expected):
    """`[identity] default_country` reaches the loader: 01/02/2022 is January 2 for a US dealer
    and quarantined (naming date_format) for a British one."""
    import duckdb
    from click.testing import CliRunner
    from dealersync.cli import cli as main

    d = tmp_path / "dms"
    d.mkdir()
    (d / "customers.csv").write_text("customer_id,email\nC1,a@x.com\n")
    _vehicles(d, ["01/02/2022", "03/04/2021"])
    (tmp_path / "c.toml").write_text(
        dealership(table("identity", default_country=country), destination("meta", "meta-file"), everyone_to("meta"))
    )
    result = CliRunner().invoke(main, ["sync", "--config", str(tmp_path / "c.toml")])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        got = con.execute("SELECT min(purchased_on) FROM vehicles WHERE vehicle_id = 'V0'").fetchall()
        reasons = {r[0] for r in con.execute("SELECT reason FROM _quarantine").fetchall()}
    if expected:
        assert got == [(expected,)] and not reasons
    else:
        assert got == [(None,)]
        assert reasons == {
            "not a date (expected YYYY-MM-DD; they read as %m/%d/%Y or %d/%m/%Y: set date_format)"
        }


@pytest.mark.slow
def test_a_large_file_with_detected_dates_money_and_letters_keeps_every_line(
    wh, tmp_path, caplog, monkeypatch
):
    """~20 MB of repair orders as a report writer writes them (US dates, $ totals, C/W/I pay
    types) read by the parallel reader with 4 MiB buffers: every row keeps its physical line
    and its values; the rows the detected format cannot read are quarantined at their line."""
    import random

    from dealersync.loading import layout as layout_module

    monkeypatch.setattr(layout_module, "PARALLEL_BUFFER", 4 * 1024 * 1024)
    caplog.set_level(logging.DEBUG, logger="dealersync.loading")
    rng = random.Random(7)
    pays = {"C": "customer", "W": "warranty", "I": "internal", "CP": "customer"}
    lines = ["ro_id,customer_id,opened_on,pay_type,total"]
    expected: dict[str, tuple] = {}
    bad: list[int] = []
    for i in range(400_000):
        at = len(lines) + 1
        m, d = 1 + i % 12, 1 + (i * 7) % 28
        if rng.random() < 0.001:
            lines.append(f"R{i},C{i},{d + 40}/{m}/2023,C,1")
            bad.append(at)
            continue
        letter = rng.choice(list(pays))
        cents = rng.randrange(100, 900_000)
        lines.append(f'R{i},C{i}{"x" * rng.randrange(5, 25)},{m}/{d}/2023,{letter},"${cents // 100:,}.{cents % 100:02d}"')
        expected[f"R{i}"] = (at, D(2023, m, d), pays[letter], cents / 100)
    path = tmp_path / "repair_orders.csv"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 16 * 1024 * 1024
    _load(wh, path, table="repair_orders")
    assert "single-threaded" not in caplog.text
    assert "read as %m/%d/%Y (detected)" in caplog.text
    got = {
        r[0]: (r[1], r[2], r[3], r[4])
        for r in wh.con.execute(
            "SELECT ro_id, _line, opened_on, pay_type, total FROM repair_orders"
        ).fetchall()
    }
    assert got == expected
    assert [r[0] for r in quarantine(wh, order=("line",))] == bad


def test_changing_the_country_reloads_an_unchanged_file(wh, tmp_path):
    path = _vehicles(tmp_path, ["01/02/2022"])
    load_source(wh, "s", [ExtractFile(path=path, table="vehicles")], default_country="GB")
    assert _dates(wh) == []
    report = load_source(wh, "s", [ExtractFile(path=path, table="vehicles")], default_country="US")
    assert not report.files[0].unchanged
    assert _dates(wh) == [D(2022, 1, 2)]
