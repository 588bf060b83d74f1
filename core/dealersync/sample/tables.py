"""One SQL builder per canonical table of the sample extract.

A builder returns a :class:`Query`: an expression per canonical column and the FROM clause that
provides the names those expressions use. Row indices come from ``range()``; every value from the
macros in :mod:`dealersync.sample.macros`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dealersync.sample.dialect import Dialect, written
from dealersync.sample.macros import (
    APPOINTMENT_SLOTS,
    DESCRIPTION_SLOTS,
    EVENT_SLOTS,
    LEAD_SLOTS,
    TRIM_SLOTS,
    VEHICLE_SLOTS,
    VOCAB,
    choose,
    pick,
    pick_index,
    sql_literal,
)

VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
#: VIN position 10 cycles through these every 30 model years, 'A' being 1980.
VIN_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
LEAD_SOURCES = (
    ["website"] * 7 + ["third_party"] * 5 + ["walk_in"] * 3 + ["phone"] * 3 + ["chat"] * 2
)
EVENT_TYPES = [
    "sent", "open", "click", "unsubscribe", "bounce", "complaint",  # email
    "sent", "click", "visit", "clinic",  # sms, sms, web, event
]  # fmt: skip
EVENT_CHANNELS = ["email"] * 6 + ["sms", "sms", "web", "event"]
#: Cumulative probabilities of EVENT_TYPES.
EVENT_CUTS = [0.42, 0.62, 0.70, 0.715, 0.735, 0.74, 0.82, 0.85, 0.97]


@dataclass(frozen=True)
class Spec:
    """What every builder needs besides the macros."""

    customers: int
    year: int  # the calendar year of as_of
    dialect: Dialect


@dataclass(frozen=True)
class Query:
    columns: dict[str, str]
    source: str
    order_by: str = ""


def _customer_rows(spec: Spec) -> str:
    return f"range(1, {spec.customers + 1}) AS t(i)"


def _per_customer(spec: Spec, count: str, slot: str) -> str:
    """Rows (i, slot) for slot in 0 .. count(i) - 1."""
    return f"(SELECT i, unnest(range({count})) AS {slot} FROM {_customer_rows(spec)})"


def _phone(tag: str, digits: str, fmt: str, key: str) -> str:
    """One of many ways a person's 10-digit number gets typed, chosen by the uniform ``fmt``."""
    a, e, n = (f"{digits}.{part}" for part in ("a", "e", "n"))
    return f"""CASE
        WHEN {fmt} < 0.22 THEN '(' || {a} || ') ' || {e} || '-' || {n}
        WHEN {fmt} < 0.30 THEN {a} || '.' || {e} || '.' || {n}
        WHEN {fmt} < 0.44 THEN {a} || {e} || {n}
        WHEN {fmt} < 0.52 THEN '+1 ' || {a} || ' ' || {e} || ' ' || {n}
        WHEN {fmt} < 0.58 THEN '1-' || {a} || '-' || {e} || '-' || {n}
        WHEN {fmt} < 0.61 THEN '001 ' || {a} || ' ' || {e} || ' ' || {n}
        WHEN {fmt} < 0.85 THEN {a} || '-' || {e} || '-' || {n}
        WHEN {fmt} < 0.91 THEN '(' || {a} || ') ' || {e} || '-' || {n}
            || ' x' || (10 + ri('{tag}x', {key}, 0, 990))
        WHEN {fmt} < 0.96 THEN {pick("foreign_phones", tag + "f", key, "0")} || {n}
        ELSE {pick("junk_phones", tag + "j", key, "0")} END"""


def _phone_digits(tag: str, key: str) -> str:
    return (
        f"{{'a': {pick('area_codes', tag + 'a', key, '0')},"
        f" 'e': (201 + ri('{tag}e', {key}, 0, 799))::VARCHAR,"
        f" 'n': lpad(ri('{tag}n', {key}, 0, 10000)::VARCHAR, 4, '0')}}"
    )


