"""DuckDB macros the table builders share: seeded hash randomness and per-customer/vehicle facts.

Every value is a pure function of (seed, tag, row indices), so any table can recompute another
table's facts (how many vehicles customer i has, when vehicle j was bought) without a join, and
the output is the same whatever the thread schedule.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence

from dealersync.sample import vocab
from dealersync.sample.service_menu import MenuLine

#: Days before as_of: RO history spans at most this much (plus < 30 days of jitter).
RO_HORIZON_DAYS = 1800
#: Slot indices are packed into ids: vehicle i*VEHICLE_SLOTS + j, etc.
VEHICLE_SLOTS = 4
RO_SLOTS = 8
APPOINTMENT_SLOTS = 2
LEAD_SLOTS = 2
EVENT_SLOTS = 16
#: Repair orders have 1 .. MAX_LINES lines.
MAX_LINES = 4
#: Every model's trim list is cycled to this length, so a trim is picked without len().
TRIM_SLOTS = 4

#: Every menu line's descriptions are cycled to this length, so one is picked without len().
DESCRIPTION_SLOTS = 4


def sql_literal(value: object) -> str:
    """A SQL literal for a str, int, float, bool or (nested) tuple/list of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def _weighted(weights: dict[int, int]) -> list[int]:
    """A list in which each (1-based) index appears as often as its weight."""
    return [index for index, weight in weights.items() for _ in range(weight)]


def _plain(name: str) -> str:
    """A name as it appears in an email address: ASCII lower-case letters only."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_name.lower() if "a" <= c <= "z")


def _vocab_macros() -> dict[str, Sequence[object]]:
    places = vocab.PLACES
    cars = vocab.VEHICLES
    return {
        "first_names": vocab.FIRST_NAMES,
        "last_names": vocab.LAST_NAMES,
        "first_names_plain": [_plain(n) for n in vocab.FIRST_NAMES],
        "last_names_plain": [_plain(n) for n in vocab.LAST_NAMES],
        "name_suffixes": vocab.NAME_SUFFIXES,
        "streets": vocab.STREETS,
        "street_types": vocab.STREET_TYPES,
        "place_pick": _weighted({n: p[5] for n, p in enumerate(places, 1)}),
        "place_city": [p[0] for p in places],
        "place_state": [p[1] for p in places],
        "place_state_name": [p[2] for p in places],
        "place_zip": [p[3] for p in places],
        "place_country": [p[4] for p in places],
        "area_codes": vocab.AREA_CODES,
        "foreign_phones": vocab.FOREIGN_PHONE_STEMS,
        "junk_phones": vocab.JUNK_PHONES,
        "email_domains": vocab.EMAIL_DOMAINS,
        "gmail_tags": vocab.GMAIL_TAGS,
        "car_make": [c[0] for c in cars],
        "car_model": [c[1] for c in cars],
        "car_fuel": [c[2] for c in cars],
        "car_wmi": [c[3] for c in cars],
        "car_price": [c[4] for c in cars],
        "car_trims": [[c[5][k % len(c[5])] for k in range(TRIM_SLOTS)] for c in cars],
        "email_campaigns": vocab.EMAIL_CAMPAIGNS,
        "clinic_campaigns": vocab.CLINIC_CAMPAIGNS,
    }


VOCAB = _vocab_macros()


def _menu_macros(menu: Sequence[MenuLine]) -> dict[str, Sequence[object]]:
    """The service menu as SQL lists; a line's index into them is its 1-based menu position."""
    if any(len(m.descriptions) > DESCRIPTION_SLOTS for m in menu):
        raise AssertionError(f"a menu line has more than {DESCRIPTION_SLOTS} descriptions")
    return {
        "op_codes": [m.code for m in menu],
        "op_descriptions": [
            [m.descriptions[k % len(m.descriptions)] for k in range(DESCRIPTION_SLOTS)]
            for m in menu
        ],
        "op_labor": [m.labor for m in menu],
        "op_parts": [m.parts for m in menu],
        # a further line's uniform draw below the first cut is declined, below the second
        # recommended, else performed
        "op_declined_below": [m.declined for m in menu],
        "op_recommended_below": [round(m.declined + m.recommended, 6) for m in menu],
        "visit_ops": _weighted({n: m.visit for n, m in enumerate(menu, 1)}),
        "addon_ops": _weighted({n: m.addon for n, m in enumerate(menu, 1)}),
    }


def pick_index(vocab_name: str, tag: str, a: str, b: str) -> str:
    """SQL for a uniform 1-based index into the vocabulary macro ``vocab_name()``."""
    return f"1 + ri('{tag}', {a}, {b}, {len(VOCAB[vocab_name])})"


def pick(vocab_name: str, tag: str, a: str, b: str) -> str:
    """SQL for a uniform choice from the vocabulary macro ``vocab_name()``, keyed by (tag, a, b)."""
    return f"{vocab_name}()[{pick_index(vocab_name, tag, a, b)}]"


