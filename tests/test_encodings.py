"""Encodings and line ends of extract files, and a file that cannot be read as an outcome."""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from dealersync import ExtractFile
from dealersync.cli import cli as main
from dealersync.loading import load_source
from dealersync.loading.header import HEAD_BYTES
from dealersync.store import Warehouse
from dealersync.testing import write_extract

from tests.support.configs import dealership, destination, everyone_to
from tests.support.queries import quarantine


def names(wh: Warehouse) -> list[tuple]:
    return wh.con.execute(
        "SELECT customer_id, first_name, last_name, _line FROM customers ORDER BY _line"
    ).fetchall()


# A customers export as a Windows DMS report writer writes it: Windows-1252, CRLF.
CUSTOMERS_1252 = (
    "customer_id,first_name,last_name,birth_year\r\n"  # 1
    "C1,José,Muñoz,1980\r\n"  # 2
    "C2,Zoë,Müller,1975\r\n"  # 3
    "C3,Seán,O’Brien,19x0\r\n"  # 4: not a whole number
    "C4,François,Lefèvre–Dubois,1990\r\n"  # 5: an en dash (0x96)
).encode("cp1252")
EXPECTED_1252 = [
    ("C1", "José", "Muñoz", 2),
    ("C2", "Zoë", "Müller", 3),
    ("C4", "François", "Lefèvre–Dubois", 5),
]


def test_windows_1252_crlf_with_the_option_loads_the_right_text(wh, tmp_path):
    assert b"\x92" in CUSTOMERS_1252 and b"\xe9" in CUSTOMERS_1252  # ’ and é, as cp1252
    path = tmp_path / "customers.csv"
    path.write_bytes(CUSTOMERS_1252)
    ef = ExtractFile(path=path, table="customers", encoding="windows-1252")
    (report,) = load_source(wh, "dms", [ef]).files
    assert names(wh) == EXPECTED_1252
    assert quarantine(wh) == [(4, "birth_year", "not a whole number")]
    assert (report.encoding, report.warnings, report.error) == ("Windows-1252", [], None)
    # The text is UTF-8 in the warehouse: it lowercases and hashes as josé.
    assert wh.con.execute(
        "SELECT lower(first_name) FROM customers WHERE customer_id = 'C1'"
    ).fetchall() == [("josé",)]


def test_windows_1252_without_the_option_loads_with_a_warning_naming_it(
    wh, tmp_path, caplog
):
    path = tmp_path / "customers.csv"
    path.write_bytes(CUSTOMERS_1252)
    (report,) = load_source(wh, "dms", [ExtractFile(path=path, table="customers")]).files
    assert names(wh) == EXPECTED_1252
    assert quarantine(wh) == [(4, "birth_year", "not a whole number")]
    assert report.encoding == "Windows-1252"
    assert report.warnings == [
        "not valid UTF-8 (first bad byte on line 2); loaded as Windows-1252:"
        ' set encoding = "cp1252" to silence this (or encoding = "utf-8" to quarantine'
        " those lines instead)"
    ]
    assert 'set encoding = "cp1252"' in caplog.text
    # No name in the log or the report.
    assert "Jos" not in caplog.text and "Mu" not in caplog.text