def customer_source(index: str) -> str:
    """Customer attributes for the rows of ``index`` (a FROM item with a customer index ``i``)."""
    family = "CASE WHEN home(p) <> p AND ru('hln', p, 0) < 0.7 THEN home(p) ELSE p END"
    base = f"""SELECT *,
        first_names()[fni] AS fn, last_names()[lni] AS ln,
        first_names_plain()[fni] AS f, last_names_plain()[lni] AS l,
        {pick("place_pick", "pl", "hm", "0")} AS pl,
        {pick("email_domains", "dom", "p", "0")} AS dom,
        {_phone_digits("m", "p")} AS mobile, {_phone_digits("h", "p")} AS landline,
        CASE WHEN profile(i) = 0 THEN 86400 + ri('ca', i, 0, 3650 * 86400)
            ELSE 1950 * 86400 + ri('ca', i, 0, 2000 * 86400) END AS created_ago
        FROM (SELECT *, {pick_index("first_names", "fn", "p", "0")} AS fni,
            {pick_index("last_names", "ln", family, "0")} AS lni
            FROM (SELECT *, person(i) AS p, home(i) AS hm FROM {index}))"""
    email = f"""SELECT *, CASE ri('pat', p, 0, 4)
            WHEN 0 THEN f || '.' || l WHEN 1 THEN f || l
            WHEN 2 THEN f[1] || l ELSE f || '_' || l END || p::VARCHAR
        || CASE WHEN dom IN ('gmail.com', 'googlemail.com') AND ru('tag', p, 0) < 0.15
            THEN '+' || {pick("gmail_tags", "tag", "p", "1")} ELSE '' END AS local
        FROM ({base})"""
    return f"({email})"


def _email() -> str:
    cased = """CASE WHEN ru('emc', p, 0) < 0.04 THEN upper(local || '@' || dom)
        WHEN ru('emc', p, 0) < 0.10
            THEN upper(local[1]) || local[2:] || '@' || upper(dom[1]) || dom[2:]
        ELSE local || '@' || dom END"""
    return f"""CASE WHEN NOT has_email(p) THEN NULL ELSE (CASE ri('emp', p, 0, 25)
        WHEN 0 THEN ' ' || {cased} WHEN 1 THEN {cased} || ' ' WHEN 2 THEN '  ' || {cased} || ' '
        ELSE {cased} END) END"""


def _name(col: str, tag: str, empty: float) -> str:
    return f"""CASE WHEN ru('{tag}e', p, 0) < {empty} THEN NULL
        WHEN ru('{tag}c', p, 0) < 0.06 THEN upper({col})
        WHEN ru('{tag}c', p, 0) < 0.08 THEN {col} || ' ' ELSE {col} END"""


def _last_name_with_suffix() -> str:
    return f"""ln || CASE WHEN ru('sfx', p, 0) < 0.03
        THEN (CASE WHEN ru('sfx', p, 1) < 0.3 THEN ', ' ELSE ' ' END)
            || {pick("name_suffixes", "sfx", "p", "2")} ELSE '' END"""


def _typed_last_name(spec: Spec) -> str:
    """The last name with its suffix, its apostrophe typed as ’ by some people."""
    name = f"({_last_name_with_suffix()})"
    share = spec.dialect.curly_apostrophes
    if not share:
        return name
    curly = f"replace({name}, '''', '’')"
    return f"(CASE WHEN ru('apo', p, 0) < {share} THEN {curly} ELSE {name} END)"


def _address() -> str:
    street = f"""(100 + ri('hn', hm, 0, 9900))::VARCHAR
        || ' ' || {pick("streets", "st", "hm", "0")} || ' '
        || {pick("street_types", "st", "hm", "1")}
        || CASE WHEN ru('apt', hm, 0) < 0.12 THEN (CASE WHEN ru('apt', hm, 1) < 0.5 THEN ', Apt '
            ELSE ' #' END) || (1 + ri('apt', hm, 2, 300))::VARCHAR ELSE '' END"""
    return f"CASE WHEN ru('adu', hm, 0) < 0.05 THEN upper({street}) ELSE {street} END"


