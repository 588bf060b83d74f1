"""Every template of the dealer library on a small hand-built dealership, member by member.

as_of is 2026-11-23. The customers (T8 and T9 are one person under two ids):

T1  Ann   serviced 2025-12-01 and 2026-06-01 (5 months), bought twice (cash 2020, finance 2023)
T2  Bob   serviced exactly 12 months ago (tires), never bought
T3  Cara  serviced 11 months ago (brakes declined then), financed 2025 with equity
T4  Dan   serviced exactly 24 months ago (tires)
T5  Eve   serviced 23 months ago (tires two years ago)
T6  Fay   bought here (cash), never serviced
T7  Gus   a lead (website, 2026-08-01), nothing else
T8  Hal   serviced 2026-10-01: tires performed, brakes declined; same email as T9
T9  Hal   leased here, the lease matures on as_of; never serviced under this id
T10 Ivy   three vehicles (one disposed), serviced 4 months ago, due by miles
T11 Jo    lease matures exactly as_of + 180 days
T12 Kim   lease matured yesterday; co-buyer of T1's finance deal
T13 Lee   a lead (third_party) who opened an email 39 days ago
"""

from __future__ import annotations

import datetime as dt
import tomllib
import types
from typing import Any

import pytest
from dealersync import SegmentTemplate, hookimpl
from dealersync.errors import ConfigError
from dealersync.facts import FactRegistry, build_facts
from dealersync.plugins import load_plugins
from dealersync.segments import (
    SegmentDef,
    compile_segment,
    core_templates,
    template_registry,
)
from pydantic import BaseModel, Field

from tests.support.samples import dealer_tables, insert
from tests.support.samples import ro_line as line

D = dt.date
TS = dt.datetime
AS_OF = D(2026, 11, 23)
REG = FactRegistry.default()


def ro(ro_id: str, cid: str, opened: D, vehicle: str | None = None, odometer: int | None = None):
    return {
        "ro_id": ro_id,
        "customer_id": cid,
        "vehicle_id": vehicle,
        "opened_on": opened,
        "odometer": odometer,
        "pay_type": "customer",
        "total": 100.0,
    }


def deal(deal_id: str, cid: str, on: D, kind: str, **kw: Any) -> dict[str, Any]:
    return {"deal_id": deal_id, "customer_id": cid, "deal_date": on, "deal_type": kind, **kw}


@pytest.fixture(scope="module")
def con() -> Any:
    con = dealer_tables()
    channels = {
        "T1": "email", "T2": "sms", "T3": " Email", "T4": "phone", "T6": "mail", "T7": "email",
        "T8": "email", "T9": "email", "T10": "sms", "T12": "phone", "T13": "sms",
    }  # fmt: skip
    insert(
        con,
        "customers",
        *[
            {
                "customer_id": f"T{i}",
                "email": "hal@example.com" if i in (8, 9) else f"t{i}@example.com",
                "preferred_channel": channels.get(f"T{i}"),
            }
            for i in range(1, 14)
        ],
    )
    insert(
        con,
        "repair_orders",
        ro("R1a", "T1", D(2026, 6, 1), "V1", 30_000),
        ro("R1b", "T1", D(2025, 12, 1), "V1", 25_000),
        ro("R2", "T2", D(2025, 11, 23)),
        ro("R3", "T3", D(2025, 11, 24)),
        ro("R4", "T4", D(2024, 11, 23)),
        ro("R5", "T5", D(2024, 11, 24)),
        ro("R8", "T8", D(2026, 10, 1)),
        ro("R10", "T10", D(2026, 7, 1), "V10a", 42_000),
    )
    insert(
        con,
        "ro_lines",
        line("R1a", 1, "LOF"),
        line("R1a", 2, "BRKF", "declined"),  # 175 days ago: too old for declined_work
        line("R1b", 1, "LOF"),
        line("R2", 1, "TIRE4"),
        line("R3", 1, "BRKR", "declined"),  # 364 days ago
        line("R4", 1, "TIRE4"),
        line("R5", 1, "TIRE2"),
        line("R8", 1, "TIRE4"),
        line("R8", 2, "BRKF", "declined"),  # 53 days ago, not done since
        line("R10", 1, "LOF"),
        line("R10", 2, "BRKF", "declined"),  # declined and performed the same day: done
        line("R10", 3, "BRKR"),
    )
    insert(
        con,
        "deals",
        deal("D1", "T1", D(2023, 11, 23), "finance", co_buyer_customer_id="T12", term_months=36,
             apr=4.9, payoff_amount=30_000.0, sale_price=32_000.0),  # term ends on as_of
        deal("D1b", "T1", D(2020, 1, 1), "cash"),
        deal("D3", "T3", D(2025, 1, 10), "finance", term_months=60, apr=3.9,
             payoff_amount=10_000.0, sale_price=40_000.0),
        deal("D6", "T6", D(2025, 5, 1), "cash"),
        deal("D9", "T9", D(2023, 11, 23), "lease", lease_maturity_date=D(2026, 11, 23)),
        deal("D11", "T11", D(2024, 5, 22), "lease", lease_maturity_date=D(2027, 5, 22)),
        deal("D12", "T12", D(2023, 11, 22), "lease", lease_maturity_date=D(2026, 11, 22)),
    )  # fmt: skip
    insert(
        con,
        "vehicles",
        {"vehicle_id": "V1", "customer_id": "T1", "purchased_on": D(2023, 11, 23),
         "warranty_end": D(2026, 11, 1), "fuel_type": "gas"},
        {"vehicle_id": "V10a", "customer_id": "T10", "purchased_on": D(2022, 1, 1),
         "odometer": 30_000, "odometer_date": D(2026, 1, 1), "fuel_type": "Gas"},
        {"vehicle_id": "V10b", "customer_id": "T10", "purchased_on": D(2020, 6, 1),
         "warranty_end": D(2026, 12, 23), "fuel_type": "electric"},
        {"vehicle_id": "V10c", "customer_id": "T10", "purchased_on": D(2015, 1, 1),
         "disposed_on": D(2026, 1, 1), "warranty_end": D(2026, 12, 1)},
    )  # fmt: skip
    insert(
        con,
        "leads",
        {"lead_id": "L7", "customer_id": "T7", "created_at": TS(2026, 8, 1, 10),
         "source": "Website "},
        {"lead_id": "L13", "customer_id": "T13", "created_at": TS(2026, 9, 1, 10),
         "source": "third_party"},
    )  # fmt: skip
    events = [
        ("E1", "T1", TS(2026, 11, 1, 9), "email", "open"),  # 22 days ago
        ("E1s", "T1", TS(2026, 11, 10, 9), "sms", "click"),  # not email
        ("E8", "T8", TS(2026, 11, 20, 9), "email", "click"),  # 3 days ago
        ("E13", "T13", TS(2026, 10, 15, 9), "email", "open"),  # 39 days ago
    ]
    keys = ("event_id", "customer_id", "occurred_at", "channel", "type")
    insert(con, "events", *[dict(zip(keys, e)) for e in events])
    build_facts(con, REG, as_of=AS_OF)
    yield con
    con.close()


