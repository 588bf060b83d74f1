"""Money as report writers write it loads as numbers; what is still not a number is quarantined."""

from __future__ import annotations

from pathlib import Path

import pytest
from dealersync import ConfigError, ExtractFile
from dealersync.loading import load_source

from tests.support.queries import quarantine
from dealersync.store import Warehouse


def _load(wh: Warehouse, tmp_path: Path, cells: list[str], **options) -> list[tuple]:
    """Load ``cells`` as ro_lines.labor_amount and odometer-free rows; (line, amount)."""
    rows = [f'R{i},1,"{v}"' for i, v in enumerate(cells)]
    path = tmp_path / "ro_lines.csv"
    path.write_text("\n".join(["ro_id,line_no,labor_amount", *rows]) + "\n")
    load_source(wh, "s", [ExtractFile(path=path, table="ro_lines", **options)], force=True)
    return wh.con.execute("SELECT _line, labor_amount FROM ro_lines ORDER BY _line").fetchall()


MONEY = [
    ("12", 12.0),
    ("1234.56", 1234.56),
    ("$1,234.56", 1234.56),
    ("1,234.56", 1234.56),
    ("1,234,567.80", 1234567.8),
    ("(12.00)", -12.0),
    ("($12.00)", -12.0),
    ("( $ 1,200.50 )", -1200.5),
    ("-$5", -5.0),
    ("$-5", -5.0),
    ("- $ 5.25", -5.25),
    ("12.00-", -12.0),
    ("$1,012.00-", -1012.0),
    ("$ 99.95", 99.95),
    ("€12.50", 12.5),
    ("12.50 €", 12.5),
    ("£1,000", 1000.0),
    (".50", 0.5),
    ("$.99", 0.99),
    ("+7", 7.0),
    ("  $3.10  ", 3.1),
]


def test_money_forms_load_as_numbers(wh, tmp_path):
    got = _load(wh, tmp_path, [v for v, _ in MONEY])
    assert got == [(i + 2, n) for i, (_, n) in enumerate(MONEY)]
    assert wh.con.execute("SELECT count(*) FROM _quarantine").fetchall() == [(0,)]


NOT_NUMBERS = ["1,23", "12-3", "--5", "(-5)", "(5", "$-5-", "5 $ 5", "abc", "1.2.3", "USD", "$", "1,2345.00", "inf"]


def test_what_is_still_not_a_number_is_quarantined_without_the_value(wh, tmp_path):
    got = _load(wh, tmp_path, ["$1.00", *NOT_NUMBERS])
    assert got == [(2, 1.0)]
    q = quarantine(wh, order=("line",))
    assert q == [(i + 3, "labor_amount", "not a number") for i in range(len(NOT_NUMBERS))]


def test_decimal_comma_when_the_option_says_so(wh, tmp_path):
    cells = ["12,50", "1.234,56", "(1.234,50 €)", "12,50-", "€ 3", "7"]
    got = _load(wh, tmp_path, cells, decimal_separator=",")
    assert [n for _, n in got] == [12.5, 1234.56, -1234.5, -12.5, 3.0, 7.0]
    # a decimal point is not a decimal separator then, nor is a comma by default
    assert [n for _, n in _load(wh, tmp_path, ["12.5", "1,5"], decimal_separator=",")] == [1.5]
    assert _load(wh, tmp_path, ["1,5"]) == []


def test_whole_numbers_accept_thousands_separators(wh, tmp_path):
    path = tmp_path / "repair_orders.csv"
    path.write_text('ro_id,odometer,total\nR1,"45,123","$1,005.10"\nR2,45123,12\nR3,"$5",1\nR4,"1,23",1\n')
    load_source(wh, "s", [ExtractFile(path=path, table="repair_orders")])
    assert wh.con.execute("SELECT ro_id, odometer, total FROM repair_orders ORDER BY 1").fetchall() == [
        ("R1", 45123, 1005.1),
        ("R2", 45123, 12.0),
    ]
    assert quarantine(wh, order=("line",)) == [
        (4, "odometer", "not a whole number"),
        (5, "odometer", "not a whole number"),
    ]


def test_an_unknown_decimal_separator_is_a_config_error(wh, tmp_path):
    path = tmp_path / "ro_lines.csv"
    path.write_text("ro_id,line_no\nR1,1\n")
    with pytest.raises(ConfigError, match="decimal_separator"):
        load_source(wh, "s", [ExtractFile(path=path, table="ro_lines", decimal_separator=";")])