def _postal_code() -> str:
    return f"""CASE place_country()[pl]
        WHEN 'CA' THEN place_zip()[pl] || ' ' || ri('zip', hm, 0, 10)::VARCHAR
            || {choose(list("ABCEGHJKL"), "zip", "hm", "1")}
            || ri('zip', hm, 2, 10)::VARCHAR
        ELSE place_zip()[pl] || lpad(ri('zip', hm, 0, 100)::VARCHAR, 2, '0')
            || CASE WHEN place_country()[pl] = 'US' AND ru('zip4', hm, 0) < 0.15
                THEN '-' || lpad(ri('zip4', hm, 1, 10000)::VARCHAR, 4, '0') ELSE '' END END"""


def customer_columns(spec: Spec) -> dict[str, str]:
    channels = ["email"] * 4 + ["sms"] * 3 + ["phone"] * 2 + ["mail"]
    mobile = _phone("m", "mobile", "ru('mpf', i, 0)", "i")
    landline = _phone("h", "landline", "ru('hpf', i, 0)", "i")
    return {
        "customer_id": "cid(i)",
        "first_name": _name("fn", "fn", 0.02),
        "last_name": _name(_typed_last_name(spec), "ln", 0.01),
        "email": _email(),
        "phone_mobile": f"CASE WHEN ru('mpe', i, 0) < 0.10 THEN NULL ELSE {mobile} END",
        "phone_home": f"CASE WHEN ru('hpe', i, 0) >= 0.35 THEN NULL ELSE {landline} END",
        "address_line1": _address(),
        "city": "CASE WHEN ru('adu', hm, 0) < 0.05 THEN upper(place_city()[pl])"
        " ELSE place_city()[pl] END",
        "state": """CASE WHEN ru('stf', i, 0) < 0.80 THEN place_state()[pl]
            WHEN ru('stf', i, 0) < 0.95 THEN place_state_name()[pl]
            ELSE lower(place_state()[pl]) END""",
        "postal_code": _postal_code(),
        "country": "CASE WHEN place_country()[pl] = 'US' AND ru('cty', i, 0) < 0.06 THEN NULL"
        " ELSE place_country()[pl] END",
        "birth_year": f"CASE WHEN ru('by', p, 0) < 0.15 THEN NULL"
        f" ELSE {spec.year} - 18 - ri('by', p, 1, 70) END",
        "preferred_channel": f"CASE WHEN ru('pc', i, 0) < 0.10 THEN NULL"
        f" ELSE {choose(channels, 'pc', 'i', '1')} END",
        "email_opt_in": "ru('eoi', i, 0) >= 0.08",
        "sms_opt_in": "ru('soi', i, 0) < 0.45",
        "do_not_email": "ru('dne', i, 0) < 0.03",
        "do_not_call": "ru('dnc', i, 0) < 0.04",
        "do_not_mail": "ru('dnm', i, 0) < 0.02",
        "do_not_market": "ru('dnk', i, 0) < 0.02",
        "created_at": "ts_ago(created_ago)",
        "updated_at": "ts_ago(ri('ua', i, 0, least(created_ago, 400 * 86400) + 1))",
    }


def customers(spec: Spec) -> Query:
    return Query(customer_columns(spec), customer_source(_customer_rows(spec)))


def _vin() -> str:
    serial = f"i * {VEHICLE_SLOTS} + j"
    chars = " || ".join(
        f"substr('{VIN_CHARS}', 1 + ri('vin', {serial}, {k}, 33)::INTEGER, 1)" for k in range(5)
    )
    return (
        f"car_wmi()[m] || {chars}"
        f" || substr('0123456789X', 1 + ri('vin', {serial}, 9, 11)::INTEGER, 1)"
        f" || substr('{VIN_YEAR_CODES}', 1 + (model_year - 1980) % 30, 1)"
        f" || upper(lpad(to_hex({serial}), 7, '0'))"
    )


def _vehicle_rows(spec: Spec) -> str:
    return f"""(SELECT *, {spec.year} - age // 365 AS model_year FROM (SELECT i, j, car(i, j) AS m,
        purchase_ago(i, j) AS pa, vehicle_age(i, j) AS age, is_new(i, j) AS nw,
        greatest(ri('odd', i, j, least(purchase_ago(i, j), 400) + 1),
            coalesce(dispose_ago(i, j), 0)) AS od
        FROM {_per_customer(spec, "nveh(i)", "j")}))"""


