"""`dealersync opcodes`: every op code with its numbers and categories, uncategorized first; the
--csv file round trip back into the config; the sync's warning about uncategorized revenue."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from dealersync.cli import cli as main
from dealersync.service_categories.overrides import COLUMNS
from dealersync.testing import write_extract

from tests.support.configs import dealership

CONFIG = dealership()

CUSTOMERS = [{"customer_id": f"C{i}", "first_name": f"Name{i}", "email": f"p{i}@example.com"} for i in range(1, 5)]
REPAIR_ORDERS = [
    {"ro_id": "R1", "customer_id": "C1", "opened_on": "2026-10-01", "pay_type": "customer"},
    {"ro_id": "R2", "customer_id": "C2", "opened_on": "2026-10-05", "pay_type": "customer"},
    {"ro_id": "R3", "customer_id": "C3", "opened_on": "2026-11-02", "pay_type": "customer"},
    {"ro_id": "R4", "customer_id": "C4", "opened_on": "2026-11-10", "pay_type": "warranty"},
]


def line(ro: str, n: int, code: str, description: str, labor: float, parts: float = 0.0,
         status: str = "performed") -> dict[str, object]:
    return {"ro_id": ro, "line_no": n, "op_code": code, "description": description,
            "labor_amount": labor, "parts_amount": parts, "status": status}


LINES = [
    line("R1", 1, "4TIRESMB", "MOUNT & BALANCE 4 NEW TIRES", 100, 700),
    line("R1", 2, "SHOP", "SHOP SUPPLIES", 20),
    line("R2", 1, "4TIRESMB", "MOUNT & BALANCE 4 NEW TIRES", 100, 600),
    line("R2", 2, "ZZ9", "WATER PUMP R&R", 300, 200),  # uncategorized, big
    line("R2", 3, "ZZ9", "WATER PUMP R&R", 300, 200, status="declined"),  # a quote: no revenue
    line("R3", 1, "LOFROT", "LOF W/ TIRE ROTATION", 60),
    line("R3", 2, "TR", "TIRE ROTATION", 25),
    line("R4", 1, "MISC", "REPLACE FRONT PADS", 120, 90),
    line("R4", 2, "MISC", "HEADLAMP AIM", 40),
]


def setup(tmp_path: Path, extra: str = "", lines: list[dict[str, object]] | None = None) -> Path:
    write_extract(tmp_path / "dms", {"customers": CUSTOMERS, "repair_orders": REPAIR_ORDERS,
                                     "ro_lines": LINES if lines is None else lines})
    config = tmp_path / "connectors.toml"
    config.write_text(CONFIG + extra)
    result = CliRunner().invoke(main, ["sync", "--config", str(config)])
    assert result.exit_code == 0, result.output
    return config


def opcodes(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["opcodes", "--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


def codes_in_order(output: str) -> list[str]:
    return [row.split("│")[1].strip() for row in output.splitlines()
            if row.startswith("│") and row.split("│")[1].strip()]


def test_lists_every_op_code_uncategorized_first_by_revenue(tmp_path: Path) -> None:
    out = opcodes(setup(tmp_path))
    # by uncategorized revenue: ZZ9 500, MISC 40 (one of its two lines), SHOP 20; then the rest
    # by revenue
    assert codes_in_order(out) == ["ZZ9", "MISC", "SHOP", "4TIRESMB", "LOFROT", "TR"]
    rows = {r.split("│")[1].strip(): [c.strip() for c in r.split("│")[2:-1]] for r in out.splitlines()
            if r.startswith("│") and r.split("│")[1].strip()}
    assert rows["4TIRESMB"][:5] == ["MOUNT & BALANCE 4 NEW TIRES", "2", "2", "1,500.00", "2026-10-05"]
    assert rows["4TIRESMB"][5] == "tires (keyword tires)"
    assert rows["ZZ9"][1:4] == ["2", "1", "500.00"]  # two lines, one customer, the declined one is no revenue
    assert rows["LOFROT"][5] == "oil (keyword oil); rotation (keyword rotation)"
    assert rows["MISC"][5].startswith("brakes (keyword brakes); uncategorized: 1 of 2 lines")
    # 560 of 2,355: the declined line is no revenue
    assert "6 op codes, 9 lines; uncategorized: 4 lines carrying 23.8% of the revenue" in out
    for name in ("Name1", "p1@example.com"):  # never a customer
        assert name not in out


def test_csv_round_trip_sets_categories_through_the_config(tmp_path: Path) -> None:
    config = setup(tmp_path)
    target = tmp_path / "opcodes.csv"
    out = opcodes(config, "--csv", str(target))
    assert f"wrote 6 op codes to {target}" in out
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert tuple(rows[0]) == COLUMNS
    assert [r["op_code"] for r in rows] == ["ZZ9", "MISC", "SHOP", "4TIRESMB", "LOFROT", "TR"]
    assert rows[0]["categories"] == "" and rows[0]["set_category"] == ""
    assert rows[3]["categories"] == "tires" and rows[3]["revenue"] == "1500.00"
    # the dealer fills set_category in a spreadsheet and names the file in the config
    rows[0]["set_category"] = "fluids; diagnosis"
    rows[2]["set_category"] = "none"
    with target.open("w", encoding="utf-8-sig", newline="") as fh:  # Excel's "CSV UTF-8" has a BOM
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    config.write_text(config.read_text() + '[service_categories]\nopcodes_file = "opcodes.csv"\n')
    out = opcodes(config)
    assert "diagnosis (dealer code ZZ9); fluids (dealer code ZZ9)" in out
    assert "none (dealer code SHOP)" in out
    # decided now, SHOP by choice without category: MISC's HEADLAMP AIM alone is left
    assert codes_in_order(out) == ["MISC", "4TIRESMB", "ZZ9", "LOFROT", "TR", "SHOP"]
    # writing the file again keeps the dealer's column, and codes no longer seen
    opcodes(config, "--csv", str(target))
    kept = {r["op_code"]: r["set_category"] for r in csv.DictReader(target.open(encoding="utf-8"))}
    assert kept["ZZ9"] == "fluids; diagnosis" and kept["SHOP"] == "none" and kept["TR"] == ""
    setup(tmp_path, '[service_categories]\nopcodes_file = "opcodes.csv"\n', lines=LINES[:2])
    opcodes(config, "--csv", str(target))
    kept = {r["op_code"]: r["set_category"] for r in csv.DictReader(target.open(encoding="utf-8"))}
    assert kept == {"4TIRESMB": "", "SHOP": "none", "ZZ9": "fluids; diagnosis"}


def test_sync_warns_when_uncategorized_lines_carry_much_revenue(tmp_path: Path) -> None:
    write_extract(tmp_path / "dms", {"customers": CUSTOMERS, "repair_orders": REPAIR_ORDERS, "ro_lines": LINES})
    config = tmp_path / "connectors.toml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(main, ["sync", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (
        "warning: uncategorized repair-order lines carry 23.8% of the service revenue (more than"
        " 10%): category segments miss them." in result.output
    )
    config.write_text(CONFIG + "[service_categories]\nuncategorized_warning = 0.3\n")
    result = CliRunner().invoke(main, ["sync", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "uncategorized" not in result.output
    config.write_text(CONFIG + '[service_categories.opcodes]\nZZ9 = "fluids"\n')
    result = CliRunner().invoke(main, ["sync", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "uncategorized" not in result.output  # 60 of 2,355 left: under 10%