def test_windows_1252_past_the_head_is_found_by_the_full_scan(wh, tmp_path):
    """The first 4 MB are ASCII; a cp1252 name after them: the UTF-8 read is staged again
    from a Windows-1252 copy, with the line of the first bad byte."""
    rows = ["customer_id,first_name"]
    rows += [f"K{i},{'x' * 60}" for i in range(HEAD_BYTES // 64 + 100)]
    rows.append("J1,José")
    path = tmp_path / "customers.csv"
    path.write_bytes("\r\n".join(rows).encode("cp1252") + b"\r\n")
    (report,) = load_source(wh, "dms", [ExtractFile(path=path, table="customers")]).files
    assert report.loaded == len(rows) - 1 and report.rows_quarantined == 0
    assert report.warnings[0].startswith(
        f"not valid UTF-8 (first bad byte on line {len(rows)}); loaded as Windows-1252"
    )
    assert wh.con.execute(
        "SELECT first_name, _line FROM customers WHERE customer_id = 'J1'"
    ).fetchall() == [("José", len(rows))]
    assert not list(tmp_path.glob("*.utf8"))  # the copy is gone


def test_neither_utf8_nor_windows_1252_quarantines_the_bad_lines(wh, tmp_path):
    path = tmp_path / "customers.csv"
    # 0x81 is undefined in Windows-1252 (and not UTF-8).
    path.write_bytes(b"customer_id,first_name\nC1,Ann\nC2,B\x81b\nC3,Cy\n")
    (report,) = load_source(wh, "dms", [ExtractFile(path=path, table="customers")]).files
    assert [r[0] for r in names(wh)] == ["C1", "C3"]
    assert quarantine(wh) == [(3, "first_name", "invalid UTF-8")]
    assert report.warnings == [
        "not valid UTF-8 (first bad byte on line 3), and not Windows-1252 throughout"
        " (another encoding, or UTF-8 mixed with another): the lines that are not UTF-8 are"
        ' quarantined; set the encoding option if the file is in one encoding (e.g.'
        ' encoding = "latin-1")'
    ]


@pytest.mark.parametrize("past_the_head", [False, True])
def test_utf8_mixed_with_windows_1252_stays_utf8(wh, tmp_path, past_the_head):
    """Read as Windows-1252, the UTF-8 names would become mojibake (JosÃ©): the file stays
    UTF-8 and the Windows-1252 line is quarantined."""
    filler = [f"K{i},{'x' * 60}".encode() for i in range(HEAD_BYTES // 64 + 100)]
    rows = [
        b"customer_id,first_name",
        "C1,José".encode(),  # UTF-8
        *(filler if past_the_head else []),
        "C2,Zoë".encode("cp1252"),  # Windows-1252
        b"C3,Ann",
    ]
    path = tmp_path / "customers.csv"
    path.write_bytes(b"\n".join(rows) + b"\n")
    (report,) = load_source(wh, "dms", [ExtractFile(path=path, table="customers")]).files
    bad_line = len(rows) - 1
    assert quarantine(wh) == [(bad_line, "first_name", "invalid UTF-8")]
    assert wh.con.execute(
        "SELECT first_name FROM customers WHERE customer_id = 'C1'"
    ).fetchall() == [("José",)]
    assert report.warnings[0].startswith(
        f"not valid UTF-8 (first bad byte on line {bad_line}), and not Windows-1252 throughout"
    )


def test_latin1_option(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id,first_name\nC1,Renée\n".encode("latin-1"))
    ef = ExtractFile(path=path, table="customers", encoding="latin-1")
    (report,) = load_source(wh, "dms", [ef]).files
    assert names(wh) == [("C1", "Renée", None, 2)]
    assert report.encoding == "Latin-1"


def test_utf16_le_with_bom_tab_delimited_as_excel_writes_unicode_text(wh, tmp_path):
    text = (
        "customer_id\tfirst_name\tlast_name\tbirth_year\r\n"
        "C1\tJosé\tMuñoz\t1980\r\n"
        "C2\tZoë\t\t19x0\r\n"
        "C3\t李\tWang\t1990\r\n"
    )
    path = tmp_path / "customers.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    ef = ExtractFile(path=path, table="customers", delimiter="\t")  # no encoding option
    (report,) = load_source(wh, "dms", [ef]).files
    assert names(wh) == [("C1", "José", "Muñoz", 2), ("C3", "李", "Wang", 4)]
    assert quarantine(wh) == [(3, "birth_year", "not a whole number")]
    assert (report.encoding, report.warnings) == ("utf-16-le", [])


def test_utf16_without_bom_is_recognised_by_its_nul_bytes(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id,first_name\nC1,Zoë\n".encode("utf-16-le"))
    load_source(wh, "dms", [ExtractFile(path=path, table="customers")])
    assert names(wh) == [("C1", "Zoë", None, 2)]


def test_utf8_bom_crlf_reads_in_place(wh, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="dealersync.loading")
    path = tmp_path / "customers.csv"
    path.write_bytes(
        codecs.BOM_UTF8 + "customer_id,first_name\r\nC1,Zoë\r\nC2,x\r\n".encode()
    )
    (report,) = load_source(wh, "dms", [ExtractFile(path=path, table="customers")]).files
    assert names(wh) == [("C1", "Zoë", None, 2), ("C2", "x", None, 3)]
    assert (report.encoding, report.warnings) == ("UTF-8", [])
    assert "UTF-8 copy" not in caplog.text  # no copy for a file DuckDB reads as it is


def test_a_byte_order_mark_wins_over_the_option_with_a_warning(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(codecs.BOM_UTF8 + "customer_id,first_name\nC1,Zoë\n".encode())
    ef = ExtractFile(path=path, table="customers", encoding="cp1252")
    (report,) = load_source(wh, "dms", [ef]).files
    assert names(wh) == [("C1", "Zoë", None, 2)]
    assert report.warnings == [
        'starts with a UTF-8 byte order mark: read as UTF-8, not as encoding = "cp1252" says'
    ]


@pytest.mark.parametrize(
    ("header_end", "row_end"), [(b"\n", b"\r\n"), (b"\r\n", b"\n"), (b"\r", b"\n")]
)
def test_mixed_line_ends_load_with_exact_physical_lines(
    wh, tmp_path, header_end, row_end
):
    path = tmp_path / "customers.csv"
    lines = [
        (b"customer_id,first_name,birth_year", header_end),  # 1
        (b"C1,Ann,1980", row_end),  # 2
        (b"", row_end),  # 3 blank
        (b'C2,"two', row_end),  # 4 a value over two lines
        (b'lines",1975', row_end),  # 5
        (b"C3,Bad,19x0", b"\r"),  # 6 not a whole number, a lone CR
        (b"C4,Dee,1990", row_end),  # 7
        (b"C5,Eve,1991", row_end),  # 8
    ]
    path.write_bytes(b"".join(text + end for text, end in lines))
    (report,) = load_source(wh, "dms", [ExtractFile(path=path, table="customers")]).files
    assert report.error is None and not report.approximate_lines
    got = wh.con.execute(
        "SELECT customer_id, _line FROM customers ORDER BY _line"
    ).fetchall()
    assert got == [("C1", 2), ("C2", 4), ("C4", 7), ("C5", 8)]
    assert quarantine(wh) == [(6, "birth_year", "not a whole number")]
    assert wh.con.execute(
        "SELECT first_name FROM customers WHERE customer_id = 'C2'"
    ).fetchall() == [("two\nlines",)]


def test_lone_cr_file_with_a_bad_row_and_a_multi_line_value(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(
        b"customer_id,first_name,birth_year\r"  # 1
        b"C1,Ann,1980\r"  # 2
        b'C2,"a\rb",1975\r'  # 3-4
        b"C3,Bad,19x0\r"  # 5
        b"\r"  # 6
        b"C4,Dee,1990\r"  # 7
    )
    (report,) = load_source(wh, "dms", [ExtractFile(path=path, table="customers")]).files
    assert not report.approximate_lines
    assert wh.con.execute(
        "SELECT customer_id, _line FROM customers ORDER BY _line"
    ).fetchall() == [("C1", 2), ("C2", 3), ("C4", 7)]
    assert quarantine(wh) == [(5, "birth_year", "not a whole number")]


def test_an_unreadable_file_keeps_its_tables_rows_and_the_others_load(wh, tmp_path):
    cust = tmp_path / "customers.csv"
    veh = tmp_path / "vehicles.csv"
    cust.write_text("customer_id,first_name\nC1,Ann\n")
    veh.write_text("vehicle_id,customer_id\nV1,C1\nV2,C1\n")
    batches = [
        ExtractFile(path=cust, table="customers"),
        ExtractFile(path=veh, table="vehicles"),
    ]
    load_source(wh, "dms", batches)
    # The next export: customers changed, vehicles cut to nothing (a failed transfer).
    cust.write_text("customer_id,first_name\nC1,Ann\nC2,Bob\n")
    veh.write_bytes(b"")
    report = load_source(wh, "dms", batches)
    c, v = report.files
    assert (c.loaded, c.error) == (2, None)
    assert v.error == (
        "the file is empty; expected a header row; vehicles keeps the 2 rows of its"
        " previous load"
    )
    assert report.failed == [v]
    assert wh.con.execute("SELECT vehicle_id FROM vehicles ORDER BY 1").fetchall() == [
        ("V1",),
        ("V2",),
    ]
    assert wh.con.execute("SELECT count(*) FROM customers").fetchall() == [(2,)]


def test_a_file_duckdb_cannot_read_is_named_with_the_fix(wh, tmp_path, monkeypatch):
    """Whatever DuckDB's reader stops on (mixed line ends no longer do), the message names the
    file's options to check; the table is not emptied."""
    import duckdb
    from dealersync.loading import csv_files

    path = tmp_path / "customers.csv"
    path.write_text("customer_id\nC1\n")
    load_source(wh, "dms", [ExtractFile(path=path, table="customers")])
    path.write_text("customer_id\nC1\nC2\n")

    def stops(*args, **kwargs):
        raise duckdb.InvalidInputException("The CSV Parser state machine reached an invalid state")

    monkeypatch.setattr(csv_files, "create_in_file_order", stops)
    (report,) = load_source(wh, "dms", [ExtractFile(path=path, table="customers")]).files
    assert report.error == (
        "could not be read as CSV (The CSV Parser state machine reached an invalid state):"
        " check the delimiter (','), the quote and the encoding options;"
        " customers keeps the 1 rows of its previous load"
    )
    assert wh.con.execute("SELECT customer_id FROM customers").fetchall() == [("C1",)]


CONFIG = dealership(destination("meta", "meta-file"), everyone_to("meta"), sources=("store", "bodyshop"))


def test_sync_goes_on_past_an_unreadable_file_and_exits_1(tmp_path: Path) -> None:
    write_extract(
        tmp_path / "store",
        {"customers": [{"customer_id": "C1", "email": "a@x.com"},
                       {"customer_id": "C2", "email": "b@x.com"}]},
    )  # fmt: skip
    write_extract(
        tmp_path / "bodyshop", {"customers": [{"customer_id": "B1", "email": "c@x.com"}]}
    )
    (tmp_path / "c.toml").write_text(CONFIG)
    args = ["sync", "--config", str(tmp_path / "c.toml")]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    # The store's next export is empty; the body shop's has a new customer in Windows-1252.
    (tmp_path / "store" / "customers.csv").write_bytes(b"")
    (tmp_path / "bodyshop" / "customers.csv").write_bytes(
        "customer_id,email,first_name\nB1,c@x.com,Zoë\nB2,d@x.com,José\n".encode("cp1252")
    )
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 1, second.output
    out = "".join(second.output.split())  # the console wraps long lines anywhere

    def said(text: str) -> bool:
        return "".join(text.split()) in out

    assert said("customers.csv (NOT LOADED)")
    assert said(
        "not loaded: store: " + str(tmp_path / "store" / "customers.csv")
        + ": the file is empty; expected a header row; customers keeps the 2 rows of its"
        " previous load"
    )  # fmt: skip
    assert said('loaded as Windows-1252: set encoding = "cp1252" to silence this')
    # The store's people stay in the audience; the body shop's new customer joins it.
    members = (tmp_path / "out" / "all.meta.csv").read_text().count("\n") - 1
    assert members == 4


def test_copies_live_beside_the_warehouse_and_are_cleaned_up(tmp_path, monkeypatch):
    """The UTF-8 copy is written beside the warehouse, readable by its owner only, and gone
    after the load; a copy left by a crashed run is deleted by the next load."""
    from dealersync.loading import extract_files

    copies = tmp_path / "wh.duckdb.copies"
    copies.mkdir()
    (copies / "3-customers.csv.utf8").write_text("left by a crashed run")
    seen = []
    stage = extract_files.stage_file

    def spy(*args, layout, **kwargs):
        seen.append((layout.path, oct(layout.path.stat().st_mode & 0o777)))
        return stage(*args, layout=layout, **kwargs)

    monkeypatch.setattr(extract_files, "stage_file", spy)
    path = tmp_path / "customers.csv"
    path.write_bytes(CUSTOMERS_1252)
    with Warehouse(tmp_path / "wh.duckdb", memory_limit="256MB", threads=2) as w:
        load_source(w, "dms", [ExtractFile(path=path, table="customers", encoding="cp1252")])
        assert names(w) == EXPECTED_1252
    assert seen == [(copies / "1-customers.csv.utf8", "0o600")]
    assert not copies.exists()


def test_windows_1252_with_mixed_line_ends(wh, tmp_path):
    """Converted, then its line ends made LF (a second pass, only for mixed line ends)."""
    path = tmp_path / "customers.csv"
    path.write_bytes(CUSTOMERS_1252.replace(b"\r\n", b"\n", 1))  # header LF, rows CRLF
    ef = ExtractFile(path=path, table="customers", encoding="cp1252")
    (report,) = load_source(wh, "dms", [ef]).files
    assert names(wh) == EXPECTED_1252
    assert quarantine(wh) == [(4, "birth_year", "not a whole number")]
    assert report.error is None and not list(tmp_path.glob("*.utf8"))


def test_bytes_a_named_encoding_does_not_define_are_counted(wh, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(b"customer_id,first_name\nC1,B\x81b\nC2,Zo\xeb\n")
    ef = ExtractFile(path=path, table="customers", encoding="cp1252")
    (report,) = load_source(wh, "dms", [ef]).files
    assert names(wh) == [("C1", "B\ufffdb", None, 2), ("C2", "Zoë", None, 3)]
    assert report.warnings == [
        "1 characters are not Windows-1252 and were read as U+FFFD (\ufffd):"
        " check the encoding option"
    ]