def vehicles(spec: Spec) -> Query:
    return Query(
        {
            "vehicle_id": "vid(i, j)",
            "customer_id": "cid(i)",
            "vin": _vin(),
            "year": "model_year",
            "make": "car_make()[m]",
            "model": "car_model()[m]",
            "trim": f"car_trims()[m][1 + ri('trim', i, j, {TRIM_SLOTS})]",
            "fuel_type": "car_fuel()[m]",
            "odometer": "odometer_at(i, j, od)",
            "odometer_date": "day(-od)",
            "purchased_on": "day(-pa)",
            "disposed_on": "day(-dispose_ago(i, j))",
            "warranty_end": "CASE WHEN nw THEN day(1095 - pa)"
            " WHEN ru('cpo', i, j) < 0.3 THEN day(365 - pa) END",
        },
        _vehicle_rows(spec),
    )


def _deal_rows(spec: Spec) -> str:
    priced = f"""SELECT i, j, deal_kind(i, j) AS k, term_months(i, j) AS tm,
        purchase_ago(i, j) AS pa,
        is_new(i, j) AS nw, round(car_price()[car(i, j)] * CASE WHEN is_new(i, j)
            THEN 1.0 + 0.25 * ru('pr', i, j) ELSE 0.35 + 0.45 * ru('pr', i, j) END) AS price
        FROM {_per_customer(spec, "nveh(i)", "j")} WHERE deal_kind(i, j) > 0"""
    terms = f"""SELECT *, CASE k WHEN 2 THEN (CASE WHEN ru('apr', i, j) < 0.15 THEN 0
            ELSE 2.9 + ri('apr', i, j, 900) / 100 END)
            WHEN 3 THEN 1.5 + ri('apr', i, j, 500) / 100 END AS apr,
        price * (0.7 + 0.3 * ru('fin', i, j)) AS financed,
        price * (0.50 + 0.12 * ru('res', i, j)) AS residual,
        floor(pa / 30.44) AS elapsed
        FROM ({priced})"""
    payment = f"""SELECT *, CASE k
            WHEN 2 THEN (CASE WHEN apr = 0 THEN financed / tm
                ELSE financed * apr / 1200 / (1 - pow(1 + apr / 1200, -tm)) END)
            WHEN 3 THEN (price - residual) / tm + (price + residual) * apr / 2400 END AS payment
        FROM ({terms})"""
    return f"({payment})"


def _payoff() -> str:
    growth = "pow(1 + apr / 1200, {})"
    return f"""CASE WHEN k = 1 OR elapsed >= tm AND k = 2 THEN NULL
        WHEN k = 3 THEN (CASE WHEN dispose_ago(i, j) IS NOT NULL THEN NULL
            ELSE residual + greatest(0, tm - elapsed) * payment * 0.9 END)
        WHEN apr = 0 THEN financed * (1 - elapsed / tm)
        ELSE financed * ({growth.format("tm")} - {growth.format("elapsed")})
            / ({growth.format("tm")} - 1) END"""


def deals(spec: Spec) -> Query:
    return Query(
        {
            "deal_id": f"printf('D%08d', i * {VEHICLE_SLOTS} + j)",
            "customer_id": "cid(i)",
            "co_buyer_customer_id": "CASE WHEN home(i) <> i AND ru('cob', i, j) < 0.5"
            " THEN cid(home(i)) END",
            "vehicle_id": "vid(i, j)",
            "deal_date": "day(-pa)",
            "new_used": written(
                "CASE WHEN nw THEN 'new' ELSE 'used' END", spec.dialect.words("deals", "new_used")
            ),
            "deal_type": written(
                "['cash', 'finance', 'lease'][k]", spec.dialect.words("deals", "deal_type")
            ),
            "term_months": "tm",
            "apr": "apr::DECIMAL(5, 2)",
            "monthly_payment": "payment::DECIMAL(12, 2)",
            "lease_maturity_date": "CASE WHEN k = 3 THEN day(maturity_in(i, j)) END",
            "payoff_amount": f"({_payoff()})::DECIMAL(12, 2)",
            "sale_price": "price::DECIMAL(12, 2)",
        },
        _deal_rows(spec),
    )


