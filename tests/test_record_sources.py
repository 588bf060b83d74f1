"""Record sources quarantine at file and line (issue 15, deliver 4): a source yields records as
``Located(record, file, line)`` and lines it cannot parse as ``Unparsable(file, line, reason)``;
the quarantine names the file's physical lines and never a value; the kit checks it. The example
source is tests/examples/jsonl_crm.py, its hand-written fixture tests/examples/jsonl_crm/."""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dealersync import ConnectorContext, Located, RecordBatch, RecordItem, Unparsable
from dealersync.loading import LoadReport, load_source
from dealersync.loading.records import REASON_MAX, reported_reason, stage_records
from dealersync.loading.staging import Scratch
from dealersync.store import Warehouse
from dealersync.testing import run_sync
from tests.support.configs import dealership, destination, everyone_to, table
from tests.support.queries import quarantine as quarantine_rows

EXAMPLES = Path(__file__).parent / "examples"
sys.path.insert(0, str(EXAMPLES))
import jsonl_crm  # noqa: E402
import jsonl_crm_kit as kit  # noqa: E402 - as a module: its Test classes are not collected here
from jsonl_crm import JsonlCrm, json_values, physical_lines  # noqa: E402

FIXTURE, MALFORMED = kit.FIXTURE, kit.MALFORMED

CUSTOMERS = FIXTURE / "customers.jsonl"
#: Every email written in the fixture: none may reach the quarantine or a log.
EMAILS = re.findall(rb"[\w.+-]+@[\w-]+\.[\w.]+", CUSTOMERS.read_bytes())


def context(base_dir: Path) -> ConnectorContext:
    return ConnectorContext("crm", base_dir, dt.date(2026, 11, 23), base_dir / "out")