def choose(values: Sequence[object], tag: str, a: str, b: str) -> str:
    """SQL for a uniform choice from a literal list (its length inlined: len() is slow per row)."""
    return f"{sql_literal(values)}[1 + ri('{tag}', {a}, {b}, {len(values)})]"


def _random_macros(seed: int, as_of: dt.date) -> list[str]:
    epoch_us = int(dt.datetime.combine(as_of, dt.time()).replace(tzinfo=dt.UTC).timestamp()) * 10**6
    return [
        # hash of (seed, tag, a, b): the one source of randomness
        f"rh(k, a, b) AS hash({int(seed)}, k, a, b)",
        "ru(k, a, b) AS rh(k, a, b) / 18446744073709551616.0",  # uniform [0, 1)
        "ri(k, a, b, m) AS (rh(k, a, b) % m)::BIGINT",  # uniform integer [0, m)
        f"day(n) AS DATE '{as_of.isoformat()}' + (n)::INTEGER",  # as_of + n days
        f"ts_ago(s) AS make_timestamp({epoch_us} - (s)::BIGINT * 1000000)",  # s seconds before
        "cid(i) AS printf('C%07d', i)",
    ]


def _customer_macros() -> list[str]:
    return [
        # ~3.5% of customers repeat the previous customer's person (same name and email)
        "person(i) AS CASE WHEN i % 2 = 0 AND ru('dup', i, 0) < 0.07 THEN i - 1 ELSE i END",
        # households: some blocks of four ids share the block's first customer's address
        "home(i) AS CASE WHEN ru('hh', (i - 1) // 4, 0) < 0.15"
        " AND (i - 1) % 4 <= 1 + ri('hs', (i - 1) // 4, 0, 3) THEN i - (i - 1) % 4 ELSE i END",
        "has_email(p) AS ru('eme', p, 0) >= 0.08",
        "nveh(i) AS CASE WHEN ru('nv', i, 0) < 0.05 THEN 0 WHEN ru('nv', i, 0) < 0.50 THEN 1"
        " WHEN ru('nv', i, 0) < 0.85 THEN 2 ELSE 3 END",
        # service profile: 0 never serviced, 1 lost, 2 at risk, 3 loyal
        "profile(i) AS CASE WHEN nveh(i) = 0 OR ru('sp', i, 0) < 0.10 THEN 0"
        " WHEN ru('sp', i, 0) < 0.28 THEN 1 WHEN ru('sp', i, 0) < 0.48 THEN 2 ELSE 3 END",
        # days from the last visit to as_of, well inside each profile's calendar-month band
        "last_visit(i) AS CASE profile(i) WHEN 3 THEN 1 + ri('lv', i, 0, 349)"
        " WHEN 2 THEN 380 + ri('lv', i, 0, 330) WHEN 1 THEN 745 + ri('lv', i, 0, 1000) END",
        "visit_gap(i) AS 90 + ri('gap', i, 0, 240)",
        f"n_ro(i) AS CASE WHEN profile(i) = 0 THEN 0 ELSE least(1 + ri('nro', i, 0, {RO_SLOTS}),"
        f" 1 + ({RO_HORIZON_DAYS} - last_visit(i)) // visit_gap(i)) END",
        # days before as_of of repair order r (r = 0 is the latest visit)
        "ro_ago(i, r) AS last_visit(i) + r * visit_gap(i)"
        " + CASE WHEN r > 0 THEN ri('rj', i, r, 30) ELSE 0 END",
    ]


