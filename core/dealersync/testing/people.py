"""Sample people for destination checks: a tiny customers table, members built by core identity.

Members are built exactly as a sync builds them (:func:`dealersync.identity.build_members` with
the destination's ``identifiers``), so a destination under test gets realistic normalized and
hashed members. The first customers carry names with accents and apostrophes (José Müller, Zoë
O'Brien, Siobhán Lindqvist) so every sample exercises non-ASCII text.

:meth:`SamplePeople.large_members` are people as large as platforms allow, for the kit's
``request-bytes`` check: a 254-byte email (RFC 5321: a 64-byte local part, a 256-byte path
including its angle brackets), 255-character names and address (a common text field cap, e.g.
Mailchimp's text merge fields), both phones and every other column filled, so a member carries
every identifier its destination takes, hashed where the profile hashes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dealersync.audiences import AudienceSnapshot
from dealersync.identity import build_members, get_profile
from dealersync.store import Warehouse

_FIRST = ["José", "Zoë", "Siobhán", "Quincy", "Rosalind", "Thaddeus", "Winifred", "Horatio"]
_LAST = ["Müller", "O'Brien", "Lindqvist", "Whitlow", "Pennington", "Kowalski", "Stroud"]
_CITIES = ["San Antonio", "Springfield", "Portland"]
_STATES = ["Texas", "IL", "OR"]

_CUSTOMERS_SQL = """
INSERT INTO customers (customer_id, first_name, last_name, email, phone_mobile, address_line1,
    city, state, postal_code, country, birth_year, preferred_channel, email_opt_in, sms_opt_in,
    do_not_email, do_not_call, do_not_mail, do_not_market, created_at, updated_at)
