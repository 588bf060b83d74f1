"""Loading: the fast line scan, skipping unchanged files, and the customers a load changed."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import duckdb
import pytest
from dealersync import ExtractFile
from dealersync.loading import load_source
from dealersync.loading.lines import scan_file, scan_lines
from dealersync.store import Warehouse


def reference_scan(data: bytes) -> tuple[int, list[int]] | None:
    """Line count and blank lines, line by line (the slow, obvious way)."""
    if not data:
        return 0, []
    if data.count(b"\r") != data.count(b"\r\n"):
        return None
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return len(lines), [i + 1 for i, ln in enumerate(lines) if ln in (b"", b"\r")]


TRICKY = [
    b"\n",
    b"\r\n",
    b"\n\n\n",
    b"\nh\n",
    b"\r\nh\r\n\r\n",
    b"h\na",
    b"h\r\na\r\n\r\nb",
    b"h\na\n\n",
    b"abc\n\ndef\n\r\nghi\n",
    b"h\n" + b"x" * 40 + b"\n\n" + b"y" * 40,
    b'h\n"a\n\nb",1\n',  # a blank line inside a quoted value is still a blank physical line
    b"h\r\n\r\n",
    b"h\ra\n",  # a lone CR: None
    b"h\na\r",  # a lone CR at the end (no newline): None
]


@pytest.mark.parametrize("data", TRICKY)
def test_scan_lines_matches_a_line_by_line_reference_at_every_block_size(tmp_path, data):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    expected = reference_scan(data)
    for chunk in range(1, len(data) + 2):  # every seam between blocks
        assert scan_lines(path, chunk=chunk) == expected, chunk
    assert scan_file(path).lines == expected
    assert scan_file(path, chunk=3).lines == expected


def test_scan_lines_random_files_against_the_reference(tmp_path):
    rng = random.Random(5)
    path = tmp_path / "f.csv"
    pieces = [b"a", b"bc", b"\n", b"\r\n", b"\n\n", b"\n\r\n", b" ", b"x,1"]
    for _ in range(400):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        path.write_bytes(data)
        expected = reference_scan(data)
        for chunk in (1, 2, 3, 4, 7, 16, 1 << 20):
            assert scan_lines(path, chunk=chunk) == expected, (data, chunk)


def test_scan_file_digest_size():
    import hashlib
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f"
        path.write_bytes(b"h\na\n" * 1000)
        s = scan_file(path, chunk=7)
        assert s.size == 4000
        assert s.digest == hashlib.sha256(b"h\na\n" * 1000).hexdigest()
        assert s.lines == (2000, [])


# ------------------------------------------------------------------------- skip unchanged

CUST = [
    "customer_id,first_name,birth_year",
    "C1,Ann,1980",
    "C2,Bob,x",  # quarantined: not a whole number
    "C3,Cy,1990",
    "C1,Dup,1",  # duplicate of line 2
]


def write(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode())
    return path


def changes(wh: Warehouse) -> list[tuple]:
    """(seq, customer_id) recorded, in order."""
    try:
        return wh.con.execute(
            "SELECT seq, customer_id FROM _changes ORDER BY seq, customer_id NULLS FIRST"
        ).fetchall()
    except duckdb.CatalogException:  # no change log yet
        return []


def state(wh: Warehouse) -> tuple[list, list]:
    rows = wh.con.execute("SELECT * FROM customers ORDER BY _source, _line").fetchall()
    q = wh.con.execute(
        'SELECT * EXCLUDE (loaded_at) FROM _quarantine ORDER BY source, file, line, "column"'
    ).fetchall()
    return rows, q


def summary(report) -> list[tuple]:
    return [
        (f.table, Path(f.file).name, f.loaded, f.rows_quarantined, f.quarantined, f.unchanged)
        for f in report.files
    ]


def test_identical_bytes_rewritten_are_skipped_with_the_same_report(wh, tmp_path, caplog):
    cust = write(tmp_path / "customers.csv", CUST)
    deals = write(tmp_path / "deals.csv", ["deal_id,customer_id", "D1,C1"])
    batches = [
        ExtractFile(path=cust, table="customers"),
        ExtractFile(path=deals, table="deals"),
    ]
    first = load_source(wh, "dms", batches)
    before, log_before = state(wh), changes(wh)
    assert summary(first) == [
        ("customers", "customers.csv", 2, 2,
         {"bad whole number": 1, "duplicate key": 1}, False),
        ("deals", "deals.csv", 1, 0, {}, False),
    ]  # fmt: skip
    # Rewritten with the same bytes (a new mtime): skipped, same counts, no new change.
    write(cust, CUST)
    write(deals, ["deal_id,customer_id", "D1,C1"])
    caplog.set_level(logging.INFO)
    again = load_source(wh, "dms", batches)
    assert summary(again) == [(t, f, n, q, c, True) for t, f, n, q, c, _ in summary(first)]
    assert state(wh) == before
    assert changes(wh) == log_before
    assert f"{cust}: unchanged since the last load, skipped" in caplog.text
    assert wh.con.execute(
        'SELECT "table", rows_loaded, rows_quarantined, unchanged FROM _loads'
        ' ORDER BY loaded_at, "table"'
    ).fetchall() == [
        ("customers", 2, 2, False), ("deals", 1, 0, False),
        ("customers", 2, 2, True), ("deals", 1, 0, True),
    ]  # fmt: skip


def test_a_changed_byte_a_file_added_or_removed_or_force_reloads(wh, tmp_path):
    a = write(tmp_path / "a.csv", ["customer_id,first_name", "C1,Ann", "C2,Bob"])
    b = write(tmp_path / "b.csv", ["customer_id,first_name", "C3,Cy"])
    ea, eb = ExtractFile(path=a, table="customers"), ExtractFile(path=b, table="customers")
    assert not any(f.unchanged for f in load_source(wh, "s", [ea]).files)
    # One byte changed (same size): reloaded.
    write(a, ["customer_id,first_name", "C1,Ann", "C2,Bod"])
    r = load_source(wh, "s", [ea])
    assert [f.unchanged for f in r.files] == [False]
    assert wh.con.execute("SELECT first_name FROM customers WHERE customer_id = 'C2'").fetchall() == [("Bod",)]
    assert [f.unchanged for f in load_source(wh, "s", [ea]).files] == [True]
    # A file added to the table's set: reloaded.
    r = load_source(wh, "s", [ea, eb])
    assert [f.unchanged for f in r.files] == [False, False]
    assert wh.con.execute("SELECT count(*) FROM customers").fetchall() == [(3,)]
    assert [f.unchanged for f in load_source(wh, "s", [ea, eb]).files] == [True, True]
    # The same files in another order (which duplicate wins could change): reloaded.
    assert [f.unchanged for f in load_source(wh, "s", [eb, ea]).files] == [False, False]
    # A file removed from the set: reloaded.
    r = load_source(wh, "s", [ea])
    assert [f.unchanged for f in r.files] == [False]
    assert wh.con.execute("SELECT count(*) FROM customers").fetchall() == [(2,)]
    # Other read options: reloaded.
    r = load_source(wh, "s", [ExtractFile(path=a, table="customers", date_format="%d/%m/%Y")])
    assert [f.unchanged for f in r.files] == [False]
    # force=True reloads regardless (and records no change: nothing differs).
    seqs = changes(wh)
    r = load_source(wh, "s", [ExtractFile(path=a, table="customers", date_format="%d/%m/%Y")], force=True)
    assert [(f.unchanged, f.loaded) for f in r.files] == [(False, 2)]
    assert changes(wh) == seqs
    # Rows deleted behind the loader's back: the table is reloaded, not trusted.
    wh.con.execute("DELETE FROM customers")
    r = load_source(wh, "s", [ExtractFile(path=a, table="customers", date_format="%d/%m/%Y")])
    assert [(f.unchanged, f.loaded) for f in r.files] == [(False, 2)]


def test_other_sources_and_tables_keep_their_own_skip_state(wh, tmp_path):
    a = write(tmp_path / "a.csv", ["customer_id,first_name", "C1,Ann"])
    load_source(wh, "s1", [ExtractFile(path=a, table="customers")])
    # The same file for another source is that source's first load.
    r = load_source(wh, "s2", [ExtractFile(path=a, table="customers")])
    assert [f.unchanged for f in r.files] == [False]
    assert [f.unchanged for f in load_source(wh, "s1", [ExtractFile(path=a, table="customers")]).files] == [True]


# ------------------------------------------------------------------------- changed customers


def load_all(wh, tmp_path, tables: dict[str, list[str]], source: str = "dms"):
    batches = []
    for name, lines in tables.items():
        batches.append(ExtractFile(path=write(tmp_path / f"{name}.csv", lines), table=name))
    return load_source(wh, source, batches)


def last_changes(wh: Warehouse, since: int) -> set:
    return {
        r[0]
        for r in wh.con.execute(
            "SELECT customer_id FROM _changes WHERE seq > ?", [since]
        ).fetchall()
    }


def max_seq(wh: Warehouse) -> int:
    return wh.con.execute("SELECT coalesce(max(seq), 0) FROM _changes").fetchall()[0][0]


BASE = {
    "customers": ["customer_id,first_name", "C1,Ann", "C2,Bob", "C3,Cy", "C4,Di"],
    "deals": [
        "deal_id,customer_id,co_buyer_customer_id,sale_price",
        "D1,C1,C2,100",
        "D2,C3,,200",
    ],
    "repair_orders": ["ro_id,customer_id,total", "R1,C1,10", "R2,C2,20", "R3,C3,30"],
    "ro_lines": ["ro_id,line_no,op_code", "R1,1,OIL", "R2,1,OIL", "R2,2,TIRE", "R3,1,BRK"],
    "suppressions": ["email,customer_id,reason", "x@example.com,,asked"],
}


def test_first_load_records_everything_changed(wh, tmp_path):
    load_all(wh, tmp_path, BASE)
    # One "everyone" entry per table that had no rows of this source (suppressions: none).
    assert wh.con.execute(
        "SELECT count(*), count(customer_id), count(DISTINCT seq) FROM _changes"
    ).fetchall() == [(4, 0, 4)]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # a customer row added, changed, deleted
        ({"customers": BASE["customers"] + ["C5,Ed"]}, {"C5"}),
        ({"customers": ["customer_id,first_name", "C1,Ann", "C2,Bobby", "C3,Cy", "C4,Di"]}, {"C2"}),
        ({"customers": BASE["customers"][:-1]}, {"C4"}),
        # rows only moved in the file (another _line): nothing changed
        ({"customers": [BASE["customers"][0]] + BASE["customers"][:0:-1]}, set()),
        # a deal's co-buyer changed: old and new co-buyer (and the buyer, the deal's customer)
        ({"deals": ["deal_id,customer_id,co_buyer_customer_id,sale_price",
                    "D1,C1,C4,100", "D2,C3,,200"]}, {"C1", "C2", "C4"}),
        # a deal added with a co-buyer
        ({"deals": BASE["deals"] + ["D3,C4,C3,5"]}, {"C3", "C4"}),
        # a repair order moved to another customer: both
        ({"repair_orders": ["ro_id,customer_id,total", "R1,C1,10", "R2,C4,20", "R3,C3,30"]},
         {"C2", "C4"}),
        # a repair-order line changed, added, removed: the RO's customer
        ({"ro_lines": ["ro_id,line_no,op_code", "R1,1,OIL", "R2,1,OIL", "R2,2,WASH", "R3,1,BRK"]},
         {"C2"}),
        ({"ro_lines": BASE["ro_lines"] + ["R1,2,WIPER"]}, {"C1"}),
        ({"ro_lines": BASE["ro_lines"][:-1]}, {"C3"}),
        # an RO moved and its line changed in one load: old and new owner
        ({"repair_orders": ["ro_id,customer_id,total", "R1,C1,10", "R2,C2,20", "R3,C4,30"],
          "ro_lines": ["ro_id,line_no,op_code", "R1,1,OIL", "R2,1,OIL", "R2,2,TIRE", "R3,1,X"]},
         {"C3", "C4"}),
        # suppressions are not read by derived tables: nothing recorded
        ({"suppressions": ["email,customer_id,reason", "y@example.com,C1,asked"]}, set()),
    ],
)  # fmt: skip
def test_changed_customers_are_recorded_exactly(wh, tmp_path, edit, expected):
    load_all(wh, tmp_path, BASE)
    since = max_seq(wh)
    report = load_all(wh, tmp_path, {**BASE, **edit})
    assert last_changes(wh, since) == expected
    reloaded = {f.table for f in report.files if not f.unchanged}
    assert reloaded == set(edit)  # the other tables were skipped, and recorded nothing


def test_a_failed_replace_records_no_change_and_no_files(wh, tmp_path, monkeypatch):
    load_all(wh, tmp_path, {"customers": BASE["customers"]})
    since = max_seq(wh)
    files_before = wh.con.execute("SELECT * FROM _load_files").fetchall()
    from dealersync.loading import replace

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(replace, "write_load_files", boom)
    with pytest.raises(RuntimeError):
        load_all(wh, tmp_path, {"customers": BASE["customers"] + ["C9,Zed"]})
    assert max_seq(wh) == since
    assert wh.con.execute("SELECT * FROM _load_files").fetchall() == files_before
    assert wh.con.execute("SELECT count(*) FROM customers").fetchall() == [(4,)]