def members(con: Any, template: str, **params: Any) -> set[str]:
    defs = {"s": SegmentDef(template=template, params=params)}
    compiled = compile_segment("s", defs, REG, as_of=AS_OF)
    return {row[0] for row in con.execute(compiled.sql, compiled.params).fetchall()}


def test_service_status(con: Any) -> None:
    assert members(con, "service_status", status="loyal") == {
        "T1",  # 5 months
        "T3",  # 11 months: the day before the 12-month mark
        "T8",  # 1 month
        "T10",  # 4 months
    }
    assert members(con, "service_status", status="at_risk") == {
        "T2",  # exactly 12 calendar months: no longer loyal
        "T5",  # 23 months
    }
    assert members(con, "service_status", status="lost") == {"T4"}  # exactly 24 months
    assert members(con, "service_status", status="never_serviced") == {
        "T6",  # bought cash, no RO
        "T9",  # leased; Hal's visits are under T8 (the audience merges T8/T9 by email)
        "T11",  # leased, no RO
        "T12",  # leased and co-bought, no RO
    }  # T7 and T13 are leads: never bought, so not "never serviced" customers
    # thresholds are parameters: a 6-month loyalty window moves T1 (5) in and T3 (11) out
    assert members(con, "service_status", status="loyal", loyal_months=6) == {"T1", "T8", "T10"}
    assert members(con, "service_status", status="lost", loyal_months=6, lost_months=12) == {
        "T2",  # 12 months
        "T4",  # 24
        "T5",  # 23
    }


def test_service_due(con: Any) -> None:
    assert members(con, "service_due") == {
        "T2",  # 12 months since the last visit
        "T3",  # 11 months
        "T5",  # 23 months: still under the 24-month "lost" line
        "T10",  # 4 months, but V10a drove ~9,600 estimated miles since its last RO
    }  # T1: 5 months and ~4,800 miles; T4: 24 months is lost, not due
    assert members(con, "service_due", months=0) == {"T10"}
    assert members(con, "service_due", miles=0, months=12) == {"T2", "T5"}


def test_declined_work(con: Any) -> None:
    # T8 declined brakes 53 days ago; T1's (175 days) and T3's (364 days) are older than 90;
    # T10 declined and had brakes done the same day
    assert members(con, "declined_work", category="brakes") == {"T8"}
    assert members(con, "declined_work", category="brakes", max_age_days=365) == {
        "T1",
        "T3",
        "T8",
    }
    assert members(con, "declined_work") == {"T8"}  # any category
    assert members(con, "declined_work", category="tires") == set()
    assert members(con, "declined_work", min_age_days=54, max_age_days=174) == set()