def _ro_index(spec: Spec) -> str:
    return _per_customer(spec, "n_ro(i)", "r")


def repair_orders(spec: Spec) -> Query:
    rows = f"""(SELECT *, slot_at(i, j, d) AS s
        FROM (SELECT i, r, ro_ago(i, r) AS d, ri('rv', i, r, nveh(i)) AS j
            FROM {_ro_index(spec)}))"""
    return Query(
        {
            "ro_id": "roid(i, r)",
            "customer_id": "cid(i)",
            "vehicle_id": "vid(i, s)",
            "opened_on": "day(-d)",
            "closed_on": "CASE WHEN d < 3 AND ru('open', i, r) < 0.5 THEN NULL"
            " ELSE day(least(d, ri('cl', i, r, 4)) - d) END",
            "odometer": "odometer_at(i, s, d)",
            "pay_type": written(
                "CASE WHEN ru('pay', i, r) < 0.80 THEN 'customer'"
                " WHEN ru('pay', i, r) < 0.92 THEN 'warranty' ELSE 'internal' END",
                spec.dialect.words("repair_orders", "pay_type"),
            ),
            "total": "'$' || format('{:,.2f}', ro_total(i, r))"
            if spec.dialect.money_text
            else "ro_total(i, r)",
        },
        rows,
    )


def ro_lines(spec: Spec) -> Query:
    rows = f"""(SELECT *, line_op(i, r, l) AS op
        FROM (SELECT i, r, unnest(range(n_lines(i, r))) AS l FROM {_ro_index(spec)}))"""
    return Query(
        {
            "ro_id": "roid(i, r)",
            "line_no": "l + 1",
            "op_code": "op_codes()[op]",
            "description": "op_descriptions()[op]"
            f"[1 + ri('dsc', rok(i, r), l, {DESCRIPTION_SLOTS})]",
            "labor_amount": "line_labor(i, r, l)",
            "parts_amount": "line_parts(i, r, l)",
            "status": written("line_status(i, r, l)", spec.dialect.words("ro_lines", "status")),
        },
        rows,
    )


def appointments(spec: Spec) -> Query:
    count = """CASE WHEN nveh(i) = 0 OR ru('na', i, 0) < 0.55 THEN 0
        WHEN ru('na', i, 0) < 0.85 THEN 1 ELSE 2 END"""
    # days from as_of: loyal customers often have one booked in the next two months
    ahead = """CASE WHEN a = 0 AND profile(i) = 3 AND ru('af', i, 0) < 0.4
            THEN 1 + ri('ao', i, a, 60)
        ELSE -400 + ri('ao', i, a, 460) END"""
    rows = f"""(SELECT *, slot_at(i, j, -ahead) AS s,
            ahead * 86400 + 7 * 3600 + ri('ah', i, a, 20) * 1800 AS at_s
        FROM (SELECT i, a, {ahead} AS ahead, ri('av', i, a, nveh(i)) AS j
            FROM {_per_customer(spec, count, "a")}))"""
    return Query(
        {
            "appointment_id": f"printf('A%08d', i * {APPOINTMENT_SLOTS} + a)",
            "customer_id": "cid(i)",
            "vehicle_id": "vid(i, s)",
            "scheduled_for": "ts_ago(-at_s)",
            "status": written(
                """CASE WHEN ahead > 0
                THEN (CASE WHEN ru('as', i, a) < 0.7 THEN 'scheduled' ELSE 'confirmed' END)
                WHEN ru('as', i, a) < 0.75 THEN 'completed'
                WHEN ru('as', i, a) < 0.87 THEN 'no_show'
                ELSE 'cancelled' END""",
                spec.dialect.words("appointments", "status"),
            ),
        },
        rows,
    )


