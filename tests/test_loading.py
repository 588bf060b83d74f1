"""Loading extract files and record batches into the warehouse, with quarantine."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from dealersync import ConfigError, ExtractFile, RecordBatch
from dealersync.loading import FileReport, LoadReport, load_source
from dealersync.model import TABLES
from dealersync.store import Warehouse

from tests.support.queries import QUARANTINE_COLUMNS
from tests.support.processes import warehouse_held
from tests.support.queries import quarantine as quarantine_rows


def write(path: Path, lines: list[bytes | str], newline: bytes = b"\n") -> Path:
    data = (
        newline.join(x.encode() if isinstance(x, str) else x for x in lines) + newline
    )
    path.write_bytes(data)
    return path


def quarantine(wh: Warehouse) -> list[tuple]:
    return quarantine_rows(wh, ("file", *QUARANTINE_COLUMNS), order=("file", "line", "column"))


# ------------------------------------------------------------------------------------ warehouse


def test_warehouse_creates_schema_and_sets_limits(tmp_path):
    path = tmp_path / "nested" / "dir" / "wh.duckdb"
    with Warehouse(
        path, memory_limit="300MB", threads=1, temp_directory=tmp_path / "spill"
    ) as w:
        tables = {
            r[0]
            for r in w.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        assert set(TABLES) | {"_quarantine", "_loads"} <= tables
        limit = w.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        assert (
            limit.replace(" ", "").upper().startswith(("286", "300"))
        )  # MiB or MB display
        assert w.con.execute("SELECT current_setting('threads')").fetchall()[0][0] == 1
        cols = [r[0] for r in w.con.execute("DESCRIBE _quarantine").fetchall()]
        assert cols == [
            "source",
            "table",
            "file",
            "line",
            "column",
            "reason",
            "loaded_at",
            "row_loaded",  # the row was loaded with its column's fallback (schema 7)
        ]
    assert path.exists()
    # Reopening an existing file keeps it (CREATE IF NOT EXISTS).
    with Warehouse(path) as w:
        assert w.con.execute("SELECT current_setting('threads')").fetchall()[0][0] <= 4


# ------------------------------------------------------------------- every kind of bad row


CUSTOMERS = [
    b"customer_id,first_name,last_name,email,birth_year,email_opt_in,created_at",  # 1
    b"C1,Ann,Lee,ann@example.com,1980,Y,2020-01-01 10:00:00",  # 2 good
    b"C2,Bob,Ray,bob@example.com,19x0,N,2020-01-02",  # 3 not a whole number
    b"C3,Cat,Sky,cat@example.com,1975,maybe,2020-01-03",  # 4 not a boolean
    b"C4,Dan,Fox,dan@example.com,1990,1,31/02/2020",  # 5 not a timestamp
    b"C5,Eve,Oak,eve@example.com,1991",  # 6 too few columns
    b"C6,Fay,Elm,fay@example.com,1992,0,2020-01-06,SURPLUS",  # 7 too many columns
    b"C7,Gu\xff\xfe,Ash,gus@example.com,1993,yes,2020-01-07",  # 8 invalid UTF-8
    b",Hal,Ivy,hal@example.com,1994,no,2020-01-08",  # 9 missing key
    b"C1,Ann,Dup,ann2@example.com,1981,true,2020-01-09",  # 10 duplicate of line 2
    b"",  # 11 blank line
    b'C8,"Multi',  # 12 good, a quoted value over two lines
    b'Line",Moss,moss@example.com,1970,F,2020-01-10T08:30:00',  # 13
    b"C9,Ian,Yew,ian@example.com,,,",  # 14 good, empty values are NULL
    b"C10,Jo,Kay,jo@example.com,1985,N,2020-01-11",  # 15 good
    b'C11,"Unterminated,Zed,zed@example.com,1999,Y,2020-01-12',  # 16 unterminated quote ...
    b"C12,Kim,Lim,kim@example.com,1999,Y,2020-01-13",  # 17 ... swallows the rest of the file
]
DEALS = [
    "deal_id,customer_id,deal_date,apr,sale_price",  # 1
    "D1,C1,2021-05-01,3.9,25000",  # 2 good
    "D2,C1,05/01/2021,4.1,26000",  # 3 not a date
    "D3,C2,2021-06-01,N/A,27000",  # 4 not a number
    "D4,C3,2021-07-01,2.5,twelve",  # 5 not a number (sale_price)
    "D5,C3,2021-13-45,oops,1",  # 6 two bad cells: one quarantine row each
]
RAW_VALUES = [
    "19x0", "maybe", "31/02/2020", "SURPLUS", "Gu", "Hal", "hal@example.com",
    "ann2@example.com", "Unterminated", "Zed", "Kim", "05/01/2021", "N/A", "twelve",
    "2021-13-45", "oops", "Eve", "eve@example.com",
]  # fmt: skip


def test_every_kind_of_bad_row_is_quarantined_with_file_line_column_reason(
    wh, tmp_path, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    cust = write(tmp_path / "customers.csv", CUSTOMERS)
    deals = write(tmp_path / "deals.csv", DEALS)
    report = load_source(
        wh,
        "dms",
        [
            # strict UTF-8: line 8 is quarantined (by default the file would be detected
            # as Windows-1252, see tests/test_encodings.py)
            ExtractFile(path=cust, table="customers", encoding="utf-8"),
            ExtractFile(path=deals, table="deals"),
        ],
    )
    c, d = str(cust), str(deals)
    assert quarantine(wh) == sorted(
        [
            (c, 3, "birth_year", "not a whole number"),
            (c, 4, "email_opt_in", "not a boolean (expected true/false/Y/N/1/0)"),
            (c, 5, "created_at", "not a timestamp (expected YYYY-MM-DD HH:MM:SS;"
             " other formats: set timestamp_format)"),
            (c, 6, None, "expected 7 columns, found 5"),
            (c, 7, None, "expected 7 columns, found 8"),
            (c, 8, "first_name", "invalid UTF-8"),
            (c, 9, "customer_id", "missing key customer_id"),
            (c, 10, "customer_id", "duplicate of line 2"),
            (c, 16, None, "unterminated quote"),
            (d, 3, "deal_date", "not a date (expected YYYY-MM-DD; other formats: set date_format)"),
            (d, 4, "apr", "not a number"),
            (d, 5, "sale_price", "not a number"),
            (d, 6, "apr", "not a number"),
            (d, 6, "deal_date", "not a date (expected YYYY-MM-DD; other formats: set date_format)"),
        ],
        key=lambda r: (r[0], r[1], r[2] or ""),
    )
    rows = wh.con.execute(
        "SELECT customer_id, first_name, birth_year, email_opt_in, created_at,"
        " _source, _source_id, _line FROM customers ORDER BY _line"
    ).fetchall()
    assert rows == [
        ("C1", "Ann", 1980, True, dt.datetime(2020, 1, 1, 10), "dms", "C1", 2),
        (
            "C8",
            "Multi\nLine",
            1970,
            False,
            dt.datetime(2020, 1, 10, 8, 30),
            "dms",
            "C8",
            12,
        ),
        ("C9", "Ian", None, None, None, "dms", "C9", 14),
        ("C10", "Jo", 1985, False, dt.datetime(2020, 1, 11), "dms", "C10", 15),
    ]
    assert wh.con.execute(
        "SELECT deal_id, deal_date, apr, _line FROM deals"
    ).fetchall() == [("D1", dt.date(2021, 5, 1), 3.9, 2)]
    by_file = {f.file: f for f in report.files}
    assert by_file[c].loaded == 4
    assert by_file[c].rows_quarantined == 9
    assert by_file[c].quarantined == {
        "bad boolean": 1, "bad quoting": 1, "bad timestamp": 1, "bad whole number": 1,
        "duplicate key": 1, "invalid UTF-8": 1, "missing key": 1, "wrong column count": 2,
    }  # fmt: skip
    assert by_file[d].loaded == 1 and by_file[d].rows_quarantined == 4
    assert by_file[d].quarantined == {"bad date": 2, "bad number": 3}
    assert not by_file[c].approximate_lines and not by_file[d].approximate_lines
    assert report.total_loaded == 5 and report.total_quarantined == 14
    loads = wh.con.execute(
        'SELECT "table", file, rows_loaded, rows_quarantined FROM _loads ORDER BY "table"'
    ).fetchall()
    assert loads == [("customers", c, 4, 9), ("deals", d, 1, 4)]

    # No raw value of a bad row in the quarantine, the log or the output.
    reasons = " ".join(r[3] for r in quarantine(wh))
    out = capsys.readouterr()
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert "quarantined" in caplog.text  # the load was logged ...
    for raw in RAW_VALUES:
        assert raw not in reasons
        assert raw not in logged, raw
        assert raw not in out.out and raw not in out.err


def test_crlf_file_and_trailing_blank_lines(wh, tmp_path):
    path = write(
        tmp_path / "c.csv",
        [
            "customer_id,email_opt_in",
            "A,Y",
            "",
            'B,"N"',
            "C,bogus",
            "D,0",
            "",
            "",
        ],
        newline=b"\r\n",
    )
    load_source(wh, "s", [ExtractFile(path=path, table="customers")])
    assert wh.con.execute("SELECT customer_id, _line FROM customers ORDER BY _line").fetchall() == [
        ("A", 2), ("B", 4), ("D", 6)
    ]  # fmt: skip
    assert quarantine(wh) == [
        (str(path), 5, "email_opt_in", "not a boolean (expected true/false/Y/N/1/0)")
    ]


def test_booleans_dates_and_formats(wh, tmp_path):
    path = write(
        tmp_path / "v.csv",
        [
            "vehicle_id;year;odometer;purchased_on;warranty_end",
            "V1;2019;12000;03/15/2020;03/15/2025",
            "V2;2020.0; 500 ;12/31/2021;",
            "V3;1.5;;01/01/2022;",
        ],
    )
    load_source(
        wh,
        "s",
        [
            ExtractFile(
                path=path, table="vehicles", delimiter=";", date_format="%m/%d/%Y"
            )
        ],
    )
    assert wh.con.execute(
        "SELECT vehicle_id, year, odometer, purchased_on, warranty_end FROM vehicles ORDER BY 1"
    ).fetchall() == [
        ("V1", 2019, 12000, dt.date(2020, 3, 15), dt.date(2025, 3, 15)),
        ("V2", 2020, 500, dt.date(2021, 12, 31), None),
    ]
    assert quarantine(wh) == [(str(path), 4, "year", "not a whole number")]

    bools = write(
        tmp_path / "b.csv",
        [
            "customer_id,email_opt_in,sms_opt_in,do_not_email,do_not_call,do_not_mail,do_not_market"
        ]
        + ["X,true,FALSE,y,N,1,0", "Y,Yes,no,T,f,,"],
    )
    load_source(wh, "b", [ExtractFile(path=bools, table="customers")])
    assert wh.con.execute(
        "SELECT email_opt_in, sms_opt_in, do_not_email, do_not_call, do_not_mail, do_not_market"
        " FROM customers WHERE _source = 'b' ORDER BY customer_id"
    ).fetchall() == [
        (True, False, True, False, True, False),
        (True, False, True, False, None, None),
    ]


# ------------------------------------------------------------------------ snapshot semantics


def table_state(wh: Warehouse) -> tuple[list, list]:
    rows = wh.con.execute("SELECT * FROM customers ORDER BY _source, _line").fetchall()
    q = wh.con.execute(
        'SELECT source, "table", file, line, "column", reason FROM _quarantine'
        ' ORDER BY source, file, line, "column"'
    ).fetchall()
    return rows, q


def test_reload_replaces_and_is_idempotent(wh, tmp_path):
    path = write(
        tmp_path / "customers.csv",
        ["customer_id,first_name,birth_year", "C1,Ann,1980", "C2,Bob,x", "C3,Cy,1990"],
    )
    batches = [ExtractFile(path=path, table="customers")]
    load_source(wh, "dms", batches)
    first = table_state(wh)
    load_source(wh, "dms", batches)
    assert table_state(wh) == first
    assert len(first[0]) == 2 and len(first[1]) == 1

    # A second load of the file with a row removed removes it (and its quarantine row).
    write(
        tmp_path / "customers.csv", ["customer_id,first_name,birth_year", "C3,Cy,1990"]
    )
    load_source(wh, "dms", batches)
    rows, q = table_state(wh)
    assert [(r[0], r[-1]) for r in rows] == [("C3", 2)]
    assert q == []
    assert (
        wh.con.execute("SELECT count(*) FROM _loads").fetchall()[0][0] == 3
    )  # a history


def test_two_sources_keep_their_own_rows(wh, tmp_path):
    a = write(tmp_path / "a.csv", ["customer_id,first_name", "C1,Ann", "C2,Bob"])
    b = write(tmp_path / "b.csv", ["customer_id,first_name", "C1,Other", "bad,x,y"])
    load_source(wh, "store_a", [ExtractFile(path=a, table="customers")])
    load_source(wh, "store_b", [ExtractFile(path=b, table="customers")])
    # Reloading one source touches neither the other's rows nor its quarantine.
    write(tmp_path / "a.csv", ["customer_id,first_name", "C2,Bob"])
    load_source(wh, "store_a", [ExtractFile(path=a, table="customers")])
    assert wh.con.execute(
        "SELECT _source, customer_id, first_name FROM customers ORDER BY 1, 2"
    ).fetchall() == [("store_a", "C2", "Bob"), ("store_b", "C1", "Other")]
    assert quarantine(wh) == [(str(b), 3, None, "expected 2 columns, found 3")]


def test_column_mapping_for_a_renamed_header_layout(wh, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    path = write(
        tmp_path / "CUST.TXT",
        [
            "CustNo|E-Mail|Opt In|Surname|Internal Notes",
            "1001|a@example.com|Y|Lee|vip",
            "1002|b@example.com|N|Ray|",
        ],
    )
    ef = ExtractFile(
        path=path,
        table="customers",
        delimiter="|",
        columns={
            "customer_id": "CustNo",
            "email": "E-Mail",
            "email_opt_in": "opt in",
            "last_name": "Surname",
        },
    )
    report = load_source(wh, "legacy", [ef])
    assert wh.con.execute(
        "SELECT customer_id, email, email_opt_in, last_name, first_name, _source_id, _line"
        " FROM customers ORDER BY 1"
    ).fetchall() == [
        ("1001", "a@example.com", True, "Lee", None, "1001", 2),
        ("1002", "b@example.com", False, "Ray", None, "1002", 3),
    ]
    f = report.files[0]
    assert f.extra_columns == ["Internal Notes"]
    assert "first_name" in f.missing_columns and "email" not in f.missing_columns
    assert "Internal Notes" in caplog.text


def test_composite_key_and_table_without_key(wh, tmp_path):
    lines = write(
        tmp_path / "ro_lines.csv",
        [
            "ro_id,line_no,op_code,labor_amount",
            "RO1,1,OIL,49.95",
            "RO1,2,TIRE,20",
            "RO1,01,OIL,1",  # same typed key as line 2
            "RO2,,OIL,1",  # missing key part
        ],
    )
    sup = write(
        tmp_path / "suppressions.csv",
        ["email,reason", "x@example.com,asked", "x@example.com,again"],
    )
    load_source(
        wh,
        "s",
        [
            ExtractFile(path=lines, table="ro_lines"),
            ExtractFile(path=sup, table="suppressions"),
        ],
    )
    assert wh.con.execute("SELECT _source_id, _line FROM ro_lines ORDER BY _line").fetchall() == [
        ("RO1:1", 2), ("RO1:2", 3)
    ]  # fmt: skip
    assert quarantine(wh) == [
        (str(lines), 4, "ro_id:line_no", "duplicate of line 2"),
        (str(lines), 5, "line_no", "missing key line_no"),
    ]
    assert wh.con.execute(
        "SELECT count(*), count(_source_id) FROM suppressions"
    ).fetchall() == [(2, 0)]


# ------------------------------------------------------------------------------ record batches


def test_record_batches_valid_and_invalid(wh, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    page1 = RecordBatch(
        table="customers",
        records=[
            {
                "customer_id": "A1",
                "email": "a@example.com",
                "birth_year": 1980,
                "email_opt_in": True,
            },
            {
                "customer_id": 42,
                "created_at": "2024-01-02T03:04:05",
            },  # numeric id is text
            {"customer_id": "A3", "birth_year": "nineteen-eighty"},  # 3: bad int
            {"email": "secret@example.com"},  # 4: missing key
            {"customer_id": "A5", "shoe_size": "44"},  # 5: unknown column
        ],
    )
    page2 = RecordBatch(
        table="customers",
        records=[
            {
                "customer_id": "A1",
                "email": "dupe@example.com",
            },  # 6: duplicate of record 1
            {
                "customer_id": "A7",
                "created_at": "yesterday-ish",
                "sms_opt_in": "perhaps",
            },  # 7
        ],
    )
    report = load_source(wh, "crm", [page1, page2])
    assert wh.con.execute(
        "SELECT customer_id, email, birth_year, email_opt_in, created_at, _source_id, _line"
        " FROM customers ORDER BY 1"
    ).fetchall() == [
        ("42", None, None, None, dt.datetime(2024, 1, 2, 3, 4, 5), "42", None),
        ("A1", "a@example.com", 1980, True, None, "A1", None),
    ]
    f = "crm:customers:records"
    assert quarantine(wh) == [
        (f, 3, "birth_year", "not a whole number"),
        (f, 4, "customer_id", "missing key customer_id"),
        (f, 5, "shoe_size", "unknown column"),
        (f, 6, "customer_id", "duplicate of record 1"),
        (f, 7, "created_at", "not a timestamp (expected YYYY-MM-DD HH:MM:SS)"),
        (f, 7, "sms_opt_in", "not a boolean (expected true/false/Y/N/1/0)"),
    ]
    assert [(x.file, x.loaded, x.rows_quarantined) for x in report.files] == [(f, 2, 5)]
    assert wh.con.execute(
        'SELECT source, "table", file, rows_loaded, rows_quarantined FROM _loads'
    ).fetchall() == [("crm", "customers", f, 2, 5)]
    text = (
        caplog.text + capsys.readouterr().out + " ".join(r[3] for r in quarantine(wh))
    )
    for raw in (
        "nineteen-eighty",
        "secret@example.com",
        "44",
        "dupe@example.com",
        "yesterday-ish",
        "perhaps",
    ):
        assert raw not in text


# ---------------------------------------------------------------------------------- errors


def test_missing_file_is_a_config_error_naming_the_path(wh, tmp_path):
    path = tmp_path / "nope" / "customers.csv"
    with pytest.raises(ConfigError) as e:
        load_source(wh, "dms", [ExtractFile(path=path, table="customers")])
    assert e.value.message == f"{path}: extract file for table 'customers' not found"


def test_missing_key_column_is_a_config_error_naming_file_column_and_option(
    wh, tmp_path
):
    path = write(tmp_path / "customers.csv", ["id,first_name", "1,Ann"])
    with pytest.raises(ConfigError) as e:
        load_source(wh, "dms", [ExtractFile(path=path, table="customers")])
    assert e.value.message == (
        f"{path}: the header has no column 'customer_id', the key of table 'customers';"
        " if the file names it differently, map it with the `columns` option,"
        ' e.g. columns.customers.customer_id = "<name in the file>"'
    )
    with pytest.raises(ConfigError) as e:
        load_source(
            wh,
            "dms",
            [
                ExtractFile(
                    path=path, table="customers", columns={"customer_id": "CustNo"}
                )
            ],
        )
    assert e.value.message == (
        f"{path}: the header has no column 'CustNo', which the `columns` option maps to"
        " 'customer_id', the key of table 'customers'"
    )
    # Nothing was loaded by the failed calls.
    assert wh.con.execute("SELECT count(*) FROM customers").fetchall() == [(0,)]


def test_empty_file_and_unknown_table(wh, tmp_path):
    empty = tmp_path / "customers.csv"
    empty.write_bytes(b"")
    # An empty file is an outcome for that file (see tests/test_encodings.py), not a
    # configuration error.
    (report,) = load_source(wh, "dms", [ExtractFile(path=empty, table="customers")]).files
    assert report.error == (
        "the file is empty; expected a header row;"
        " customers keeps the 0 rows of its previous load"
    )
    with pytest.raises(ConfigError, match="unknown table 'widgets'"):
        load_source(wh, "dms", [ExtractFile(path=empty, table="widgets")])


def test_report_helpers():
    r = LoadReport(
        [
            FileReport("s", "customers", "a", 3, {"bad date": 1, "missing key": 2}, 2),
            FileReport("s", "deals", "b", 4, {"bad date": 1}, 1),
        ]
    )
    assert r.total_loaded == 7
    assert r.total_quarantined == 4
    assert r.rows_quarantined == 3
    assert r.quarantined_by_reason() == {"bad date": 2, "missing key": 2}
    assert [f.file for f in r.for_table("deals")] == ["b"]


def test_line_numbers_with_multi_line_values_blank_lines_and_multi_line_rejects(
    wh, tmp_path
):
    path = write(
        tmp_path / "customers.csv",
        [
            "customer_id,first_name,birth_year",  # 1
            'A,"two',  # 2 good, a value over three lines ...
            "",  # 3 ... with a blank line inside it
            'lines",1980',  # 4
            "",  # 5 blank record
            'B,"multi',  # 6 too many columns, over two lines
            'reject",1,extra',  # 7
            "C,ok,bad",  # 8 not a whole number
            "",  # 9
            "",  # 10
            'D,"x',  # 11 good, two lines
            'y",1990',  # 12
            "E,e,1",  # 13
            "A,dup,2",  # 14 duplicate of line 2
        ],
    )
    report = load_source(wh, "s", [ExtractFile(path=path, table="customers")])
    assert not report.files[0].approximate_lines
    assert wh.con.execute(
        "SELECT customer_id, _line FROM customers ORDER BY _line"
    ).fetchall() == [("A", 2), ("D", 11), ("E", 13)]
    assert quarantine(wh) == [
        (str(path), 6, None, "expected 3 columns, found 4"),
        (str(path), 8, "birth_year", "not a whole number"),
        (str(path), 14, "customer_id", "duplicate of line 2"),
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"h\na\nb\n", (3, [])),
        (b"h\na\nb", (3, [])),
        (b"h\r\na\r\nb\r\n", (3, [])),
        (b"", (0, [])),
        (b"h\na\n\nb\n", (4, [3])),
        (b"\nh\na\n", (3, [1])),
        (b"h\r\na\r\n\r\n\r\n", (4, [3, 4])),
        (b"h\n\n\n  \nx", (5, [2, 3])),
        (b"h\ra\rb\r", None),  # CR line ends: left to DuckDB
    ],
)
def test_scan_lines(tmp_path, data, expected):
    from dealersync.loading.lines import scan_lines

    path = tmp_path / "f.csv"
    path.write_bytes(data)
    assert scan_lines(path) == expected
    for chunk in (1, 2, 3):  # seams between blocks
        assert scan_lines(path, chunk=chunk) == expected


def test_header_only_file_bom_and_duplicate_header(wh, tmp_path):
    full = write(tmp_path / "a.csv", ["\ufeffcustomer_id,first_name", "C1,Ann"])
    load_source(wh, "s", [ExtractFile(path=full, table="customers")])
    assert wh.con.execute("SELECT customer_id, _line FROM customers").fetchall() == [
        ("C1", 2)
    ]
    empty = write(tmp_path / "a.csv", ["customer_id,first_name"])
    report = load_source(wh, "s", [ExtractFile(path=empty, table="customers")])
    assert report.total_loaded == 0
    assert wh.con.execute("SELECT count(*) FROM customers").fetchall() == [(0,)]
    dup = write(tmp_path / "d.csv", ["customer_id,email,email", "C1,a,b"])
    with pytest.raises(ConfigError) as e:
        load_source(wh, "s", [ExtractFile(path=dup, table="customers")])
    assert e.value.message == f"{dup}: the header names column 'email' twice"


@pytest.mark.parametrize("seed", [7, 11, 2026])
def test_line_numbers_match_a_reference_parser_on_a_random_file(wh, tmp_path, seed):
    """Seeded random mix of good rows, blank lines, multi-line values and bad rows."""
    import random

    rng = random.Random(seed)
    lines = ["customer_id,first_name,birth_year"]
    expected_good: dict[str, int] = {}
    expected_bad: dict[int, str] = {}
    for i in range(400):
        line_no = len(lines) + 1
        kind = rng.choice(
            ["good"] * 6 + ["blank", "multi", "int", "few", "many", "blankmulti"]
        )
        cid = f"K{i}"
        if kind == "good":
            lines.append(f"{cid},n{i},{1900 + i}")
            expected_good[cid] = line_no
        elif kind == "blank":
            lines.append("")
        elif kind == "multi":
            lines += [f'{cid},"a', "b", f'c",{1900 + i}']
            expected_good[cid] = line_no
        elif kind == "blankmulti":
            lines += [f'{cid},"a', "", f'c",{1900 + i}']
            expected_good[cid] = line_no
        elif kind == "int":
            lines.append(f"{cid},n{i},x{i}")
            expected_bad[line_no] = "not a whole number"
        elif kind == "few":
            lines.append(f"{cid},n{i}")
            expected_bad[line_no] = "expected 3 columns, found 2"
        else:
            lines += [f'{cid},"x', 'y",1,2']
            expected_bad[line_no] = "expected 3 columns, found 4"
    path = write(tmp_path / "customers.csv", lines)
    report = load_source(wh, "s", [ExtractFile(path=path, table="customers")])
    assert not report.files[0].approximate_lines
    got_good = dict(
        wh.con.execute("SELECT customer_id, _line FROM customers").fetchall()
    )
    assert got_good == expected_good
    got_bad = {r[1]: r[3] for r in quarantine(wh)}
    assert got_bad == expected_bad


def test_quoting_oddities_and_ignored_columns(wh, tmp_path):
    path = write(
        tmp_path / "customers.csv",
        [
            b"customer_id,first_name,notes",
            b'C1,ab"c,\xff\xfe',  # 2 a stray quote is a literal; bad bytes in an ignored column
            b'C2,"x"y,z',  # 3 text after a closing quote
            b"C3,ok,ok",  # 4
        ],
    )
    report = load_source(wh, "s", [ExtractFile(path=path, table="customers")])
    assert wh.con.execute(
        "SELECT customer_id, first_name, _line FROM customers ORDER BY _line"
    ).fetchall() == [("C1", 'ab"c', 2), ("C3", "ok", 4)]
    assert quarantine(wh) == [(str(path), 3, "first_name", "invalid quoting")]
    assert report.files[0].extra_columns == ["notes"]


def test_long_multi_line_reject_keeps_later_lines_right(wh, tmp_path):
    long = (
        "x" * 6000
    )  # DuckDB keeps only 10,000 characters of a rejected line by default
    path = write(
        tmp_path / "customers.csv",
        ["customer_id,first_name", f'A,"{long}', long, 'end",extra', "B,b"],
    )
    load_source(wh, "s", [ExtractFile(path=path, table="customers")])
    assert wh.con.execute("SELECT customer_id, _line FROM customers").fetchall() == [
        ("B", 5)
    ]
    assert quarantine(wh) == [(str(path), 2, None, "expected 2 columns, found 3")]


def test_warehouse_in_use_by_another_process_is_a_clear_error(tmp_path):
    from dealersync import FatalError

    path = tmp_path / "wh.duckdb"
    with warehouse_held(path), pytest.raises(FatalError) as e:
        Warehouse(path)
    assert e.value.message == (
        f"the warehouse {path} is in use by another process"
        " (one dealersync run at a time per warehouse file)"
    )


def test_bad_memory_limit_is_a_config_error():
    with pytest.raises(ConfigError, match="memory_limit='lots'"):
        Warehouse(":memory:", memory_limit="lots")


def test_old_mac_cr_line_ends_use_the_duckdb_line_read(wh, tmp_path):
    path = write(
        tmp_path / "customers.csv",
        ["customer_id,birth_year", "A,1", "", "B,x", "C,3"],
        newline=b"\r",
    )
    report = load_source(wh, "s", [ExtractFile(path=path, table="customers")])
    assert not report.files[0].approximate_lines
    assert wh.con.execute(
        "SELECT customer_id, _line FROM customers ORDER BY _line"
    ).fetchall() == [("A", 2), ("C", 5)]
    assert quarantine(wh) == [(str(path), 4, "birth_year", "not a whole number")]
