"""Segment rules compiled through sqlglot, run against a hand-built dealership in DuckDB."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pydantic
import pytest
import sqlglot
from dealersync.errors import ConfigError
from dealersync.facts import FactRegistry, build_facts
from dealersync.segments import SegmentDef, check_segments, compile_segment

from tests.support.configs import dealership
from tests.support.samples import dealer_tables, insert
from tests.support.configs import table as toml_table

D = dt.date
TS = dt.datetime
AS_OF = D(2026, 11, 23)
INJECTION = "x'); DROP TABLE customers; --"
REG = FactRegistry.default()


@pytest.fixture(scope="module")
def con() -> Any:
    """Six customers. Last service (as_of 2026-11-23): S1 today, S2 365 days ago, S3 364 days
    ago, S4 730 days ago, S6 729 days ago, S5 never."""
    con = dealer_tables()
    c = [
        ("S1", "TX", "email", True, TS(2026, 11, 23, 23, 59, 59), "One"),
        ("S2", "TX", "sms", False, TS(2026, 11, 22, 0, 0, 0), "Two"),
        ("S3", "CA", "phone", True, TS(2026, 11, 21, 23, 59, 59), "Three"),
        ("S4", "NY", "email", None, TS(2020, 1, 1), "Four"),
        ("S5", None, None, None, None, INJECTION),
        ("S6", "CA", "sms", False, TS(2025, 1, 1), "Six"),
    ]
    keys = ("customer_id", "state", "preferred_channel", "email_opt_in", "created_at", "last_name")
    insert(con, "customers", *[dict(zip(keys, row)) for row in c])
    insert(
        con,
        "repair_orders",
        {
            "ro_id": "R1",
            "customer_id": "S1",
            "opened_on": D(2026, 11, 23),
            "pay_type": "customer",
            "total": 100.0,
        },
        {
            "ro_id": "R2",
            "customer_id": "S1",
            "opened_on": D(2026, 1, 1),
            "pay_type": "customer",
            "total": 50.0,
        },
        {
            "ro_id": "R3",
            "customer_id": "S2",
            "opened_on": D(2025, 11, 23),
            "pay_type": "customer",
            "total": 80.0,
        },
        {
            "ro_id": "R4",
            "customer_id": "S3",
            "opened_on": D(2025, 11, 24),
            "pay_type": "customer",
            "total": 40.0,
        },
        {
            "ro_id": "R5",
            "customer_id": "S4",
            "opened_on": D(2024, 11, 23),
            "pay_type": "customer",
            "total": 60.0,
        },
        {
            "ro_id": "R6",
            "customer_id": "S6",
            "closed_on": D(2024, 11, 24),
            "pay_type": "warranty",
            "total": 0.0,
        },
    )
    insert(con, "ro_lines", {"ro_id": "R1", "line_no": 1, "op_code": "TIRE4"})
    build_facts(con, REG, as_of=AS_OF)
    yield con
    con.close()


def segs(**defs: dict[str, Any]) -> dict[str, SegmentDef]:
    return {name: SegmentDef.model_validate(d) for name, d in defs.items()}


def cond(fact: str, op: str, value: Any) -> dict[str, Any]:
    return {"fact": fact, "op": op, "value": value}


def members(
    con: Any, rule: dict[str, Any] | None = None, *, as_of: D = AS_OF, **defs: Any
) -> set[str]:
    """Members of segment ``s`` (``rule``) or of the first of ``defs``."""
    definitions = segs(**defs) if defs else segs(s={"rule": rule})
    compiled = compile_segment(next(iter(definitions)), definitions, REG, as_of=as_of)
    return {row[0] for row in con.execute(compiled.sql, compiled.params).fetchall()}


ALL = {"S1", "S2", "S3", "S4", "S5", "S6"}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (cond("state", "=", "TX"), {"S1", "S2"}),
        (cond("state", "!=", "TX"), {"S3", "S4", "S5", "S6"}),  # NULL state is != TX
        (cond("service_visits", "<", 1), {"S5"}),
        (cond("service_visits", "<=", 1), ALL - {"S1"}),
        (cond("customer_pay_total", ">", 60), {"S1", "S2"}),
        (cond("customer_pay_total", ">=", 60.0), {"S1", "S2", "S4"}),
        (cond("preferred_channel", "in", ["email", "sms"]), {"S1", "S2", "S4", "S6"}),
        (cond("preferred_channel", "not_in", ["email", "sms"]), {"S3", "S5"}),
        (cond("last_service_date", "is_null", True), {"S5"}),
        (cond("last_service_date", "is_null", False), ALL - {"S5"}),
        (cond("email_opt_in", "=", True), {"S1", "S3"}),
        (cond("email_opt_in", "!=", True), {"S2", "S4", "S5", "S6"}),
        (cond("last_service_date", "<", "2025-11-24"), {"S2", "S4", "S6"}),
        (cond("last_service_date", ">=", D(2025, 11, 24)), {"S1", "S3"}),
        (cond("last_service_date", "in", ["2024-11-23", "2024-11-24"]), {"S4", "S6"}),
        (cond("created_at", ">=", "2026-11-22T00:00:00"), {"S1", "S2"}),
        (cond("created_at", "<", D(2026, 11, 22)), {"S3", "S4", "S6"}),
        # within_days: as_of - N <= fact <= as_of, both ends inclusive
        (cond("last_service_date", "within_days", 0), {"S1"}),
        (cond("last_service_date", "within_days", 364), {"S1", "S3"}),
        (cond("last_service_date", "within_days", 365), {"S1", "S2", "S3"}),
        # before_days: fact < as_of - N
        (cond("last_service_date", "before_days", 364), {"S2", "S4", "S6"}),
        (cond("last_service_date", "before_days", 365), {"S4", "S6"}),
        (cond("last_service_date", "before_days", 729), {"S4"}),
        (cond("last_service_date", "before_days", 730), set()),
        # timestamps: the whole as_of day is inside, the day as_of - N starts at midnight
        (cond("created_at", "within_days", 0), {"S1"}),
        (cond("created_at", "within_days", 1), {"S1", "S2"}),
        (cond("created_at", "within_days", 2), {"S1", "S2", "S3"}),
        (cond("created_at", "before_days", 1), {"S3", "S4", "S6"}),
    ],
    ids=lambda v: str(v) if not isinstance(v, dict) else f"{v['fact']} {v['op']} {v['value']}",
)
def test_operators(con: Any, rule: dict[str, Any], expected: set[str]) -> None:
    assert members(con, rule) == expected


def test_all_any_not_nesting(con: Any) -> None:
    rule = {
        "all": [
            cond("state", "in", ["TX", "CA"]),
            {
                "any": [
                    cond("last_service_date", "within_days", 365),
                    cond("last_service_date", "is_null", True),
                ]
            },
            {"not": cond("preferred_channel", "=", "phone")},
        ]
    }
    assert members(con, rule) == {"S1", "S2"}
    assert members(con, {"any": [rule, cond("state", "=", "NY")]}) == {"S1", "S2", "S4"}


def test_not_is_the_exact_complement(con: Any) -> None:
    # a never-serviced customer (NULL) is "not serviced within 365 days"
    assert members(con, {"not": cond("last_service_date", "within_days", 365)}) == {
        "S4",
        "S5",
        "S6",
    }
    assert members(con, {"not": {"not": cond("state", "=", "TX")}}) == {"S1", "S2"}
    assert members(con, {"not": cond("state", "!=", "TX")}) == {"S1", "S2"}
    assert members(
        con, {"not": {"all": [cond("state", "=", "CA"), cond("service_visits", ">", 0)]}}
    ) == ALL - {"S3", "S6"}


DEFS = {
    "recent": {"rule": cond("last_service_date", "within_days", 365)},  # S1 S2 S3
    "lapsed": {"rule": cond("last_service_date", "before_days", 365)},  # S4 S6
    "never": {"rule": cond("last_service_date", "is_null", True)},  # S5
    "texans": {"rule": cond("state", "=", "TX")},  # S1 S2
    "contactable": {"include": ["recent", "never"], "exclude": ["texans"]},  # S3 S5
}


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ({"include": ["recent", "never"]}, {"S1", "S2", "S3", "S5"}),
        ({"include": ["recent", "never"], "exclude": ["texans"]}, {"S3", "S5"}),
        ({"rule": cond("state", "=", "CA"), "exclude": ["contactable"]}, {"S6"}),
        # A ∪ (B − C) must not become (A ∪ B) − C
        ({"rule": cond("state", "=", "TX"), "include": ["contactable"]}, {"S1", "S2", "S3", "S5"}),
        ({"include": ["texans", "contactable"], "exclude": ["lapsed"]}, {"S1", "S2", "S3", "S5"}),
        ({"include": ["recent"], "exclude": ["texans", "contactable"]}, set()),
        ({"include": ["contactable", "contactable"]}, {"S3", "S5"}),
    ],
)
def test_include_exclude(con: Any, top: dict[str, Any], expected: set[str]) -> None:
    assert members(con, top=top, **DEFS) == expected


def test_compiled_lists_the_segments_used() -> None:
    d = segs(top={"include": ["contactable"]}, **DEFS)
    assert compile_segment("top", d, REG, as_of=AS_OF).segments == (
        "top",
        "contactable",
        "recent",
        "never",
        "texans",
    )


def test_cycle_is_named() -> None:
    d = segs(
        top={"include": ["a"]},
        a={"rule": cond("state", "=", "TX"), "include": ["b"]},
        b={"include": ["texans"], "exclude": ["a"]},
        texans=DEFS["texans"],
        selfish={"include": ["selfish"]},
    )
    for name in ("top", "a"):
        with pytest.raises(ConfigError) as err:
            compile_segment(name, d, REG, as_of=AS_OF)
        assert (
            err.value.message
            == "segments.a: include/exclude cycle: segments.a -> segments.b -> segments.a"
        )
    with pytest.raises(ConfigError) as err:
        compile_segment("selfish", d, REG, as_of=AS_OF)
    assert (
        err.value.message
        == "segments.selfish: include/exclude cycle: segments.selfish -> segments.selfish"
    )


def test_unknown_fact_message_exact() -> None:
    d = segs(
        lapsed={
            "rule": {
                "all": [cond("state", "=", "TX"), cond("last_servce_date", "before_days", 365)]
            }
        }
    )
    with pytest.raises(ConfigError) as err:
        compile_segment("lapsed", d, REG, as_of=AS_OF)
    assert err.value.message == (
        "segments.lapsed: unknown fact 'last_servce_date' (closest: last_service_date, first_service_date)"
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            cond("state", "within_days", 30),
            (
                "segments.bad: fact 'state' (text) with op 'within_days': op not available for text"
                " facts; expected one of =, !=, <, <=, >, >=, in, not_in, is_null"
            ),
        ),
        (
            cond("service_visits", "<", "3"),
            "segments.bad: fact 'service_visits' (integer) with op '<': expected a number, found '3' (str)",
        ),
        (
            cond("service_visits", ">=", True),
            "segments.bad: fact 'service_visits' (integer) with op '>=': expected a number, found True (bool)",
        ),
        (
            cond("last_service_date", "=", "2025-13-01"),
            (
                "segments.bad: fact 'last_service_date' (date) with op '=': expected a date"
                " (YYYY-MM-DD), found '2025-13-01' (str)"
            ),
        ),
        (
            cond("last_service_date", "within_days", "30"),
            (
                "segments.bad: fact 'last_service_date' (date) with op 'within_days': expected a whole"
                " number of days >= 0, found '30' (str)"
            ),
        ),
        (
            cond("last_service_date", "before_days", -1),
            (
                "segments.bad: fact 'last_service_date' (date) with op 'before_days': expected a whole"
                " number of days >= 0, found -1 (int)"
            ),
        ),
        (
            cond("state", "in", "TX"),
            "segments.bad: fact 'state' (text) with op 'in': expected a non-empty list, found 'TX' (str)",
        ),
        (
            cond("state", "not_in", ["TX", 5]),
            "segments.bad: fact 'state' (text) with op 'not_in': expected a string, found 5 (int)",
        ),
        (
            cond("state", "is_null", "yes"),
            "segments.bad: fact 'state' (text) with op 'is_null': expected true or false, found 'yes' (str)",
        ),
        (
            cond("email_opt_in", "<", True),
            (
                "segments.bad: fact 'email_opt_in' (boolean) with op '<': op not available for boolean"
                " facts; expected one of =, !=, is_null"
            ),
        ),
        (
            cond("categories_purchased", "=", "tires"),
            (
                "segments.bad: fact 'categories_purchased' (text_list) with op '=': op not available for"
                " text_list facts; expected one of is_null, contains"
            ),
        ),
    ],
)
def test_type_errors(rule: dict[str, Any], message: str) -> None:
    d = segs(bad={"rule": {"any": [cond("state", "=", "TX"), {"not": rule}]}})
    with pytest.raises(ConfigError) as err:
        compile_segment("bad", d, REG, as_of=AS_OF)
    assert err.value.message == message


def test_unknown_and_empty_segments() -> None:
    d = segs(
        a={"include": ["nope"]},
        b={"rule": cond("state", "=", "TX"), "exclude": ["zilch"]},
        c={"description": "nothing"},
    )
    with pytest.raises(ConfigError) as err:
        compile_segment("a", d, REG, as_of=AS_OF)
    assert err.value.message == "segments.a.include: unknown segment 'nope' (known: a, b, c)"
    with pytest.raises(ConfigError) as err:
        compile_segment("b", d, REG, as_of=AS_OF)
    assert err.value.message == "segments.b.exclude: unknown segment 'zilch' (known: a, b, c)"
    with pytest.raises(
        ConfigError,
        match=r"^segments\.c: nothing selects members; expected a 'rule', a 'template' or an",
    ):
        compile_segment("c", d, REG, as_of=AS_OF)
    with pytest.raises(ConfigError, match=r"^segments\.zz: unknown segment \(known: a, b, c\)"):
        compile_segment("zz", d, REG, as_of=AS_OF)
    with pytest.raises(ConfigError, match=r"^segments\.a\.include"):
        check_segments(d, REG, as_of=AS_OF)


def test_config_shape_errors_are_pydantic_errors() -> None:
    for bad in (
        {"rule": {"fact": "state", "op": "~", "value": 1}},
        {"rule": {"all": []}},
        {"rule": {"oops": 1}},
        {"rule": cond("state", "=", "TX"), "template": "x"},
        {"rule": {"fact": "state", "op": "=", "value": "TX", "extra": 1}},
    ):
        with pytest.raises(pydantic.ValidationError):
            SegmentDef.model_validate(bad)


def test_values_are_bound_never_pasted(con: Any) -> None:
    d = segs(
        s={
            "rule": {
                "any": [
                    cond("last_name", "=", INJECTION),
                    cond("last_name", "in", [INJECTION, "a'b"]),
                ]
            }
        }
    )
    compiled = compile_segment("s", d, REG, as_of=AS_OF)
    assert INJECTION not in compiled.sql and "DROP" not in compiled.sql and "'" not in compiled.sql
    assert compiled.params == [INJECTION, INJECTION, "a'b"]
    assert {r[0] for r in con.execute(compiled.sql, compiled.params).fetchall()} == {"S5"}
    assert con.execute("SELECT count(*) FROM customers").fetchone() == (6,)


def test_as_of_is_bound_and_deterministic(con: Any) -> None:
    d = segs(s={"rule": cond("last_service_date", "within_days", 365)})
    a = compile_segment("s", d, REG, as_of=AS_OF)
    b = compile_segment("s", d, REG, as_of=AS_OF + dt.timedelta(days=1))
    assert a.sql == b.sql and a.params != b.params
    assert a == compile_segment("s", d, REG, as_of=AS_OF)
    assert "2025" not in a.sql and "2026" not in a.sql
    # the same facts evaluated one day later: S2 (365 days ago) drops out, deterministically
    assert members(
        con, cond("last_service_date", "within_days", 365), as_of=AS_OF + dt.timedelta(days=1)
    ) == {"S1", "S3"}
    assert members(con, cond("last_service_date", "within_days", 365)) == {"S1", "S2", "S3"}


def test_transpiles_to_postgres_and_others() -> None:
    d = segs(
        top={
            "rule": {
                "all": [
                    cond("state", "in", ["TX", "CA"]),
                    {"not": cond("last_service_date", "within_days", 90)},
                ]
            },
            "include": ["contactable"],
        },
        **DEFS,
    )
    duck = compile_segment("top", d, REG, as_of=AS_OF)
    pg = compile_segment("top", d, REG, as_of=AS_OF, dialect="postgres")
    assert pg.params == duck.params and pg.dialect == "postgres"
    assert pg.sql.count("%s") == len(pg.params) and "?" not in pg.sql
    # the DuckDB text also transpiles with plain sqlglot, and the Postgres text parses back
    (transpiled,) = sqlglot.transpile(duck.sql, read="duckdb", write="postgres")
    assert transpiled.count("%s") == len(duck.params)
    sqlglot.parse_one(transpiled, read="postgres")
    assert isinstance(sqlglot.parse_one(pg.sql, read="postgres"), sqlglot.exp.Union)
    for dialect in ("bigquery", "snowflake"):
        other = compile_segment("top", d, REG, as_of=AS_OF, dialect=dialect)
        assert other.sql.count("?") == len(other.params) == len(duck.params)
    # only placeholders, identifiers and keywords: no literal strings, numbers or dates
    assert not re.search(r"'|\d{4}-\d\d", duck.sql)


def count(records: str, **kw: Any) -> dict[str, Any]:
    return {"count": records, **kw}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # between_days [a, b]: as_of - b <= fact <= as_of - a; negative days are ahead
        (cond("last_service_date", "between_days", [364, 365]), {"S2", "S3"}),
        (cond("last_service_date", "between_days", [0, 0]), {"S1"}),
        (cond("last_service_date", "between_days", [-30, -1]), set()),
        (cond("created_at", "between_days", [1, 1]), {"S2"}),
        # next_days N: as_of <= fact <= as_of + N
        (cond("last_service_date", "next_days", 30), {"S1"}),
        (cond("categories_purchased", "contains", "tires"), {"S1"}),
        ({"not": cond("categories_purchased", "contains", "tires")}, ALL - {"S1"}),
        (count("service_visits"), ALL - {"S5"}),
        (count("service_visits", op=">=", value=2), {"S1"}),
        (count("service_visits", op="=", value=0), {"S5"}),  # no records at all
        (count("service_visits", op="<", value=2), ALL - {"S1"}),
        (count("service_visits", op="!=", value=1), {"S1", "S5"}),
        (count("service_visits", within_days=365), {"S1", "S2", "S3"}),
        (count("service_visits", within_days=365, op=">", value=1), {"S1"}),
        (count("service_visits", where={"pay_type": "warranty"}), {"S6"}),
        (
            count("service_visits", where={"pay_type": ["customer", "x"]}, between_days=[1, 364]),
            {"S1", "S3"},  # R2 (326 days) and R4 (364); R1 is today
        ),
        (count("service_lines", where={"category": "tires", "status": "performed"}), {"S1"}),
        ({"not": count("service_visits", within_days=365)}, {"S4", "S5", "S6"}),
    ],
    ids=str,
)
def test_counts_and_day_ops(con: Any, rule: dict[str, Any], expected: set[str]) -> None:
    assert members(con, rule) == expected


def test_segment_references(con: Any) -> None:
    defs = {
        **DEFS,
        "top": {"rule": {"all": [{"segment": "recent"}, {"not": {"segment": "texans"}}]}},
    }
    assert members(con, top=defs.pop("top"), **defs) == {"S3"}
    d = segs(
        a={"rule": {"any": [cond("state", "=", "TX"), {"segment": "b"}]}},
        b={"include": ["texans"], "exclude": ["a"]},
        texans=DEFS["texans"],
        c={"rule": {"segment": "nope"}},
    )
    with pytest.raises(ConfigError) as err:
        compile_segment("a", d, REG, as_of=AS_OF)
    assert err.value.message == (
        "segments.a: include/exclude cycle: segments.a -> segments.b -> segments.a"
    )
    with pytest.raises(ConfigError) as err:
        compile_segment("c", d, REG, as_of=AS_OF)
    assert err.value.message == "segments.c.rule.segment: unknown segment 'nope' (known: a, b, c, texans)"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            count("service_line"),
            (
                "segments.bad: unknown related records 'service_line' (closest: service_lines,"
                " service_visits)"
            ),
        ),
        (
            count("service_visits", where={"paytype": "customer"}),
            (
                "segments.bad: count 'service_visits' where 'paytype': unknown field (known:"
                " odometer, pay_type, total, vehicle_id)"
            ),
        ),
        (
            count("service_visits", where={"total": "100"}),
            (
                "segments.bad: count 'service_visits' where 'total': expected a number, found"
                " '100' (str)"
            ),
        ),
        (
            count("service_visits", where={"pay_type": []}),
            (
                "segments.bad: count 'service_visits' where 'pay_type': expected a non-empty"
                " list, found [] (list)"
            ),
        ),
        (
            count("service_visits", between_days=[30, 1]),
            (
                "segments.bad: count 'service_visits' between_days: expected [a, b], whole"
                " numbers of days with a <= b, found (30, 1) (tuple)"
            ),
        ),
        (
            cond("categories_purchased", "contains", ["tires"]),
            (
                "segments.bad: fact 'categories_purchased' (text_list) with op 'contains':"
                " expected a string, found ['tires'] (list)"
            ),
        ),
        (
            cond("last_service_date", "next_days", -1),
            (
                "segments.bad: fact 'last_service_date' (date) with op 'next_days': expected a"
                " whole number of days >= 0, found -1 (int)"
            ),
        ),
        (
            cond("state", "contains", "TX"),
            (
                "segments.bad: fact 'state' (text) with op 'contains': op not available for text"
                " facts; expected one of =, !=, <, <=, >, >=, in, not_in, is_null"
            ),
        ),
    ],
)
def test_count_and_op_errors(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        compile_segment("bad", segs(bad={"rule": rule}), REG, as_of=AS_OF)
    assert err.value.message == message


def test_count_shape_errors_are_pydantic_errors() -> None:
    for bad in (
        {"rule": count("events", within_days=3, between_days=[1, 2])},
        {"rule": count("events", op="in")},
        {"rule": count("events", value=-1)},
        {"template": "service_status", "rule": cond("state", "=", "TX")},
        {"params": {"status": "lost"}},
    ):
        with pytest.raises(pydantic.ValidationError):
            SegmentDef.model_validate(bad)


CLI_CONFIG = dealership(
    toml_table("segments.at_risk", description="Lapsing.", template="service_status", params={"status": "at_risk"}),
    toml_table("segments.tx", rule={"fact": "state", "op": "=", "value": "TX"}, exclude=["at_risk"]),
)


def test_cli_list_show_preview(tmp_path: Any) -> None:
    from click.testing import CliRunner
    from dealersync.cli import cli
    from dealersync.testing import write_extract

    write_extract(
        tmp_path / "dms",
        {
            "customers": [
                {"customer_id": "C1", "state": "TX"},
                {"customer_id": "C2", "state": "TX"},
                {"customer_id": "C3", "state": "CA"},
            ],
            "repair_orders": [
                {"ro_id": "R1", "customer_id": "C1", "opened_on": "2025-11-23", "pay_type": "customer"},
                {"ro_id": "R3", "customer_id": "C3", "opened_on": "2025-06-01", "pay_type": "customer"},
            ],
        },
    )
    (tmp_path / "c.toml").write_text(CLI_CONFIG)
    cfg = ["--config", str(tmp_path / "c.toml")]
    run = CliRunner().invoke
    res = run(cli, ["segments", "list", *cfg])
    assert res.exit_code == 0, res.output
    assert "at_risk" in res.output and 'template service_status (status = "at_risk")' in res.output
    assert "rule; exclude at_risk" in res.output
    res = run(cli, ["segments", "list", "--facts", "--templates"])
    assert res.exit_code == 0, res.output
    assert "months_since_last_service" in res.output and "lost_months = 24" in res.output
    assert "declined_work" in res.output and "buyer or co_buyer" in res.output
    res = run(cli, ["segments", "show", "tx", *cfg])
    assert res.exit_code == 0, res.output
    assert "EXCEPT" in res.output and "'TX'" in res.output  # the params, printed apart from the SQL
    res = run(cli, ["segments", "show", "at_risk", *cfg, "--dialect", "postgres"])
    assert res.exit_code == 0 and "rule built by the template" in res.output and "%s" in res.output
    res = run(cli, ["segments", "preview", "at_risk", *cfg])
    assert res.exit_code == 0, res.output
    assert "segment at_risk as of 2026-11-23: 2 customers" in res.output  # C1 12, C3 17 months
    assert res.output.split("customers", 1)[1].split() == ["C1", "C3"]
    res = run(cli, ["segments", "preview", "tx", *cfg])
    assert res.output.split("\n", 1)[1].split() == ["C2"]  # C1 is at risk
    res = run(cli, ["segments", "preview", "tx", *cfg, "--as-of", "2026-11-22"])
    assert res.output.split("\n", 1)[1].split() == ["C1", "C2"]  # C1 is 11 months: loyal again
    res = run(cli, ["segments", "show", "nope", *cfg])
    assert res.exit_code == 2 and "segments.nope: unknown segment" in res.stderr
