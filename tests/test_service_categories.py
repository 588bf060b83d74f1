"""Service categories: each layer, their order, several categories per line, exclude phrases,
the dealer's config, and the facts built from them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dealersync.config import load_config
from dealersync.errors import ConfigError
from dealersync.facts import FactRegistry, build_facts, facts_fingerprint
from dealersync.service_categories import (
    CategoryRules,
    ServiceCategorySettings,
    categorize_lines,
    category_rules,
    config_rules,
)

AS_OF = dt.date(2026, 11, 23)


def cats(rows: list[tuple[str | None, str | None]], rules: CategoryRules | None = None) -> list[list[str]]:
    return [[c for c, _ in line] for line in categorize_lines(rows, rules)]


def one(op_code: str | None, description: str | None, rules: CategoryRules | None = None) -> list[tuple[str, str]]:
    return categorize_lines([(op_code, description)], rules)[0]


def rules_of(**settings: Any) -> CategoryRules:
    return category_rules(ServiceCategorySettings.model_validate(settings))


# -- the built-in layers ------------------------------------------------------------------


def test_builtin_code_decides_a_line_without_description() -> None:
    assert one("lof ", None) == [("oil", "built-in code LOF")]
    assert one("BRKF", "") == [("brakes", "built-in code BRKF")]


def test_keywords_come_before_builtin_codes() -> None:
    # the built-in code TIRES says tires, the description says rotation: the description wins
    assert one("TIRES", "TIRE ROTATION") == [("rotation", "keyword rotation")]
    # a description no keyword knows leaves the built-in code to decide
    assert one("BATT", "R&R PER WORK ORDER") == [("battery", "built-in code BATT")]


def test_uncategorized_is_never_guessed() -> None:
    assert cats([("W123", "REPLACE WATER PUMP PER TSB"), (None, None), ("ZZ", "COMPLIMENTARY CAR WASH"),
                 ("SS", "SHOP SUPPLIES")]) == [[], [], [], []]


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("LOF W/ TIRE ROTATION", ["oil", "rotation"]),
        ("4 TIRES + ALIGN", ["alignment", "tires"]),
        ("4 TIRES M&B W/ 4 WHL ALIGNMENT", ["alignment", "tires"]),
        ("EXPRESS SERVICE LOF/ROT/INSP", ["inspection", "oil", "rotation"]),
        ("30K MAINT - LOF, ROTATE, CABIN & ENG AIR FLTRS", ["filters", "oil", "rotation"]),
        ("OIL & FILTER CHANGE", ["oil"]),  # the oil filter belongs to the oil change
        ("TRANS FLUID & FILTER", ["fluids"]),
    ],
)
def test_several_categories_per_line(description: str, expected: list[str]) -> None:
    assert cats([("X1", description)]) == [expected]


#: Lines that name tires or brakes without selling them, as dealers write them.
NOT_PURCHASES = [
    "TIRE ROTATION",
    "ROTATE TIRES",
    "ROT TIRES - SET PRESSURES",
    "ROTATE AND BALANCE 4 TIRES",
    "TIRE PRESSURE CHECK",
    "TIRE PRESSURE CHECK / TPMS RESET",
    "CHECK & ADJUST TIRE PRESSURE",
    "FLAT TIRE REPAIR",
    "PATCH TIRE - NAIL IN TREAD",
    "TIRE PLUG/PATCH",
    "SEASONAL TIRE CHANGEOVER",
    "SPARE TIRE INSPECTION",
    "TIRES MAKING NOISE AT HIGHWAY SPEED",
    "GREEN TIRE",
    "BRAKE INSPECTION",
    "INSPECT BRAKES - MEASURE PADS",
    "CHECK BRAKES - CUST STATES SQUEAK",
    "MULTI POINT INSP - CHECK BRAKES",
    "MPI - TIRES & BRAKES MEASURED",
    "BRAKE FLUID FLUSH",
    "BRAKE FLUID EXCHANGE",
    "CUST STATES BRAKE NOISE - DIAG",
    "DIAG BRAKE SQUEAL",
    "FRONT PADS AT 4MM",
    "BRAKE LIGHT BULB",
]

#: Lines that do sell tires or brakes.
PURCHASES = [
    ("MOUNT & BALANCE 4 NEW TIRES", "tires"),
    ("4 NEW TIRS MOUNT & BAL", "tires"),
    ("MNT/BAL 4 TIRES + TPMS KITS", "tires"),
    ("2 TIRES M/B", "tires"),
    ("REPLACE 2 FRONT TIRES", "tires"),
    ("4 NEW TIRES + TIRE ROTATION", "tires"),  # the exclude phrase vetoes only where it stands
    ("BFGOODRICH KO2 LT275/70R18 X4 INSTALLED", "tires"),
    ("MICHELIN DEFENDER 225/65R17", "tires"),
    ("FRONT BRAKE PADS & ROTORS", "brakes"),
    ("FRONT BREAK PADS & RESURFACE ROTORS", "brakes"),
    ("REPLACE FRONT PADS", "brakes"),
    ("RR BRAKE PADS & ROTORS", "brakes"),
    ("BRAKE JOB ALL 4 WHLS", "brakes"),
    ("REPLACE FRONT CALIPER L/F", "brakes"),
]


def test_exclude_phrases_keep_non_purchases_out_of_tires_and_brakes() -> None:
    got = cats([("X", d) for d in NOT_PURCHASES])
    wrong = {d: c for d, c in zip(NOT_PURCHASES, got, strict=True) if {"tires", "brakes"} & set(c)}
    assert wrong == {}


def test_purchases_of_tires_and_brakes_are_found() -> None:
    got = cats([("X", d) for d, _ in PURCHASES])
    missed = [d for (d, want), c in zip(PURCHASES, got, strict=True) if want not in c]
    assert missed == []


def test_non_purchase_lines_get_the_work_they_are() -> None:
    assert cats([("TR", "TIRE ROTATION"), ("BI", "BRAKE INSPECTION"), ("BF", "BRAKE FLUID FLUSH"),
                 ("KF", "KEY FOB BATTERY")]) == [["rotation"], ["inspection"], ["fluids"], []]


def test_categorize_lines_keeps_the_order_and_repeats() -> None:
    rows: list[tuple[str | None, str | None]] = [("A", "TIRE ROTATION"), ("B", "LOF"), ("A", "TIRE ROTATION"),
                                                 (None, "BATTERY TEST"), ("A", None)]
    assert cats(rows) == [["rotation"], ["oil"], ["rotation"], ["battery"], []]
    assert categorize_lines([]) == []


# -- the dealer's layers ---------------------------------------------------------------------


def test_dealer_code_beats_pattern_beats_keyword() -> None:
    rules = rules_of(
        opcodes={"4TIREX": "alignment"},
        patterns={"4TIRE*": "tires", "*ROT": ["rotation", "tires"]},
    )
    assert one("4tirex", "TIRE ROTATION", rules) == [("alignment", "dealer code 4TIREX")]
    assert one("4TIRESMB", "TIRE ROTATION", rules) == [("tires", "dealer pattern 4TIRE*")]
    # first matching pattern in file order decides: 4TIREROT matches both
    assert one("4TIREROT", None, rules) == [("tires", "dealer pattern 4TIRE*")]
    assert one("XROT", None, rules) == [("rotation", "dealer pattern *ROT"), ("tires", "dealer pattern *ROT")]
    assert one("ZZ", "TIRE ROTATION", rules) == [("rotation", "keyword rotation")]


def test_a_dealer_rule_can_say_no_category() -> None:
    rules = rules_of(opcodes={"BATT": []}, patterns={"MISC?": "none"})
    assert one("BATT", "REPLACE BATTERY", rules) == []  # neither the keyword nor the built-in code
    assert one("MISC1", "4 NEW TIRES", rules) == []
    assert one("MISC", "4 NEW TIRES", rules) == [("tires", "keyword tires")]  # ? is one character


def test_regex_patterns_and_glob_characters() -> None:
    rules = rules_of(patterns={"re:^\\d{2}[A-Z]+$": "recall", "A.B": "wipers"})
    assert one("12ab", None, rules) == [("recall", "dealer pattern re:^\\d{2}[A-Z]+$")]
    assert one("A.B", None, rules) == [("wipers", "dealer pattern A.B")]
    assert one("AXB", None, rules) == []  # '.' is a dot in a glob


def test_legacy_opcodes_table_is_the_exact_layer() -> None:
    rules = category_rules(
        ServiceCategorySettings.model_validate({"opcodes": {"XT": "alignment"}}),
        opcodes={"xt": "tires", "LOFX": "oil; rotation"},
    )
    assert one("XT", None, rules) == [("alignment", "dealer code XT")]  # [service_categories] wins
    assert one("LOFX", None, rules) == [("oil", "dealer code LOFX"), ("rotation", "dealer code LOFX")]


def test_dealer_keywords_add_replace_and_exclude() -> None:
    rules = rules_of(keywords={
        "tires": {"match": ["\\bgoodyr\\w*"], "exclude": ["\\btire shine\\b"]},
        "detailing": {"match": ["\\bdetail\\w*", "\\bwax\\b"]},
        "wipers": {"replace": True},
    })
    assert cats([("X", "GOODYR EAGLE X4"), ("X", "TIRE SHINE"), ("X", "4 TIRES"), ("X", "FULL DETAIL + WAX"),
                 ("X", "REPLACE WIPER BLADES")], rules) == [["tires"], [], ["tires"], ["detailing"], []]
    assert one("X", "GOODYR EAGLE X4", rules) == [("tires", "keyword tires (dealer)")]
    assert "detailing" in rules.categories()
    assert "wipers" not in [k.category for k in rules.keywords]  # the built-in code WIPER stays
    replaced = rules_of(keywords={"oil": {"match": ["\\bmotor oil\\b"], "replace": True}})
    assert cats([("X", "LOF"), ("X", "MOTOR OIL CHANGE")], replaced) == [[], ["oil"]]


def test_builtin_layers_can_be_switched_off() -> None:
    rules = rules_of(builtin_keywords=False, builtin_opcodes=False, keywords={"oil": {"match": ["\\blof\\b"]}})
    assert cats([("LOF", None), ("X", "LOF"), ("X", "4 TIRES")], rules) == [[], ["oil"], []]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"opcodes": {"X": "Two Words"}}, r"^service_categories\.opcodes\.X: category 'two words': expected"),
        ({"patterns": {"4TIRE*": "none;tires"}}, r"^service_categories\.patterns\.'4TIRE\*': category 'none'"),
        ({"patterns": {"re:(": "tires"}}, r"^service_categories\.patterns\.'re:\(': '\^?\(?' ?.*is not a regular"),
        ({"keywords": {"tires": {"match": ["(unclosed"]}}},
         r"^service_categories\.keywords\.tires\.match: '\(\?:\(unclosed\)' is not a regular expression RE2"),
        ({"keywords": {"Bad Name": {"match": ["x"]}}}, r"^service_categories\.keywords\.Bad Name: category"),
    ],
)
def test_bad_rules_name_their_key(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rules_of(**settings)


def test_legacy_opcodes_values_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"^opcodes\.X: expected a category, a list of categories or \[\]"):
        category_rules(opcodes={"X": ["tires", 3]})
    with pytest.raises(ConfigError, match=r"^opcodes: op code ' ': expected a non-empty string"):
        category_rules(opcodes={" ": "tires"})


def test_config_file_keys_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[service_categories]\nuncategorized_warning = 2\n')
    with pytest.raises(ConfigError, match=r"^service_categories\.uncategorized_warning: found 2"):
        load_config(path)
    path.write_text('[service_categories.keywords.tires]\nmatches = ["x"]\n')
    with pytest.raises(ConfigError, match=r"^service_categories\.keywords\.tires\.matches: unknown key"):
        load_config(path)


def test_config_rules_read_the_opcodes_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "codes.csv").write_text(
        "op_code,description,set_category\nMISC7,whatever,tires;alignment\nMISC8,,\nmisc9,,none\n"
    )
    (tmp_path / "c.toml").write_text(
        '[opcodes]\nMISC9 = "battery"\n[service_categories]\nopcodes_file = "codes.csv"\n'
    )
    rules = config_rules(load_config(tmp_path / "c.toml"))
    assert rules.dealer_codes == {"MISC7": ("alignment", "tires"), "MISC9": ("battery",)}
    (tmp_path / "codes.csv").write_text("op_code,set_category\nA,tires\nB,Two Words\n")
    with pytest.raises(ConfigError, match=r"codes\.csv\) line 3, column set_category: category 'two words'"):
        config_rules(load_config(tmp_path / "c.toml"))
    (tmp_path / "codes.csv").write_text("code,category\nA,tires\n")
    with pytest.raises(ConfigError, match=r"no column 'op_code' in the header line"):
        config_rules(load_config(tmp_path / "c.toml"))
    (tmp_path / "codes.csv").unlink()
    with pytest.raises(ConfigError, match=r"no such file \(write one with 'dealersync opcodes --csv FILE'\)"):
        config_rules(load_config(tmp_path / "c.toml"))


def test_schema_covers_service_categories() -> None:
    from dealersync.cli.schema_cmd import connectors_schema
    from dealersync.plugins import load_plugins

    schema = connectors_schema(load_plugins())
    ref = schema["properties"]["service_categories"]["$ref"].rsplit("/", 1)[-1]
    props = schema["$defs"][ref]["properties"]
    assert {"opcodes", "opcodes_file", "patterns", "keywords", "builtin_keywords", "builtin_opcodes",
            "uncategorized_warning"} <= set(props)
    kw = schema["$defs"][props["keywords"]["additionalProperties"]["$ref"].rsplit("/", 1)[-1]]
    assert set(kw["properties"]) == {"match", "exclude", "replace"}


# -- the facts built from them -------------------------------------------------------------


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    from dealersync.model import TABLES, create_table_sql

    c = duckdb.connect()
    for table in TABLES.values():
        c.execute(create_table_sql(table))
    c.execute(
        "INSERT INTO customers (customer_id) VALUES ('C1'), ('C2'), ('C3')"
    )
    c.execute(
        "INSERT INTO repair_orders (ro_id, customer_id, opened_on, pay_type, total) VALUES"
        " ('R1', 'C1', DATE '2026-10-01', 'customer', 100),"
        " ('R2', 'C2', DATE '2026-10-02', 'customer', 100),"
        " ('R3', 'C3', DATE '2026-10-03', 'customer', 100)"
    )
    c.execute(
        "INSERT INTO ro_lines (ro_id, line_no, op_code, description, labor_amount, parts_amount, status)"
        " VALUES ('R1', 1, 'LOFROT', 'LOF W/ TIRE ROTATION', 50, 0, 'performed'),"
        " ('R2', 1, 'TR', 'TIRE ROTATION', 25, 0, 'performed'),"
        " ('R2', 2, 'BRK01', 'FRONT BRAKE PADS & ROTORS', 200, 200, 'declined'),"
        " ('R3', 1, 'MISC', 'MOUNT & BALANCE 4 NEW TIRES', 100, 600, 'performed')"
    )
    return c


def facts_of(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    rows = con.execute("SELECT * FROM customer_facts ORDER BY customer_id")
    names = [d[0] for d in rows.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in rows.fetchall()}


def test_facts_read_every_category_of_a_line_and_count_it_once(con: duckdb.DuckDBPyConnection) -> None:
    build_facts(con, FactRegistry.default(), as_of=AS_OF)
    got = facts_of(con)
    assert got["C1"]["categories_purchased"] == ["oil", "rotation"]
    assert got["C2"]["categories_purchased"] == ["rotation"]  # a rotation is not a tire purchase
    assert got["C2"]["declined_categories"] == ["brakes"]
    assert got["C3"]["categories_purchased"] == ["tires"]
    assert con.execute("SELECT count(*) FROM rel_service_lines WHERE customer_id = 'C1'").fetchone() == (1,)
    assert con.execute(
        "SELECT customer_id, category FROM rel_purchased_categories ORDER BY ALL"
    ).fetchall() == [("C1", "oil"), ("C1", "rotation"), ("C2", "rotation"), ("C3", "tires")]


def test_segment_where_on_a_line_category(con: duckdb.DuckDBPyConnection) -> None:
    from dealersync.segments import SegmentDef, compile_segment

    build_facts(con, FactRegistry.default(), as_of=AS_OF)
    segments = {
        "rotated": SegmentDef.model_validate(
            {"rule": {"count": "service_lines", "where": {"category": "rotation", "status": "performed"},
                      "op": ">=", "value": 1}}),
        "tires_or_brakes": SegmentDef.model_validate(
            {"rule": {"count": "service_lines", "where": {"category": ["tires", "brakes"]}, "op": ">=",
                      "value": 1}}),
    }
    members = {}
    for name in segments:
        compiled = compile_segment(name, segments, FactRegistry.default(), as_of=AS_OF)
        members[name] = {r[0] for r in con.execute(compiled.sql, compiled.params).fetchall()}
    assert members == {"rotated": {"C1", "C2"}, "tires_or_brakes": {"C2", "C3"}}


def test_a_rule_change_rebuilds_the_facts(con: duckdb.DuckDBPyConnection) -> None:
    reg = FactRegistry.default()
    base = category_rules()
    changed = rules_of(keywords={"tires": {"match": ["\\bmisc\\b"]}})
    other_exclude = rules_of(keywords={"rotation": {"exclude": ["\\blof\\b.*"]}})
    prints = {facts_fingerprint(reg, as_of=AS_OF, rules=r) for r in (base, changed, other_exclude)}
    assert len(prints) == 3
    assert facts_fingerprint(reg, as_of=AS_OF, rules=category_rules()) == facts_fingerprint(reg, as_of=AS_OF)
    assert build_facts(con, reg, as_of=AS_OF, rules=base).kind == "full"
    assert build_facts(con, reg, as_of=AS_OF, rules=category_rules()).kind == "none"
    assert build_facts(con, reg, as_of=AS_OF, rules=other_exclude).kind == "full"
    assert facts_of(con)["C1"]["categories_purchased"] == ["oil"]  # LOF W/ TIRE ROTATION: oil only now
    assert build_facts(con, reg, as_of=AS_OF, rules=base).kind == "full"
    assert facts_of(con)["C1"]["categories_purchased"] == ["oil", "rotation"]


def test_incremental_build_categorizes_new_pairs(con: duckdb.DuckDBPyConnection) -> None:
    from dealersync.changes import record_changes

    reg = FactRegistry.default()
    assert build_facts(con, reg, as_of=AS_OF).kind == "full"
    con.execute(
        "INSERT INTO ro_lines (ro_id, line_no, op_code, description, labor_amount, parts_amount, status)"
        " VALUES ('R1', 2, 'ALN', 'THRUST ANGLE ALIGNMENT', 90, 0, 'performed')"
    )
    record_changes(con, "SELECT 'C1'")
    assert build_facts(con, reg, as_of=AS_OF).kind == "customers"
    refreshed = facts_of(con)
    assert refreshed["C1"]["categories_purchased"] == ["alignment", "oil", "rotation"]
    assert build_facts(con, reg, as_of=AS_OF, incremental=False).kind == "full"
    assert facts_of(con) == refreshed
