"""Report-writer dirt: title lines above the header and total rows at the end of the file."""

from __future__ import annotations

import pytest
from dealersync import ConfigError, ExtractFile
from dealersync.loading import load_source
from dealersync.store import Warehouse

from tests.support.queries import quarantine


def lines_of(wh: Warehouse, table: str = "customers", key: str = "customer_id") -> list:
    return wh.con.execute(f"SELECT {key}, _line FROM {table} ORDER BY _line").fetchall()


def load(wh: Warehouse, path, **options):
    (report,) = load_source(
        wh, "dms", [ExtractFile(path=path, table=options.pop("table", "customers"), **options)]
    ).files
    return report


REPORT = [
    "Customer List - Store 1,,",  # 1 title
    '"Run 12/05/2026 by JSMITH, page 1"',  # 2 title
    "",  # 3 blank
    "customer_id,first_name,birth_year",  # 4 header
    "C1,Ann,1980",  # 5
    "C2,Bob,19x0",  # 6 not a whole number
    'C3,"Cy',  # 7 a value over two lines
    'Two",1990',  # 8
    ",,",  # 9 an empty row before the totals
    "Grand Total,,3",  # 10 the label in the key column
    "Total records: 3",  # 11 fewer columns than the header
    "",  # 12 blank
]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_title_lines_found_by_the_header_and_total_rows_skipped(wh, tmp_path, newline):
    path = tmp_path / "customers.csv"
    path.write_text(newline.join(REPORT) + newline, newline="")
    report = load(wh, path)
    assert lines_of(wh) == [("C1", 5), ("C3", 7)]
    assert quarantine(wh) == [(6, "birth_year", "not a whole number")]
    assert (report.title_rows, report.total_rows, report.loaded) == (3, 3, 2)
    assert report.rows_quarantined == 1 and not report.approximate_lines


def test_skip_rows_says_how_many_title_lines(wh, tmp_path):
    path = tmp_path / "customers.csv"
    # The second title line names the key column: only skip_rows tells it from the header.
    path.write_text(
        "CUSTOMERS\ncustomer_id,first_name (as of 12/05)\ncustomer_id,first_name\nC1,Ann\n"
    )
    report = load(wh, path, skip_rows=2)
    assert lines_of(wh) == [("C1", 4)]
    assert report.title_rows == 2
    with pytest.raises(ConfigError, match=r"skip_rows = 1: line 2 is inside a quoted value"):
        path.write_text('"multi\nline title"\ncustomer_id\nC1\n')
        load(wh, path, skip_rows=1)
    path.write_text("TITLE\n")
    report = load(wh, path, skip_rows=3)
    assert report.error == (
        "has no header row: the file ends within its 3 title lines (skip_rows);"
        " customers keeps the 1 rows of its previous load"
    )


def test_the_header_is_found_by_the_mapped_key_name(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("Customer Master;;\nCUSTNO;Name\n1;Ann\n2;Bob\n")
    report = load(wh, path, delimiter=";", columns={"customer_id": "CustNo"})
    assert lines_of(wh) == [("1", 3), ("2", 4)]
    assert report.title_rows == 1


def test_a_header_past_the_search_lines_is_the_config_error_it_was(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("title\n" * 25 + "customer_id\nC1\n")
    with pytest.raises(ConfigError, match="the header has no column 'customer_id'"):
        load(wh, path)


def test_total_rows_need_an_empty_key_or_the_label_in_it(wh, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(
        "deal_id,customer_id,sale_price,stock_number\n"  # 1
        "D1,C1,100,TOTAL CARE\n"  # 2 a total word in a data row: kept
        "D2,C2,200,S2\n"  # 3
        "D3,C3,300,Total\n"  # 4 the key is set: data, kept
        ",,600,TOTALS\n"  # 5 key empty: a total row
        ",,,\n"  # 6 empty
        "3 records,,,\n"  # 7 the label in the key column
    )
    report = load(wh, path, table="deals")
    assert lines_of(wh, "deals", "deal_id") == [("D1", 2), ("D2", 3), ("D3", 4)]
    assert quarantine(wh) == []
    assert report.total_rows == 3


def test_rows_without_a_total_word_at_the_end_are_quarantined_as_before(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,first_name\nC1,Ann\n,\nC2\nC3,Cy,extra\n")
    report = load(wh, path)
    assert lines_of(wh) == [("C1", 2)]
    assert quarantine(wh) == [
        (3, "customer_id", "missing key customer_id"),
        (4, None, "expected 2 columns, found 1"),
        (5, None, "expected 2 columns, found 3"),
    ]
    assert report.total_rows == 0


def test_a_total_row_in_the_middle_is_data(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,first_name\nC1,Ann\nTotal,3\nC2,Bob\n")
    report = load(wh, path)
    assert lines_of(wh) == [("C1", 2), ("Total", 3), ("C2", 4)]
    assert report.total_rows == 0


def test_title_and_total_rows_in_a_windows_1252_report(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(
        "Liste des clients – Garage Dupré\r\n"  # 1
        "customer_id,first_name\r\n"  # 2
        "C1,Renée\r\n"  # 3
        "C2,Zoë\r\n"  # 4
        "TOTAL,2\r\n".encode("cp1252")  # 5
    )
    report = load(wh, path)
    assert wh.con.execute(
        "SELECT customer_id, first_name, _line FROM customers ORDER BY _line"
    ).fetchall() == [("C1", "Renée", 3), ("C2", "Zoë", 4)]
    assert (report.encoding, report.title_rows, report.total_rows) == ("Windows-1252", 1, 1)
    assert report.warnings[0].startswith("not valid UTF-8 (first bad byte on line 1)")


def test_title_rows_with_lone_cr_line_ends(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(b"REPORT\r\rcustomer_id,birth_year\rC1,1\rC2,x\rC3,3\rTotal: 3\r")
    report = load(wh, path)
    assert lines_of(wh) == [("C1", 4), ("C3", 6)]
    assert quarantine(wh) == [(5, "birth_year", "not a whole number")]
    assert (report.title_rows, report.total_rows) == (2, 1)


@pytest.mark.slow
def test_title_and_total_rows_with_the_parallel_reader(wh, tmp_path, monkeypatch, caplog):
    """Many chunks of the parallel reader after two title lines: every row keeps its line."""
    import logging

    from dealersync.loading import layout as layout_module

    monkeypatch.setattr(layout_module, "PARALLEL_BUFFER", 1024 * 1024)
    caplog.set_level(logging.DEBUG, logger="dealersync.loading")
    rows = ["Customer report", "", "customer_id,first_name,birth_year"]
    rows += [f"K{i},{'x' * 50},{1900 + i % 100}" for i in range(200_000)]
    rows[150_000] = "K149997,bad,19x0"  # line 150,001
    rows += [",,", "Grand total,,199999"]
    path = tmp_path / "customers.csv"
    path.write_text("\r\n".join(rows) + "\r\n")
    report = load(wh, path)
    assert "single-threaded" not in caplog.text
    assert (report.title_rows, report.total_rows, report.loaded) == (2, 2, 199_999)
    assert wh.con.execute(
        "SELECT count(*) FROM customers WHERE _line <> CAST(substr(customer_id, 2) AS INT) + 4"
    ).fetchall() == [(0,)]
    assert quarantine(wh) == [(150_001, "birth_year", "not a whole number")]