def test_purchased_category(con: Any) -> None:
    # tires: T8 53 days ago; T2 365 days, T4 and T5 two years ago are outside 180 days
    assert members(con, "purchased_category") == {"T8"}
    assert members(con, "purchased_category", category="Tires", within_days=365) == {"T2", "T8"}
    assert members(con, "purchased_category", category="oil", within_days=365) == {"T1", "T10"}


def test_lease_ending(con: Any) -> None:
    assert members(con, "lease_ending") == {
        "T9",  # matures on as_of
        "T11",  # matures on as_of + 180
    }  # T12 matured yesterday
    assert members(con, "lease_ending", within_days=0) == {"T9"}


def test_finance_upgrade(con: Any) -> None:
    assert members(con, "finance_upgrade") == {
        "T1",  # the 36-month term of D1 ends on as_of
        "T12",  # co-buyer of D1
        "T3",  # 38 months left, ~19,500 estimated equity (40,000 at -15%/yr minus 10,000)
    }
    assert members(con, "finance_upgrade", include_equity=False) == {"T1", "T12"}
    assert members(con, "finance_upgrade", ends_within_days=0, min_equity=20_000) == {"T1", "T12"}


def test_warranty_expiring(con: Any) -> None:
    # V10b (T10) ends in 30 days; V10c's is sooner but T10 disposed of it; V1's ended already
    assert members(con, "warranty_expiring") == {"T10"}
    assert members(con, "warranty_expiring", within_days=29) == set()


def test_service_only(con: Any) -> None:
    assert members(con, "service_only") == {
        "T2",  # serviced 12 months ago, no deal
        "T5",  # 23 months, no deal
        "T8",  # Hal serviced under T8 and bought under T9: per id, T8 bought nothing
        "T10",  # serviced, owns two vehicles bought elsewhere
    }  # T1 and T3 bought here; T4's last visit is 24 months old
    assert members(con, "service_only", within_months=12) == {"T8", "T10"}


def test_frequent_buyers(con: Any) -> None:
    assert members(con, "frequent_buyers") == {
        "T1",  # D1 and D1b
        "T12",  # own lease D12 and co-buyer of D1
    }
    # D12 is 1,097 days old, D1 1,096: within 1,097 days T12 has two, T1 one (D1b is from 2020)
    assert members(con, "frequent_buyers", within_days=1097) == {"T12"}
    assert members(con, "frequent_buyers", min_deals=1, within_days=700) == {"T3", "T6"}  # 682, 571


def test_low_engagement_leads(con: Any) -> None:
    # T7: a lead since 2026-08-01 with no email activity; T13 opened an email 39 days ago
    assert members(con, "low_engagement_leads") == {"T7"}
    assert members(con, "low_engagement_leads", inactive_days=30) == {"T7", "T13"}
    assert members(con, "low_engagement_leads", min_lead_age_days=114) == set()  # T7: 114 days


def test_lead_source_lifecycle_channel(con: Any) -> None:
    assert members(con, "lead_source") == {"T7"}  # "Website " normalizes to website
    assert members(con, "lead_source", source="Third_Party") == {"T13"}
    assert members(con, "lifecycle_stage") == {"T7", "T13"}  # leads, nothing bought or serviced
    assert members(con, "lifecycle_stage", stage="owner") == {
        "T1", "T3", "T6", "T9", "T11", "T12",
    }  # fmt: skip
    assert members(con, "lifecycle_stage", stage="service_customer") == {
        "T2", "T4", "T5", "T8", "T10",
    }  # fmt: skip
    assert members(con, "lifecycle_stage", stage="prospect") == set()
    assert members(con, "preferred_channel") == {"T1", "T3", "T7", "T8", "T9"}  # " Email" too
    assert members(con, "preferred_channel", channel="phone") == {"T4", "T12"}


def test_email_engaged(con: Any) -> None:
    assert members(con, "email_engaged") == {
        "T1",  # opened 22 days ago
        "T8",  # clicked 3 days ago: a click counts as an open
    }  # T13 opened 39 days ago; T1's sms click is not email
    assert members(con, "email_engaged", action="clicked") == {"T8"}
    assert members(con, "email_engaged", within_days=39) == {"T1", "T8", "T13"}
    assert members(con, "email_engaged", within_days=39, min_events=2) == set()


def test_every_library_template_is_tested() -> None:
    tested = {
        "service_status", "service_due", "declined_work", "purchased_category", "lease_ending",
        "finance_upgrade", "warranty_expiring", "service_only", "frequent_buyers",
        "low_engagement_leads", "lead_source", "lifecycle_stage", "preferred_channel",
        "email_engaged",
    }  # fmt: skip
    assert set(core_templates().names()) == tested


