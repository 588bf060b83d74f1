"""The benchmark's pandas reference (bench/pandas_pipeline.py) and dealersync apply policy to the
same persons, on records made to share emails and phones far more than a sample dealership does.

The bench smoke test compares the two pipelines on a sample extract, where few records share a
key and none of them differ in consent: it catches a per-record exclusion, not a per-record
holdout or opt-out. Here each pipeline finds the persons on its own (pandas' connected
components, dealersync's SQL graph) and applies excludes, the suppression file (with scopes),
priority groups, the holdout on the anchor and ads consent; the audiences must be equal, and
must differ from what a per-record policy gives, step by step.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pandas") is None, reason="bench-only dependency: pip install -r bench/requirements.txt"
)

from dealersync.config import AudienceSettings  # noqa: E402
from dealersync.consent import person_consent_sql  # noqa: E402
from dealersync.policy import AudiencePolicy  # noqa: E402
from dealersync.segments import CompiledSQL  # noqa: E402
from dealersync.store import Warehouse  # noqa: E402
from dealersync.suppressions import SuppressionList  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

#: name -> (segment, excludes, holdout, (priority group, rank)), as bench/pandas_pipeline.AUDIENCES
AUDIENCES = {
    "first": ("H", [], 0.0, ("g", 1)),
    "second": ("A", ["X"], 0.3, ("g", 2)),
    "alone": ("B", [], 0.5, None),
}
CUSTOMERS = 3000


def _phone(rnd: random.Random, number: int) -> str:
    """One North American number in one of the ways a DMS writes it."""
    digits = f"512555{number:04d}"
    return rnd.choice([f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"+1 {digits[:3]} {digits[3:6]} {digits[6:]}",
                       digits, f"1-{digits[:3]}-{digits[3:6]}-{digits[6:]}", f"{digits[:3]}.{digits[3:6]}.{digits[6:]}"])


def _world(seed: int = 14) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, set[str]]]:
    """Customers (a fifth take an email, a fifth a mobile from pools of 500, so persons chain
    through both), suppression rows of every scope, and random segments."""
    rnd = random.Random(seed)
    customers = []
    for i in range(CUSTOMERS):
        email = f"p{rnd.randrange(500)}@x.org" if rnd.random() < 0.2 else f"c{i}@x.org"
        customers.append({
            "customer_id": f"c{i:05d}",
            "email": rnd.choice([email, email.upper(), f" {email} ", None] if rnd.random() < 0.2 else [email]),
            "phone_mobile": _phone(rnd, rnd.randrange(500)) if rnd.random() < 0.2 else _phone(rnd, 1000 + i),
            "phone_home": _phone(rnd, rnd.randrange(500)) if rnd.random() < 0.05 else None,
            "do_not_market": rnd.random() < 0.04,
        })
    suppressions = []
    for j in range(60):
        c = rnd.choice(customers)
        kind = rnd.choice(["email", "phone", "customer_id"])
        value = {"email": c["email"], "phone": c["phone_mobile"], "customer_id": c["customer_id"]}[kind]
        suppressions.append({kind: value, "reason": "test", "scope": rnd.choice([None, "all", "ads", "email", "sms"])})
    ids = [c["customer_id"] for c in customers]
    segments = {name: set(rnd.sample(ids, int(share * CUSTOMERS))) for name, share in
                (("H", 0.2), ("A", 0.45), ("B", 0.45), ("X", 0.1))}
    return customers, suppressions, segments


def _dealersync(customers: list[dict[str, Any]], suppressions: list[dict[str, Any]], segments: dict[str, set[str]]) -> dict[str, set[str]]:
    wh = Warehouse(":memory:")
    con = wh.con
    con.executemany(
        "INSERT INTO customers (customer_id, email, phone_mobile, phone_home, do_not_market, _source) VALUES (?, ?, ?, ?, ?, 'dms')",
        [[c["customer_id"], c["email"], c["phone_mobile"], c["phone_home"], c["do_not_market"]] for c in customers],
    )
    con.executemany(
        "INSERT INTO suppressions (email, phone, customer_id, reason, scope, _source) VALUES (?, ?, ?, ?, ?, 'dms')",
        [[s.get("email"), s.get("phone"), s.get("customer_id"), s["reason"], s["scope"]] for s in suppressions],
    )
    for name, members in segments.items():
        con.execute(f"CREATE TEMP TABLE seg_{name} (customer_id VARCHAR)")
        con.executemany(f"INSERT INTO seg_{name} VALUES (?)", [[m] for m in sorted(members)])
    settings = {
        name: AudienceSettings(segment=seg, exclude=ex, holdout=holdout, destinations=["d"],
                               priority_group=prio[0] if prio else None, priority=prio[1] if prio else 1)
        for name, (seg, ex, holdout, prio) in AUDIENCES.items()
    }
    policy = AudiencePolicy(con, settings, lambda seg: CompiledSQL(f"SELECT customer_id FROM seg_{seg}", []))
    consent = person_consent_sql("ads", SuppressionList(con).suppressed_customers_sql("ads"))
    out = {}
    for name in AUDIENCES:
        table = policy.select(name).table
        out[name] = {r[0] for r in con.execute(f'SELECT customer_id FROM "{table}" INTERSECT {consent}').fetchall()}
    wh.close()
    return out


def test_the_pandas_reference_applies_policy_to_the_same_persons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd
    import pandas_pipeline as ref

    customers, suppressions, segments = _world()
    # as the analyst reads the extract: text, empty cells missing
    cust = pd.DataFrame([{**c, "do_not_market": str(c["do_not_market"]).lower()} for c in customers])
    pd.DataFrame(suppressions, columns=["email", "phone", "customer_id", "reason", "scope"]).to_csv(
        tmp_path / "suppressions.csv", index=False
    )
    monkeypatch.setattr(ref, "AUDIENCES", AUDIENCES)

    def pandas_audiences(people: Any) -> dict[str, set[str]]:
        blocked = ref.suppressed(tmp_path, cust)
        return ref.audiences(segments, blocked["all"], ref.ads_consented(cust, people, blocked["ads"]), people)

    person_of = ref.persons(cust)
    by_person = pandas_audiences(ref.People(person_of))
    assert by_person == _dealersync(customers, suppressions, segments)

    # the world is one where persons matter: chains of three records or more, and each
    # audience comes out different when policy is applied per record
    sizes = pd.Series(list(person_of.values())).value_counts()
    assert len(sizes) > 200 and 3 <= sizes.max() <= 100, sizes.head()
    by_record = pandas_audiences(ref.People({}))
    assert all(by_person[name] != by_record[name] for name in AUDIENCES)
    # and the holdout alone, drawn on the anchor rather than the record, changes who is held out
    people = ref.People(person_of)
    eligible = people.without(segments["B"], set())
    on_record = ref.People({}).held_out(eligible, "alone", 0.5)
    assert people.held_out(eligible, "alone", 0.5) != on_record