def load(wh: Warehouse, items: Iterable[RecordBatch]) -> tuple[LoadReport, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Load as source ``crm``: the report, the quarantine (file, line, column, reason) and the
    customers (customer_id, _line)."""
    report = load_source(wh, "crm", items)
    quarantine = quarantine_rows(wh, ("file", "line", "column", "reason"), order=("line", "file"))
    rows = wh.con.execute("SELECT customer_id, _line FROM customers ORDER BY _line NULLS LAST, 1").fetchall()
    return report, quarantine, rows


def read_fixture(page_size: int = 5000) -> list[RecordBatch]:
    source = JsonlCrm(JsonlCrm.Config(dir=str(FIXTURE), page_size=page_size), context(FIXTURE))
    source.check()
    return list(source.read("customers", None))


# ------------------------------------------------------------------------- the JSON-lines example


def test_fixture_quarantined_at_its_physical_lines_and_good_lines_load(wh: Warehouse) -> None:
    report, quarantine, rows = load(wh, read_fixture())
    f = str(CUSTOMERS)
    assert quarantine == [
        (f, 4, None, "not valid JSON: Expecting property name enclosed in double quotes (character 68)"),
        (f, 7, "customer_id", "missing key customer_id"),
        (f, 8, "email_opt_in", "not a boolean (expected true/false/Y/N/1/0)"),
        (f, 16, None, "not a JSON object (expected one customer per line)"),
        (f, 17, "updated_at", "not a timestamp (expected YYYY-MM-DD HH:MM:SS)"),
        (f, 18, None, "invalid UTF-8 (JSON Lines files are UTF-8)"),
        (f, 19, "customer_id", "duplicate of line 1"),
    ]
    assert sorted(line for _, line, *_ in quarantine) == MALFORMED["customers.jsonl"]
    # the line after the unfinished one (5), the record over lines 9-13, the one holding U+2028
    # (14) and the CRLF one (15) load at their lines; blank lines 3 and 6 are counted
    assert rows == [("C1", 1), ("C2", 2), ("C4", 5), ("C7", 9), ("C8", 14), ("C9", 15), ("C13", 20)]
    [file_report] = report.files
    assert (file_report.file, file_report.loaded, file_report.rows_quarantined) == (f, 7, 7)
    text = str(quarantine).encode()
    assert not [e for e in EMAILS if e in text]


def test_lines_do_not_depend_on_pages(wh: Warehouse) -> None:
    assert load(wh, read_fixture(page_size=1))[1:] == load(wh, read_fixture())[1:]


def test_lines_split_on_newline_only(tmp_path: Path) -> None:
    """What str.splitlines() breaks on does not shift later lines: U+2028, U+2029 and U+0085
    (allowed unescaped in a JSON string) in a good line, \\x0c and \\x1c (control characters JSON
    does not allow there) in a bad one; a BOM, CRLF and blank lines are handled."""
    allowed = "\u2028\u2029\x85"
    path = tmp_path / "customers.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + f'{{"id": "A", "first": "x{allowed}y"}}\r\n'.encode()
        + b'{"id": "Z", "first": "x\x0cy\x1cz"}\n'
        + b"\r\n\n"
        + b'{"id": "B"}\r\n'
        + b'{"id": "C"}'
    )
    parsed = [(n, problem or v["id"]) for n, v, problem in json_values(physical_lines(path))]
    assert [n for n, _ in parsed] == [1, 2, 5, 6]
    assert [v for n, v in parsed if n != 2] == ["A", "B", "C"]
    assert parsed[1][1].startswith("not valid JSON: Invalid control character")
    assert next(json_values(physical_lines(path)))[1]["first"] == f"x{allowed}y"


def test_a_record_over_several_lines_never_swallows_good_lines(tmp_path: Path) -> None:
    path = tmp_path / "customers.jsonl"
    path.write_text(
        '{"id": "A",\n'  # 1: unfinished, and line 2 cannot finish it
        '{"id": "B"}\n'  # 2
        '{"id": "C", "tags": [\n'  # 3: finished by 4-5
        '  "vip",\n'
        '  "fleet"]}\n'
        '{"id": "D", "note": "x\n'  # 6: a string cannot go on over a line end
        '{"id": "E", "tags": [\n',  # 7: the file ends first
        encoding="utf-8",
    )
    parsed = [(n, problem or v["id"]) for n, v, problem in json_values(physical_lines(path))]
    assert [n for n, _ in parsed] == [1, 2, 3, 6, 7]
    assert [v for _, v in parsed][1:3] == ["B", "C"]
    assert all(v.startswith("not valid JSON") for n, v in parsed if n in (1, 6, 7))


def test_a_line_holding_a_bare_json_string_is_not_a_record(tmp_path: Path) -> None:
    (tmp_path / "customers.jsonl").write_text('"zoe@example.com"\n', encoding="utf-8")
    source = JsonlCrm(JsonlCrm.Config(dir="."), context(tmp_path))
    assert list(source.items(tmp_path / "customers.jsonl")) == [
        Unparsable(tmp_path / "customers.jsonl", 1, "not a JSON object (expected one customer per line)")
    ]


def test_sync_through_the_jsonl_source(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A dealer's run: the CRM's bad lines are quarantined with its file and line, the run goes
    on, the good customers are delivered."""
    config = tmp_path / "connectors.toml"
    crm = table("sources.crm", connector="jsonl-crm", dir=FIXTURE.as_posix())
    config.write_text(dealership(crm, destination("meta", "meta-file"), everyone_to("meta"), sources=()), encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    [result] = run_sync(config, extra_plugins=[jsonl_crm])
    assert result.status == "ok", result.error
    assert result.written > 0
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        quarantine = con.execute("SELECT source, file, line FROM _quarantine ORDER BY line").fetchall()
        loaded = con.execute("SELECT count(*) FROM customers WHERE _source = 'crm' AND _line IS NOT NULL").fetchall()
        loads = con.execute("SELECT file, rows_loaded, rows_quarantined FROM _loads").fetchall()
    finally:
        con.close()
    assert quarantine == [("crm", str(CUSTOMERS), line) for line in MALFORMED["customers.jsonl"]]
    assert loaded == [(7,)]
    assert loads == [(str(CUSTOMERS), 7, 7)]
    logged = caplog.text.encode()
    assert EMAILS and b"crm" in logged  # not vacuous: the fixture holds emails, the sync logged its source
    assert not [e for e in EMAILS if e in logged]


# --------------------------------------------------------------------------------- the loader


def test_bare_located_and_unparsable_items_in_one_stream(wh: Warehouse, tmp_path: Path) -> None:
    """Bare records keep stream positions; located ones their file and line; a batch of several
    files is reported under the stream's name, its bad rows counted per (file, line)."""
    a, b = str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")
    items: list[RecordItem] = [
        {"customer_id": "S1"},
        Located({"customer_id": "A1"}, file=a, line=3),
        Unparsable(b, 3, "not valid JSON: Expecting value (character 1)"),
        Located({"customer_id": "B2", "birth_year": "soon"}, file=Path(b), line=4),
        {"customer_id": "S1"},
        Located({"customer_id": "A1"}, file=b, line=9),
    ]
    report, quarantine, rows = load(wh, [RecordBatch("customers", items)])
    assert quarantine == [
        (b, 3, None, "not valid JSON: Expecting value (character 1)"),
        (b, 4, "birth_year", "not a whole number"),
        ("crm:customers:records", 5, "customer_id", "duplicate of record 1"),
        (b, 9, "customer_id", f"duplicate of line 3 of {a}"),
    ]
    assert rows == [("A1", 3), ("S1", None)]
    [f] = report.files
    assert (f.file, f.loaded, f.rows_quarantined) == ("crm:customers:records", 2, 4)


def test_an_unparsable_reason_keeps_no_quoted_text() -> None:
    assert reported_reason("not valid JSON: Expecting ',' delimiter (character 9)") == (
        "not valid JSON: Expecting ',' delimiter (character 9)"
    )
    assert reported_reason('bad date "13/31/2026" for \'ann@example.com\'\nline: {"x": 1}') == (
        "bad date '...' for '...'"
    )
    assert reported_reason("the customer's line can't be read") == "the customer's line can't be read"
    assert len(reported_reason("x" * 1000)) == REASON_MAX


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Located({}, file="", line=1), "file must be the path"),
        (lambda: Located({}, file="a.jsonl", line=0), "1-based physical line"),
        (lambda: Located({}, file="a.jsonl", line=True), "1-based physical line"),
        (lambda: Unparsable("a.jsonl", 2, " "), "say what is wrong"),
        (lambda: Unparsable("a.jsonl", 2, "bad", column=3), "column name or None"),  # type: ignore[arg-type]
    ],
)
def test_a_located_item_names_a_file_and_a_line(make: Any, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        make()


class CountingConnection:
    """A DuckDB connection that counts the SQL statements sent through it."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.statements = con, 0

    def execute(self, *args: Any) -> Any:
        self.statements += 1
        return self.con.execute(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


@pytest.mark.parametrize("located", [False, True])
def test_valid_records_are_one_bulk_insert(located: bool) -> None:
    """Staging sends as many statements for 5,000 records as for 5: no statement per row."""

    def statements(n: int) -> int:
        records = [{"customer_id": f"C{i}", "email": f"p{i}@example.com", "birth_year": 1980} for i in range(n)]
        items = [Located(r, file="c.jsonl", line=i + 1) for i, r in enumerate(records)] if located else records
        with Warehouse(":memory:", memory_limit="256MB", threads=1) as wh:
            con = CountingConnection(wh.con)
            staged = stage_records(Scratch(con), "crm", RecordBatch("customers", items), 0)  # type: ignore[arg-type]
            assert wh.con.execute(f"SELECT count(*) FROM ({staged.good_sql})").fetchall() == [(n,)]
        return con.statements

    assert statements(5_000) == statements(5)


# ------------------------------------------------------------------------------------ the kit


def test_kit_checks_pass_the_example_and_name_each_fault(tmp_path: Path) -> None:
    def run(suite: type, check: str, base: Path) -> None:
        base.mkdir()
        getattr(suite(), check)(ConnectorContext("kit", base, dt.date(2026, 11, 23), base / "out"))

    lines, reasons = "test_malformed_lines_quarantined_at_their_line", "test_quarantine_reasons_hold_no_raw_value"
    run(kit.TestJsonlCrm, lines, tmp_path / "1")
    run(kit.TestJsonlCrm, reasons, tmp_path / "2")
    with pytest.raises(AssertionError, match="not the file each line came from: yield records as dealersync.Located"):
        run(kit.TestStreamPositionJsonlCrm, lines, tmp_path / "3")
    run(kit.TestStreamPositionJsonlCrm, reasons, tmp_path / "4")
    run(kit.TestEmailNamingJsonlCrm, lines, tmp_path / "5")
    with pytest.raises(AssertionError, match=r"\('customers.jsonl', 4, 'carla.broken@example.com'\)"):
        run(kit.TestEmailNamingJsonlCrm, reasons, tmp_path / "6")


def test_kit_names_lines_off_by_the_blank_ones(tmp_path: Path) -> None:
    """A source numbering its bad lines wrong, even in the right file, fails the check with the
    lines it missed and the ones it named instead."""
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "customers.jsonl").write_text('{"id": "A"}\n\n\n{"id": \n{"id": "B"}\n', encoding="utf-8")

    class Blanks(kit.TestJsonlCrm):
        malformed_lines = {"customers.jsonl": [4]}

        def make_malformed_config(self, base_dir: Path) -> dict[str, Any]:
            return {"dir": "crm"}

    class Shifted(JsonlCrm):
        def items(self, path: Path) -> Any:
            for item in super().items(path):
                yield Unparsable(path, 2, item.reason) if isinstance(item, Unparsable) else item

    class ShiftedBlanks(Blanks):
        connector = Shifted

    Blanks().test_malformed_lines_quarantined_at_their_line(context(tmp_path))
    with pytest.raises(AssertionError, match=r"not quarantined: \[\('customers.jsonl', 4\)\]; .*\[\('customers.jsonl', 2\)\]"):
        ShiftedBlanks().test_malformed_lines_quarantined_at_their_line(context(tmp_path))


@pytest.mark.slow
def test_the_kit_run_as_a_vendor_runs_it(tmp_path: Path) -> None:
    """pytest on tests/examples/jsonl_crm_kit.py (copied, with the example and its fixture): the
    example passes every check, each broken variant fails exactly its named check. Not
    installed, so the entry-point discovery check is left out."""
    for name in ("jsonl_crm.py", "jsonl_crm_kit.py"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    shutil.copytree(FIXTURE, tmp_path / FIXTURE.name)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-k", "not discoverable",
         "jsonl_crm_kit.py"],
        cwd=tmp_path, check=False, capture_output=True, text=True,
    )
    outcomes: dict[str, dict[str, str]] = {}
    for outcome, cls, check in re.findall(r"^(PASSED|FAILED|ERROR) \S+::(\w+)::(\w+)", proc.stdout, re.MULTILINE):
        outcomes.setdefault(cls, {})[check] = outcome
    failed = {cls: {c for c, o in checks.items() if o != "PASSED"} for cls, checks in outcomes.items()}
    assert failed == {
        "TestJsonlCrm": set(),
        "TestStreamPositionJsonlCrm": {"test_malformed_lines_quarantined_at_their_line"},
        "TestEmailNamingJsonlCrm": {"test_quarantine_reasons_hold_no_raw_value"},
    }, proc.stdout[-4000:]
    assert outcomes["TestJsonlCrm"].keys() >= {
        "test_malformed_lines_quarantined_at_their_line",
        "test_quarantine_reasons_hold_no_raw_value",
        "test_streams_load_cleanly",
        "test_keys_present_and_unique",
    }