def leads(spec: Spec) -> Query:
    count = "CASE WHEN ru('nld', i, 0) < 0.65 THEN 0 WHEN ru('nld', i, 0) < 0.9 THEN 1 ELSE 2 END"
    rows = f"""(SELECT *, 1 + ri('lcar', i, k, {len(VOCAB["car_make"])}) AS m
        FROM (SELECT i, k, 1 + ri('la', i, k, 730) AS ago
            FROM {_per_customer(spec, count, "k")}))"""
    fresh = choose(["new", "contacted", "appointment"], "stg", "i", "k")
    settled = choose(["sold"] * 3 + ["lost"] * 5 + ["contacted", "appointment"], "stg", "i", "k")
    return Query(
        {
            "lead_id": f"printf('L%08d', i * {LEAD_SLOTS} + k)",
            "customer_id": "cid(i)",
            "created_at": "ts_ago(ago * 86400 - ri('ls', i, k, 86400))",
            "source": choose(LEAD_SOURCES, "src", "i", "k"),
            "stage": f"CASE WHEN ago <= 30 THEN {fresh} ELSE {settled} END",
            "vehicle_of_interest": f"""CASE WHEN ru('voi', i, k) < 0.2 THEN NULL
                ELSE ({spec.year} + 1 - ri('voi', i, k + 10, 4))::VARCHAR
                    || ' ' || car_make()[m] || ' ' || car_model()[m] END""",
        },
        rows,
    )


def events(spec: Spec) -> Query:
    count = "CASE WHEN ru('ne', i, 0) < 0.25 THEN 0 ELSE 1 + ri('ne', i, 1, 12) END"
    kinds = " ".join(f"WHEN u < {cut} THEN {n}" for n, cut in enumerate(EVENT_CUTS, 1))
    # customers without an email address get text messages instead
    rows = f"""(SELECT *,
            CASE WHEN kind <= 6 AND NOT has_email(person(i)) THEN 7 ELSE kind END AS kd
        FROM (SELECT i, e, CASE {kinds} ELSE {len(EVENT_CUTS) + 1} END AS kind
            FROM (SELECT i, e, ru('et', i, e) AS u FROM {_per_customer(spec, count, "e")})))"""
    return Query(
        {
            "event_id": f"printf('E%09d', i * {EVENT_SLOTS} + e)",
            "customer_id": "cid(i)",
            "occurred_at": "ts_ago(86400 + ri('eo', i, e, 364 * 86400))",
            "channel": f"{sql_literal(EVENT_CHANNELS)}[kd]",
            "type": f"{sql_literal(EVENT_TYPES)}[kd]",
            "campaign": f"""CASE WHEN kd <= 8 THEN {pick("email_campaigns", "ec", "i", "e")}
                WHEN kd = 10 THEN {pick("clinic_campaigns", "ec", "i", "e")} END""",
        },
        rows,
    )


def suppressions(spec: Spec) -> Query:
    """A handful of existing customers' emails, phones or ids, from complaints and legal."""
    rows_n = min(500, max(5, spec.customers // 2000))
    picked = f"(SELECT j, 1 + ri('sup', j, 0, {spec.customers}) AS i FROM range({rows_n}) AS t(j))"
    cols = customer_columns(spec)
    found = f"""(SELECT j, {cols["customer_id"]} AS cust, {cols["email"]} AS mail,
            {cols["phone_mobile"]} AS tel
        FROM {customer_source(picked)})"""
    by_email = "j % 3 = 0 AND mail IS NOT NULL"
    by_phone = "j % 3 = 1 AND length(regexp_replace(coalesce(tel, ''), '[^0-9]', '', 'g')) >= 10"
    return Query(
        {
            "email": f"CASE WHEN {by_email} THEN lower(trim(mail)) END",
            "phone": f"CASE WHEN {by_phone} THEN tel END",
            "customer_id": f"CASE WHEN NOT ({by_email}) AND NOT ({by_phone}) THEN cust END",
            "reason": choose(["complaint", "legal"], "sr", "j", "0"),
            "since": "day(-1 - ri('ss', j, 0, 1000))",
            "scope": "NULL",  # complaints and legal requests hold for every channel (empty: all)
        },
        found,
        order_by="j",
    )


BUILDERS = {
    "customers": customers,
    "vehicles": vehicles,
    "deals": deals,
    "repair_orders": repair_orders,
    "ro_lines": ro_lines,
    "appointments": appointments,
    "leads": leads,
    "events": events,
    "suppressions": suppressions,
}