def _vehicle_macros() -> list[str]:
    return [
        f"vid(i, j) AS printf('V%08d', i * {VEHICLE_SLOTS} + j)",
        # deal kind: 0 bought elsewhere, 1 cash, 2 finance, 3 lease (never the first vehicle)
        "deal_kind(i, j) AS CASE WHEN j = 0 THEN (CASE WHEN ru('dk', i, j) < 0.25 THEN 0"
        " WHEN ru('dk', i, j) < 0.55 THEN 1 ELSE 2 END) ELSE (CASE WHEN ru('dk', i, j) < 0.30"
        " THEN 0 WHEN ru('dk', i, j) < 0.45 THEN 1 WHEN ru('dk', i, j) < 0.70 THEN 2"
        " ELSE 3 END) END",
        "term_months(i, j) AS CASE deal_kind(i, j)"
        f" WHEN 2 THEN {choose([36, 48, 60, 72, 84], 'tm', 'i', 'j')}"
        f" WHEN 3 THEN {choose([24, 36, 39], 'tm', 'i', 'j')} END",
        # lease maturity from 1000 days ago to two years ahead
        "maturity_in(i, j) AS -1000 + ri('mat', i, j, 1731)",
        # days before as_of the vehicle was bought; the first one predates all repair orders
        "purchase_ago(i, j) AS CASE WHEN deal_kind(i, j) = 3"
        " THEN round(term_months(i, j) * 30.44)::BIGINT - maturity_in(i, j)"
        f" WHEN j = 0 THEN {RO_HORIZON_DAYS + 60} + ri('pa', i, j, 1400)"
        " ELSE 20 + ri('pa', i, j, 3000) END",
        # returned leases, and some trade-ins, were disposed of
        "dispose_ago(i, j) AS CASE WHEN deal_kind(i, j) = 3 THEN (CASE WHEN maturity_in(i, j) < -30"
        " AND ru('ret', i, j) < 0.7 THEN -maturity_in(i, j) END)"
        " WHEN j > 0 AND purchase_ago(i, j) > 400 AND ru('ret', i, j) < 0.10"
        " THEN ri('dsp', i, j, purchase_ago(i, j) - 200) END",
        # the customer's vehicle in slot j was theirs d days before as_of (else use slot 0)
        "slot_at(i, j, d) AS CASE WHEN purchase_ago(i, j) >= d"
        " AND coalesce(dispose_ago(i, j) <= d, true) THEN j ELSE 0 END",
        "is_new(i, j) AS deal_kind(i, j) = 3 OR (deal_kind(i, j) > 0 AND ru('new', i, j) < 0.55)",
        # vehicle age in days: time on the lot (new) or prior ownership (used) before the purchase
        "vehicle_age(i, j) AS purchase_ago(i, j) + CASE WHEN is_new(i, j)"
        " THEN ri('age', i, j, 120) ELSE 365 + ri('age', i, j, 2500) END",
        f"car(i, j) AS 1 + ri('car', i, j, {len(vocab.VEHICLES)})",
        "miles_per_day(i, j) AS 20 + ri('mpd', i, j, 25)",
        # odometer d days before as_of
        "odometer_at(i, j, d) AS 5 + greatest(0, (CASE WHEN is_new(i, j) THEN purchase_ago(i, j)"
        " ELSE vehicle_age(i, j) END) - d) * miles_per_day(i, j)",
    ]


def _performed_amount(line: int) -> str:
    return (
        f"CASE WHEN {line} < n_lines(i, r) AND line_status(i, r, {line}) = 'performed'"
        f" THEN line_labor(i, r, {line}) + line_parts(i, r, {line}) ELSE 0 END"
    )


def _service_macros(menu: dict[str, Sequence[object]]) -> list[str]:
    visits, addons = len(menu["visit_ops"]), len(menu["addon_ops"])
    return [
        f"rok(i, r) AS i * {RO_SLOTS} + r",  # repair order number, the key of its lines' randomness
        "roid(i, r) AS printf('R%09d', rok(i, r))",
        # 1 .. MAX_LINES lines
        "n_lines(i, r) AS CASE WHEN ru('nl', i, r) < 0.35 THEN 1 WHEN ru('nl', i, r) < 0.65 THEN 2"
        " WHEN ru('nl', i, r) < 0.85 THEN 3 ELSE 4 END",
        # line 1 is why the customer came in, the others were added (or offered) on the visit
        "line_op(i, r, l) AS CASE WHEN l = 0"
        f" THEN visit_ops()[1 + ri('op', rok(i, r), 0, {visits})]"
        f" ELSE addon_ops()[1 + ri('op', rok(i, r), l, {addons})] END",
        # line 1 is always done; the others are declined or recommended as often as the menu says
        "line_status(i, r, l) AS CASE WHEN l = 0 THEN 'performed'"
        " WHEN ru('st', rok(i, r), l) < op_declined_below()[line_op(i, r, l)] THEN 'declined'"
        " WHEN ru('st', rok(i, r), l) < op_recommended_below()[line_op(i, r, l)]"
        " THEN 'recommended' ELSE 'performed' END",
        "line_labor(i, r, l) AS (op_labor()[line_op(i, r, l)]"
        " * (0.8 + 0.4 * ru('lab', rok(i, r), l)))::DECIMAL(10, 2)",
        "line_parts(i, r, l) AS (op_parts()[line_op(i, r, l)]"
        " * (0.8 + 0.4 * ru('par', rok(i, r), l)))::DECIMAL(10, 2)",
        "ro_total(i, r) AS ("
        + " + ".join(_performed_amount(n) for n in range(MAX_LINES))
        + ")::DECIMAL(12, 2)",
    ]


def macro_statements(seed: int, as_of: dt.date, menu: Sequence[MenuLine]) -> list[str]:
    """CREATE MACRO statements, in dependency order, for one (seed, as_of, service menu)."""
    menu_lists = _menu_macros(menu)
    vocabularies = VOCAB | menu_lists
    bodies = [f"{name}() AS {sql_literal(value)}" for name, value in vocabularies.items()]
    bodies += _random_macros(seed, as_of)
    bodies += _customer_macros() + _vehicle_macros() + _service_macros(menu_lists)
    return [f"CREATE MACRO {body}" for body in bodies]
