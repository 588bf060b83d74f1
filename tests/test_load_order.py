"""File order with DuckDB's parallel CSV reader: the rows' physical lines stay exact.

The loader reads an extract file with the parallel reader when DuckDB plans the read as a batch
insert fed by row-wise operators only (see :mod:`dealersync.loading.lines`); each row's line is
derived from its position, so a lost order would show here as wrong ``_line`` values.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
from dealersync import ExtractFile
from dealersync.loading import layout as layout_module
from dealersync.loading import load_source
from dealersync.loading.checks import row_checks
from dealersync.loading.layout import read_layout
from dealersync.loading.sql import keeps_file_order
from dealersync.model import TABLES


@pytest.fixture
def warehouse_memory() -> str:
    return "1GB"


def _random_file(
    path: Path, n: int, seed: int
) -> tuple[dict[str, int], dict[int, str]]:
    """A customers file of ``n`` records: mostly good rows, with a seeded sprinkle of blank
    lines, multi-line values, rejects, bad cells and repeated keys. Returns the expected
    (customer_id -> line) of the loaded rows and (line -> reason) of the quarantine."""
    rng = random.Random(seed)
    lines = ["customer_id,first_name,birth_year,email_opt_in,created_at"]
    good: dict[str, int] = {}
    bad: dict[int, str] = {}
    odd = ["blank", "multi", "int", "bool", "few", "many", "utf8", "dup", "blankmulti"]
    for i in range(n):
        at = len(lines) + 1
        kind = rng.choice(odd) if rng.random() < 0.004 else "good"
        cid = f"K{i}"
        filler = "x" * rng.randrange(40, 90)  # some bulk: the file spans several chunks
        if kind == "good":
            lines.append(f"{cid},{filler},{1900 + i % 100},Y,2020-01-02 03:04:05")
            good[cid] = at
        elif kind == "blank":
            lines.append("")
        elif kind == "multi":
            lines += [f'{cid},"a{filler}', f'b",{1900 + i % 100},no,2020-01-02']
            good[cid] = at
        elif kind == "blankmulti":
            lines += [f'{cid},"a', "", f'c{filler}",1950,TRUE,']
            good[cid] = at
        elif kind == "int":
            lines.append(f"{cid},{filler},19x0,N,2020-01-02")
            bad[at] = "not a whole number"
        elif kind == "bool":
            lines.append(f"{cid},{filler},1950,maybe,2020-01-02")
            bad[at] = "not a boolean (expected true/false/Y/N/1/0)"
        elif kind == "few":
            lines.append(f"{cid},{filler},1950")
            bad[at] = "expected 5 columns, found 3"
        elif kind == "many":
            lines += [f'{cid},"x', f'y{filler}",1950,Y,2020-01-02,surplus']
            bad[at] = "expected 5 columns, found 6"
        elif kind == "utf8":
            lines.append(f"{cid},ab\udcff{filler},1950,Y,2020-01-02")
            bad[at] = "invalid UTF-8"
        else:  # a key seen before: quarantined as a duplicate of the first one's line
            first = rng.choice(list(good)) if good else None
            if first is None:
                lines.append(f"{cid},{filler},1950,Y,2020-01-02")
                good[cid] = at
            else:
                lines.append(f"{first},{filler},1950,Y,2020-01-02")
                bad[at] = f"duplicate of line {good[first]}"
    data = "\n".join(lines) + "\n"
    path.write_bytes(data.encode("utf-8", "surrogateescape"))
    return good, bad


@pytest.mark.slow
@pytest.mark.parametrize("buffer_mib", [4, None])
def test_every_row_of_a_large_file_keeps_its_physical_line(
    wh, tmp_path, caplog, monkeypatch, buffer_mib
):
    """~30 MB read in parallel (with 4 MiB buffers: many chunks, each a batch of the insert;
    and with the loader's own buffer): every loaded row's _line and every quarantine line
    equal the ones written, and the read was the parallel one."""
    if buffer_mib:
        monkeypatch.setattr(layout_module, "PARALLEL_BUFFER", buffer_mib * 1024 * 1024)
    caplog.set_level(logging.DEBUG, logger="dealersync.loading")
    path = tmp_path / "customers.csv"
    good, bad = _random_file(path, 300_000, seed=5)
    assert path.stat().st_size > 24 * 1024 * 1024
    # strict UTF-8: the "utf8" rows are quarantined (by default the file is Windows-1252)
    ef = ExtractFile(path=path, table="customers", encoding="utf-8")
    report = load_source(wh, "s", [ef])
    assert not report.files[0].approximate_lines
    assert "single-threaded" not in caplog.text  # the parallel read was used and kept
    got = dict(wh.con.execute("SELECT customer_id, _line FROM customers").fetchall())
    assert len(got) == len(good)
    wrong = [(k, v, got.get(k)) for k, v in good.items() if got.get(k) != v]
    assert not wrong, wrong[:5]
    quarantined = {
        line: reason
        for line, reason in wh.con.execute(
            "SELECT line, reason FROM _quarantine"
        ).fetchall()
    }
    assert quarantined == bad


@pytest.mark.parametrize("table", list(TABLES))
def test_every_tables_checked_read_keeps_file_order_in_parallel(wh, tmp_path, table):
    """The conversion and checks of every canonical table plan as row-wise operators into a
    batch insert (an IN list of 5+ constants, say, would plan as a hash join and lose it)."""
    t = TABLES[table]
    path = tmp_path / f"{table}.csv"
    path.write_text(
        ",".join(t.column_names) + "\n" + ",".join("1" for _ in t.columns) + "\n"
    )
    layout = read_layout(ExtractFile(path=path, table=table), t)
    sql = "CREATE TEMP TABLE x AS " + row_checks(layout).select_from(
        layout.read_csv("store_rejects=true", parallel=True)
    )
    assert keeps_file_order(wh.con, sql, layout.read_params)


def test_plans_that_may_reorder_are_refused(wh, tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("a\n1\n")
    read = f"read_csv('{path}', all_varchar=true, parallel=true)"
    ok = f"CREATE TEMP TABLE x AS SELECT a, a = '1' OR a = '2' AS b FROM {read} WHERE a <> ''"
    assert keeps_file_order(wh.con, ok)
    in_list = (
        f"CREATE TEMP TABLE x AS SELECT a IN ('1', '2', '3', '4', '5') AS b FROM {read}"
    )
    assert not keeps_file_order(wh.con, in_list)  # planned as a hash (mark) join
    window = f"CREATE TEMP TABLE x AS SELECT a, row_number() OVER () AS n FROM {read}"
    assert not keeps_file_order(wh.con, window)
    assert not keeps_file_order(wh.con, "CREATE TEMP TABLE x AS SELECT nonsense")


@pytest.mark.slow
def test_a_large_file_of_multi_line_values_keeps_its_lines(
    wh, tmp_path, caplog, monkeypatch
):
    """Every value spans 1-3 lines, so chunk boundaries of the parallel reader (4 MiB
    buffers) fall inside quoted values; each row's line is still the one it starts on."""
    monkeypatch.setattr(layout_module, "PARALLEL_BUFFER", 4 * 1024 * 1024)
    caplog.set_level(logging.DEBUG, logger="dealersync.loading")
    rng = random.Random(3)
    lines = ["customer_id,first_name,birth_year"]
    expected: dict[str, int] = {}
    for i in range(250_000):
        expected[f"K{i}"] = len(lines) + 1
        parts = ["y" * rng.randrange(20, 60) for _ in range(rng.randrange(1, 4))]
        if len(parts) == 1:
            lines.append(f'K{i},"{parts[0]}",1950')
        else:
            lines += [f'K{i},"{parts[0]}', *parts[1:-1], f'{parts[-1]}",1950']
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(lines) + "\n")
    report = load_source(wh, "s", [ExtractFile(path=path, table="customers")])
    assert not report.files[0].approximate_lines
    assert "single-threaded" not in caplog.text
    got = dict(wh.con.execute("SELECT customer_id, _line FROM customers").fetchall())
    assert got == expected


