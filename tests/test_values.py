"""Value vocabularies: a DMS's own words for enumerated columns load as the canonical values."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
from dealersync import ConfigError, ExtractFile, RecordBatch
from dealersync.loading import layout as layout_module
from dealersync.loading import load_source
from dealersync.model import ENUMERATED, TABLES
from dealersync.store import Warehouse
from dealersync.vocabularies import BUILT_IN, unknown_value_reason

from tests.support.queries import quarantine

STATUS_REASON = (
    "unknown value for status (expected performed, declined or recommended;"
    " map it with the source option values.ro_lines.status)"
)


@pytest.fixture
def warehouse_memory() -> str:
    return "512MB"


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _load_column(
    wh: Warehouse, tmp_path: Path, table: str, column: str, cells: list[str], **options
) -> list[tuple[int, str | None]]:
    """Load ``cells`` as ``table.column`` (one row each, keys 1..n if the table has a key);
    (line, loaded value)."""
    t = TABLES[table]
    header = ",".join(dict.fromkeys([*t.key, column]))
    rows = []
    for i, v in enumerate(cells, start=1):
        cells = {k: "1" for k in t.key} | {k: str(i) for k in t.key[:1]} | {column: f'"{v}"'}
        rows.append(",".join(cells[c] for c in header.split(",")))
    path = _write(tmp_path / f"{table}.csv", header, rows)
    load_source(wh, "s", [ExtractFile(path=path, table=table, **options)], force=True)
    return wh.con.execute(
        f'SELECT _line, "{column}" FROM {table} ORDER BY _line'
    ).fetchall()


def _spellings(table: str, column: str) -> list[tuple[str, str]]:
    """(spelling, canonical) for every built-in spelling and canonical value of a column, in
    the case written, lower case, title case and with surrounding spaces."""
    out = []
    for canonical in ENUMERATED[(table, column)]:
        out.append((canonical, canonical))
    for canonical, spellings in BUILT_IN[(table, column)].items():
        out += [(s, canonical) for s in spellings]
    variants = []
    for s, c in out:
        variants += [(s, c), (s.lower(), c), (s.title(), c), (f"  {s} ", c)]
    return variants


@pytest.mark.parametrize("table,column", list(ENUMERATED), ids=lambda x: str(x))
def test_every_built_in_spelling_loads_as_its_canonical_value(wh, tmp_path, table, column):
    spellings = _spellings(table, column)
    got = _load_column(wh, tmp_path, table, column, [s for s, _ in spellings])
    assert [v for _, v in got] == [c for _, c in spellings]
    assert not wh.con.execute("SELECT count(*) FROM _quarantine").fetchall()[0][0]


def test_every_enumerated_column_has_built_in_spellings():
    assert set(BUILT_IN) == set(ENUMERATED)
    for key, by_value in BUILT_IN.items():
        assert set(by_value) <= set(ENUMERATED[key]), key


def test_c_means_what_its_column_says(wh, tmp_path):
    """The same letter is a performed line, customer pay, a cash deal, a kept appointment."""
    assert _load_column(wh, tmp_path, "ro_lines", "status", ["C"])[0][1] == "performed"
    assert _load_column(wh, tmp_path, "repair_orders", "pay_type", ["C"])[0][1] == "customer"
    assert _load_column(wh, tmp_path, "deals", "deal_type", ["C"])[0][1] == "cash"
    assert _load_column(wh, tmp_path, "appointments", "status", ["c"])[0][1] == "completed"
    assert _load_column(wh, tmp_path, "ro_lines", "status", ["D"])[0][1] == "declined"
    assert _load_column(wh, tmp_path, "repair_orders", "pay_type", ["I"])[0][1] == "internal"


def test_empty_value_stays_empty(wh, tmp_path):
    assert _load_column(wh, tmp_path, "ro_lines", "status", ["", "  "]) == [
        (2, None),
        (3, None),
    ]


def test_unknown_value_is_quarantined_with_line_and_column_never_the_value(wh, tmp_path):
    got = _load_column(
        wh, tmp_path, "ro_lines", "status", ["C", "WIP-SECRET", "declined", "maybe"]
    )
    assert got == [(2, "performed"), (4, "declined")]
    q = wh.con.execute(
        'SELECT file, line, "column", reason FROM _quarantine ORDER BY line'
    ).fetchall()
    file = str(tmp_path / "ro_lines.csv")
    assert q == [(file, 3, "status", STATUS_REASON), (file, 5, "status", STATUS_REASON)]
    assert "SECRET" not in repr(q) and "maybe" not in repr(q)
    report = load_source(
        wh, "s", [ExtractFile(path=tmp_path / "ro_lines.csv", table="ro_lines")], force=True
    )
    assert report.files[0].quarantined == {"unknown value": 2}


def test_dealer_mapping_adds_and_overrides_spellings(wh, tmp_path):
    values = {"status": {"wip": "recommended", "C": "declined", " Sold ": "performed"}}
    got = _load_column(
        wh, tmp_path, "ro_lines", "status", ["WIP", "c", "SOLD", "D", "performed"],
        values=values,
    )
    assert [v for _, v in got] == [
        "recommended", "declined", "performed", "declined", "performed"
    ]


def test_dealer_mapping_is_per_column(wh, tmp_path):
    """A mapping for ro_lines.status does not change repair_orders.pay_type."""
    got = _load_column(
        wh, tmp_path, "repair_orders", "pay_type", ["C"], values={"pay_type": {"X": "warranty"}}
    )
    assert got == [(2, "customer")]


@pytest.mark.parametrize(
    "values,message",
    [
        ({"op_code": {"X": "tires"}}, "ro_lines.op_code is not an enumerated column"),
        ({"status": {"X": "done"}}, "'X' maps to 'done', not one of performed, declined,"),
        ({"status": {" ": "declined"}}, "an empty spelling cannot be mapped"),
    ],
)
def test_a_bad_mapping_is_a_config_error_naming_it(wh, tmp_path, values, message):
    path = _write(tmp_path / "ro_lines.csv", "ro_id,line_no,status", ["R1,1,C"])
    with pytest.raises(ConfigError, match="the `values` option") as e:
        load_source(wh, "s", [ExtractFile(path=path, table="ro_lines", values=values)])
    assert message in str(e.value)


def test_changing_the_mapping_reloads_an_unchanged_file(wh, tmp_path):
    path = _write(tmp_path / "ro_lines.csv", "ro_id,line_no,status", ["R1,1,WIP"])
    load_source(wh, "s", [ExtractFile(path=path, table="ro_lines")])
    assert wh.con.execute("SELECT count(*) FROM ro_lines").fetchall() == [(0,)]
    report = load_source(
        wh, "s",
        [ExtractFile(path=path, table="ro_lines", values={"status": {"WIP": "recommended"}})],
    )
    assert not report.files[0].unchanged
    assert wh.con.execute("SELECT status FROM ro_lines").fetchall() == [("recommended",)]


def test_record_batches_are_mapped_the_same_way(wh):
    batch = RecordBatch(
        "ro_lines",
        [
            {"ro_id": "R1", "line_no": 1, "status": "C"},
            {"ro_id": "R1", "line_no": 2, "status": " decl "},
            {"ro_id": "R1", "line_no": 3, "status": "WIP"},
            {"ro_id": "R1", "line_no": 4, "status": "nope"},
            {"ro_id": "R1", "line_no": 5, "status": None},
        ],
        values={"status": {"wip": "recommended"}},
    )
    load_source(wh, "api", [batch])
    assert wh.con.execute("SELECT line_no, status FROM ro_lines ORDER BY 1").fetchall() == [
        (1, "performed"),
        (2, "declined"),
        (3, "recommended"),
        (5, None),
    ]
    assert wh.con.execute('SELECT file, line, "column", reason FROM _quarantine').fetchall() == [
        ("api:ro_lines:records", 4, "status", STATUS_REASON)
    ]
    pays = RecordBatch("repair_orders", [{"ro_id": "R1", "pay_type": "C"}])
    load_source(wh, "api", [pays])
    assert wh.con.execute("SELECT pay_type FROM repair_orders").fetchall() == [("customer",)]


def test_record_batch_with_a_bad_mapping_is_a_config_error(wh):
    batch = RecordBatch("ro_lines", [], values={"status": {"X": "gone"}})
    with pytest.raises(ConfigError, match="api:ro_lines:records: the `values` option"):
        load_source(wh, "api", [batch])


def test_unknown_value_reason_names_every_canonical_value_and_the_option():
    assert unknown_value_reason("appointments", "status") == (
        "unknown value for status (expected scheduled, completed, cancelled or no_show;"
        " map it with the source option values.appointments.status)"
    )


@pytest.mark.slow
def test_a_large_ro_lines_file_keeps_every_line_with_mapped_statuses(
    wh, tmp_path, caplog, monkeypatch
):
    """~25 MB of ro_lines read by the parallel reader (4 MiB buffers: many chunks): every
    row keeps its physical line and its mapped status, unknown values are quarantined at
    their line."""
    monkeypatch.setattr(layout_module, "PARALLEL_BUFFER", 4 * 1024 * 1024)
    caplog.set_level(logging.DEBUG, logger="dealersync.loading")
    rng = random.Random(12)
    spellings = _spellings("ro_lines", "status") + [("WIP", "recommended")]
    lines = ["ro_id,line_no,op_code,description,labor_amount,status"]
    expected: dict[str, tuple[int, str]] = {}
    bad: list[int] = []
    for i in range(300_000):
        at = len(lines) + 1
        if rng.random() < 0.002:
            lines.append(f"R{i},1,X,{'d' * rng.randrange(20, 60)},10,UNKNOWN{i}")
            bad.append(at)
            continue
        spelling, canonical = rng.choice(spellings)
        lines.append(f"R{i},1,LOF,{'d' * rng.randrange(30, 70)},${i % 10},{spelling}")
        expected[f"R{i}"] = (at, canonical)
    path = tmp_path / "ro_lines.csv"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 20 * 1024 * 1024  # many parallel chunks
    report = load_source(
        wh, "s",
        [ExtractFile(path=path, table="ro_lines", values={"status": {"WIP": "recommended"}})],
    )
    assert not report.files[0].approximate_lines
    assert "single-threaded" not in caplog.text
    got = {
        r: (line, status)
        for r, line, status in wh.con.execute(
            "SELECT ro_id, _line, status FROM ro_lines"
        ).fetchall()
    }
    assert got == expected
    q = quarantine(wh, order=("line",))
    assert q == [(line, "status", STATUS_REASON) for line in bad]


def test_the_data_model_doc_lists_every_built_in_spelling():
    doc = (Path(__file__).parents[1] / "docs" / "data-model.md").read_text()
    for (table, column), by_value in BUILT_IN.items():
        for canonical, spellings in by_value.items():
            row = f"| `{table}.{column}` | `{canonical}` | " + ", ".join(f"`{s}`" for s in spellings) + " |"
            assert row in doc, row