SELECT printf('KIT%06d', i), ?[i % 8 + 1], ?[i % 7 + 1], printf('Kit.Person%d@Example.org', i),
    printf('(512) %03d-%04d', 200 + i // 10000, i % 10000), printf('%d Quarry Road', i + 1),
    ?[i % 3 + 1], ?[i % 3 + 1], printf('%05d', 78701 + i % 50), 'US', 1950 + i % 50, 'email',
    true, true, false, false, false, false, TIMESTAMP '2026-01-01', TIMESTAMP '2026-01-01'
FROM range(?) AS t(i)
"""

_HEX = set("0123456789abcdef")

#: 64-byte local part ('%06d' is the person's number), 189-byte domain: 254 bytes in all.
_LONG_EMAIL = "Kit.Large." + "x" * 48 + "%06d@" + ".".join(["a" * 63, "b" * 63, "c" * 57, "org"])
_LONG_TEXT = 255


def _long(words: str) -> str:
    """``words`` repeated to :data:`_LONG_TEXT` characters (accents: more bytes than characters)."""
    text = " ".join([words] * (_LONG_TEXT // len(words) + 1))
    return text[:_LONG_TEXT].rstrip()


_LARGE_CUSTOMERS_SQL = """
INSERT INTO customers (customer_id, first_name, last_name, email, phone_mobile, phone_home,
    address_line1, city, state, postal_code, country, birth_year, preferred_channel, email_opt_in,
    sms_opt_in, do_not_email, do_not_call, do_not_mail, do_not_market, created_at, updated_at)
SELECT printf('KITL%06d', i), ?, ?, printf(?, i), printf('+1 (512) %03d-%04d', 200 + i // 10000, i % 10000),
    printf('+1 (737) %03d-%04d', 200 + i // 10000, i % 10000), ?, ?, 'Texas',
    printf('%05d-%04d', 78701 + i % 50, i % 10000), 'US', 1950 + i % 50, 'email', true, true, false, false,
    false, false, TIMESTAMP '2026-01-01', TIMESTAMP '2026-01-01'
FROM range(?) AS t(i)
"""
_LARGE_VALUES = [
    _long("Zoë-Siobhán Ångström"), _long("O'Brien-Łukasiewicz Müller"), _LONG_EMAIL,
    _long("1234 Quarry Road Building Suite"), _long("San Antonio de los Ríos"),
]


class SamplePeople:
    """The first ``n`` sample customers as members of one destination, or as its snapshot.

    Members and raw values are built once per (identifiers, n) and process: every check of a
    suite uses the same few samples. A snapshot needs a live warehouse, opened on first use.
    """

    def __init__(self, identifiers: Mapping[str, str]) -> None:
        self.identifiers = dict(identifiers)
        self._wh: Warehouse | None = None

    def members(self, n: int) -> list[dict[str, Any]]:
        """Members of the first ``n`` customers (one each: every customer has its own email)."""
        return [dict(m) for m in _built(tuple(self.identifiers.items()), n)[0]]

    def large_members(self, n: int) -> list[dict[str, Any]]:
        """Members of ``n`` people as large as platforms allow (see the module docstring)."""
        return [dict(m) for m in _built(tuple(self.identifiers.items()), n, large=True)[0]]

    def pii_values(self, n: int, *, large: bool = False) -> dict[str, str]:
        """Raw personal data of the first ``n`` people (of :meth:`large_members` when ``large``),
        whatever the destination hashes: emails, phones, names, addresses, cities, each as
        written and lowercased, mapped to what it is (``"customers.email of KIT000003"``).
        Nothing of it may reach a log or an error. Values that could occur in a hex digest by
        chance are left out, as in :meth:`raw_values`."""
        return dict(_pii(n, large))

    def raw_values(self, n: int) -> set[str]:
        """The raw values of the first ``n`` customers that the destination's hashed profiles read.

        Only values that cannot occur inside a hex digest by chance are kept (four characters or
        more, and either a non-hex character or ten characters or more); each is given as
        written, lowercased, and JSON-escaped.
        """
        return set(_built(tuple(self.identifiers.items()), n)[1])

    def snapshot(
        self, n: int, *, audience: str = "kit", destination: str = "kit", large: bool = False
    ) -> AudienceSnapshot:
        """The first ``n`` customers (of :meth:`large_members` when ``large``) as the snapshot a
        sync would hand a snapshot destination."""
        if self._wh is None:
            self._wh = _warehouse()
        _build_members(self._wh, self.identifiers, n, "kit_snapshot", large=large)
        return AudienceSnapshot(
            self._wh.con, "kit_snapshot", audience=audience, destination=destination,
            fields=list(self.identifiers),
        )

    def close(self) -> None:
        if self._wh is not None:
            self._wh.close()
            self._wh = None


def _warehouse() -> Warehouse:
    return Warehouse(":memory:", memory_limit="512MB", threads=1)


def _build_members(wh: Warehouse, identifiers: Mapping[str, str], n: int, table: str, large: bool = False) -> None:
    wh.con.execute("DELETE FROM customers")
    _insert_customers(wh, n, large)
    build_members(wh.con, "SELECT customer_id FROM customers", identifiers, target=table)


def _insert_customers(wh: Warehouse, n: int, large: bool) -> None:
    if large:
        wh.con.execute(_LARGE_CUSTOMERS_SQL, [*_LARGE_VALUES, n])
    else:
        wh.con.execute(_CUSTOMERS_SQL, [_FIRST, _LAST, _CITIES, _STATES, n])


@functools.lru_cache(maxsize=64)
def _built(
    identifiers: tuple[tuple[str, str], ...], n: int, large: bool = False
) -> tuple[tuple[dict[str, Any], ...], frozenset[str]]:
    with _warehouse() as wh:
        _build_members(wh, dict(identifiers), n, "kit_members", large=large)
        cur = wh.con.execute('SELECT * EXCLUDE (customer_ids) FROM "kit_members" ORDER BY member_key')
        names = [d[0] for d in cur.description]
        members = tuple(dict(zip(names, row, strict=True)) for row in cur.fetchall())
        columns = sorted({c for _, p in identifiers if get_profile(p).hashed for c in get_profile(p).columns})
        values = {form for col in columns for _, v in _column(wh, col) for form in _forms(v)}
    return members, frozenset(values)


#: What :meth:`SamplePeople.pii_values` plants: the columns that hold personal data.
PII_COLUMNS = ("email", "phone_mobile", "phone_home", "first_name", "last_name", "address_line1", "city")


@functools.lru_cache(maxsize=8)
def _pii(n: int, large: bool) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    with _warehouse() as wh:
        wh.con.execute("DELETE FROM customers")
        _insert_customers(wh, n, large)
        for col in PII_COLUMNS:
            for cid, v in _column(wh, col):
                for form in _forms(v):
                    found.setdefault(form, f"customers.{col} of {cid}")
    return tuple(found.items())


def _column(wh: Warehouse, col: str) -> list[tuple[str, str | None]]:
    return wh.con.execute(f'SELECT customer_id, CAST("{col}" AS VARCHAR) FROM customers ORDER BY 1').fetchall()


def _forms(value: str | None) -> set[str]:
    """How a raw value may show in text: as written, lowercased, a phone's digits, JSON-escaped;
    only forms that cannot occur inside a hex digest by chance (four characters or more, and
    either a non-hex character or ten characters or more)."""
    if not value:
        return set()
    forms = {value, value.lower(), value.strip().lower()}
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) >= 10:
        forms.add(digits)  # a phone number's digits
    forms |= {json.dumps(f)[1:-1] for f in forms}  # and as a JSON body escapes them
    return {f for f in forms if len(f) >= 4 and (set(f.lower()) - _HEX or len(f) >= 10)}


@contextmanager
def sample_people(identifiers: Mapping[str, str]) -> Iterator[SamplePeople]:
    people = SamplePeople(identifiers)
    try:
        yield people
    finally:
        people.close()
