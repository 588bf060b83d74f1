"""Sample people for destination checks: a tiny customers table, members built by core identity.

Members are built exactly as a sync builds them (:func:`dealersync.identity.build_members` with
the destination's ``identifiers``), so a destination under test gets realistic normalized and
hashed members. The first customers carry names with accents and apostrophes (José Müller, Zoë
O'Brien, Siobhán Lindqvist) so every sample exercises non-ASCII text.
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

    def raw_values(self, n: int) -> set[str]:
        """The raw values of the first ``n`` customers that the destination's hashed profiles read.

        Only values that cannot occur inside a hex digest by chance are kept (four characters or
        more, and either a non-hex character or ten characters or more); each is given as
        written, lowercased, and JSON-escaped.
        """
        return set(_built(tuple(self.identifiers.items()), n)[1])

    def snapshot(self, n: int, *, audience: str = "kit", destination: str = "kit") -> AudienceSnapshot:
        """The first ``n`` customers as the snapshot a sync would hand a snapshot destination."""
        if self._wh is None:
            self._wh = _warehouse()
        _build_members(self._wh, self.identifiers, n, "kit_snapshot")
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


def _build_members(wh: Warehouse, identifiers: Mapping[str, str], n: int, table: str) -> None:
    wh.con.execute("DELETE FROM customers")
    wh.con.execute(_CUSTOMERS_SQL, [_FIRST, _LAST, _CITIES, _STATES, n])
    build_members(wh.con, "SELECT customer_id FROM customers", identifiers, target=table)


@functools.lru_cache(maxsize=64)
def _built(identifiers: tuple[tuple[str, str], ...], n: int) -> tuple[tuple[dict[str, Any], ...], frozenset[str]]:
    with _warehouse() as wh:
        _build_members(wh, dict(identifiers), n, "kit_members")
        cur = wh.con.execute('SELECT * EXCLUDE (customer_ids) FROM "kit_members" ORDER BY member_key')
        names = [d[0] for d in cur.description]
        members = tuple(dict(zip(names, row, strict=True)) for row in cur.fetchall())
        columns = sorted({c for _, p in identifiers if get_profile(p).hashed for c in get_profile(p).columns})
        values: set[str] = set()
        for col in columns:
            for (v,) in wh.con.execute(f'SELECT DISTINCT CAST("{col}" AS VARCHAR) FROM customers').fetchall():
                for form in _forms(v):
                    if len(form) >= 4 and (set(form.lower()) - _HEX or len(form) >= 10):
                        values.add(form)
    return members, frozenset(values)


def _forms(value: str | None) -> set[str]:
    if not value:
        return set()
    forms = {value, value.lower(), value.strip().lower()}
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) >= 10:
        forms.add(digits)  # a phone number's digits
    return forms | {json.dumps(f)[1:-1] for f in forms}  # and as a JSON body escapes them


@contextmanager
def sample_people(identifiers: Mapping[str, str]) -> Iterator[SamplePeople]:
    people = SamplePeople(identifiers)
    try:
        yield people
    finally:
        people.close()