def test_tire_offer_suppression(con: Any) -> None:
    """Active customers minus recent tire buyers: T8 bought tires 53 days ago, T5 two years ago."""
    defs = {
        "active": SegmentDef(
            rule={"any": [{"segment": "loyal"}, {"segment": "at_risk"}]},
        ),
        "loyal": SegmentDef(template="service_status", params={"status": "loyal"}),
        "at_risk": SegmentDef(template="service_status", params={"status": "at_risk"}),
        "recent_tire_buyers": SegmentDef(
            template="purchased_category", params={"category": "tires"}
        ),
        "tire_offer": SegmentDef(include=["active"], exclude=["recent_tire_buyers"]),
    }
    compiled = compile_segment("tire_offer", defs, REG, as_of=AS_OF)
    got = {row[0] for row in con.execute(compiled.sql, compiled.params).fetchall()}
    assert got == {"T1", "T2", "T3", "T5", "T10"}
    assert "T8" not in got and "T5" in got


def test_bad_params_and_unknown_template() -> None:
    def compile_one(**kw: Any) -> None:
        compile_segment("x", {"x": SegmentDef(**kw)}, REG, as_of=AS_OF)

    with pytest.raises(ConfigError) as err:
        compile_one(template="service_status", params={"status": "atrisk"})
    assert err.value.message == (
        "segments.x.params.status: found 'atrisk', expected one of"
        " 'loyal', 'at_risk', 'lost' or 'never_serviced'"
    )
    with pytest.raises(ConfigError) as err:
        compile_one(template="service_status", params={"stauts": "lost"})
    assert err.value.message.startswith("segments.x.params.stauts: unknown key; expected one of:")
    with pytest.raises(ConfigError, match=r"^segments\.x\.params: .*loyal_months smaller"):
        compile_one(template="service_status", params={"loyal_months": 24})
    with pytest.raises(ConfigError) as err:
        compile_one(template="servce_status")
    assert err.value.message == (
        "segments.x.template: unknown template 'servce_status'"
        " (closest: service_status, service_due)"
    )


class _FleetParams(BaseModel):
    min_vehicles: int = Field(3, ge=1, description="Owned vehicles at least.")


def test_plugin_template_through_the_hook(con: Any) -> None:
    plugin = types.ModuleType("fleet_templates")

    @hookimpl
    def dealersync_register_segment_templates() -> list[SegmentTemplate]:
        return [
            SegmentTemplate(
                "fleet",
                "Customers owning several vehicles.",
                _FleetParams,
                lambda p: {"fact": "vehicles_owned", "op": ">=", "value": p.min_vehicles},
            )
        ]

    plugin.dealersync_register_segment_templates = (  # type: ignore[attr-defined]
        dealersync_register_segment_templates
    )
    templates = template_registry(load_plugins([plugin]))
    assert templates.origin("fleet") == "fleet_templates"
    assert templates.origin("service_status") == "dealersync"
    defs = {"f": SegmentDef(template="fleet", params={"min_vehicles": 2})}
    compiled = compile_segment("f", defs, REG, as_of=AS_OF, templates=templates)
    assert {r[0] for r in con.execute(compiled.sql, compiled.params).fetchall()} == {"T10"}
    with pytest.raises(ConfigError, match="unknown template 'fleet'"):
        compile_segment("f", defs, REG, as_of=AS_OF)  # the core library alone does not know it


def test_template_registry_checks_plugins() -> None:
    reg = core_templates()

    class NoDefault(BaseModel):
        n: int = Field(description="no default")

    with pytest.raises(ConfigError, match="parameter 'n' needs a default and a description"):
        reg.register(SegmentTemplate("x", "", NoDefault, lambda p: None))
    with pytest.raises(ConfigError, match="'service_status' is defined twice"):
        reg.register(reg.get("service_status"), origin="acme")


def test_segments_doc_documents_every_template_and_parameter() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "segments.md").read_text()
    documented = re.findall(r"^### `(\w+)`$", doc, flags=re.MULTILINE)
    assert [t for t in documented if t in core_templates()] == core_templates().names()
    for template in core_templates():
        section = doc.split(f"### `{template.name}`\n", 1)[1].split("\n### ", 1)[0]
        params = re.findall(r"^\| `(\w+)` \| (`[^`]*`|\(not set\)) \|", section, flags=re.MULTILINE)
        defaults = {k: ("(not set)" if v is None else v) for k, v in template.defaults().items()}
        assert [k for k, _ in params] == list(defaults), template.name
        for key, shown in params:
            expected = defaults[key]
            if expected != "(not set)":
                value = tomllib.loads(f"v = {shown.strip('`')}")["v"]
                assert value == expected, (template.name, key)