@pytest.mark.slow
def test_an_unterminated_quote_mid_file_reads_again_single_threaded(
    wh, tmp_path, caplog, monkeypatch
):
    """The parallel reader resumes after an unclosed quote at its next chunk and loses the
    rows in between without a reject: the loader reads the file again single-threaded,
    which stops at the quote (the rest of the file is one unterminated value)."""
    monkeypatch.setattr(layout_module, "PARALLEL_BUFFER", 4 * 1024 * 1024)
    caplog.set_level(logging.DEBUG, logger="dealersync.loading")
    lines = ["customer_id,first_name,birth_year"]
    lines += [f"K{i},{'x' * 40},{1900 + i % 100}" for i in range(600_000)]
    lines[1001] = 'K1000,"unterminated,1950'  # line 1002
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(lines) + "\n")
    report = load_source(wh, "s", [ExtractFile(path=path, table="customers")])
    assert "read again single-threaded" in caplog.text
    assert report.files[0].loaded == 1000
    assert wh.con.execute(
        "SELECT count(*) FROM customers WHERE _line <> CAST(substr(customer_id, 2) AS INT) + 2"
    ).fetchall() == [(0,)]
    assert wh.con.execute(
        'SELECT line, "column", reason FROM _quarantine'
    ).fetchall() == [(1002, None, "unterminated quote")]
