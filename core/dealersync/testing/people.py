"""Sample people for destination checks: a tiny customers table, members built by core identity.

Members are built exactly as a sync builds them (:func:`dealersync.identity.build_members` with
the destination's ``identifiers``), so a destination under test gets realistic normalized and
hashed members. The first customers carry names with accents and apostrophes (José Müller, Zoë
O'Brien, Siobhán Lindqvist) so every sample exercises non-ASCII text.
"""

from __future__ import annotations

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
    """``n`` customers in an in-memory warehouse, and their members for one destination."""

    def __init__(self, wh: Warehouse, identifiers: Mapping[str, str]) -> None:
        self.wh = wh
        self.identifiers = dict(identifiers)

    def members(self, n: int, *, table: str = "kit_members") -> list[dict[str, Any]]:
        """Members of the first ``n`` customers (one each: every customer has its own email)."""
        self.wh.con.execute("DELETE FROM customers")
        self.wh.con.execute(_CUSTOMERS_SQL, [_FIRST, _LAST, _CITIES, _STATES, n])
        build_members(self.wh.con, "SELECT customer_id FROM customers", self.identifiers, target=table)
        cur = self.wh.con.execute(f'SELECT * EXCLUDE (customer_ids) FROM "{table}" ORDER BY member_key')
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def snapshot(self, n: int, *, audience: str = "kit", destination: str = "kit") -> AudienceSnapshot:
        """The first ``n`` customers as the snapshot a sync would hand a snapshot destination."""
        self.members(n, table="kit_snapshot")
        return AudienceSnapshot(
            self.wh.con, "kit_snapshot", audience=audience, destination=destination,
            fields=list(self.identifiers),
        )

    def raw_values(self) -> set[str]:
        """The customers' raw values that the destination's hashed profiles read.

        Only values that cannot occur inside a hex digest by chance are kept (four characters or
        more, and either a non-hex character or ten characters or more); each is given as
        written, lowercased, and JSON-escaped.
        """
        columns = sorted({c for p in map(get_profile, self.identifiers.values()) if p.hashed for c in p.columns})
        values: set[str] = set()
        for col in columns:
            for (v,) in self.wh.con.execute(f'SELECT DISTINCT CAST("{col}" AS VARCHAR) FROM customers').fetchall():
                for form in _forms(v):
                    if len(form) >= 4 and (set(form.lower()) - _HEX or len(form) >= 10):
                        values.add(form)
        return values


def _forms(value: str | None) -> set[str]:
    if not value:
        return set()
    forms = {value, value.lower(), value.strip().lower()}
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) >= 10 and len(digits) == len(value.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")):
        forms.add(digits)  # a phone number's digits
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}  # as a JSON body escapes it
    return forms


@contextmanager
def sample_people(identifiers: Mapping[str, str]) -> Iterator[SamplePeople]:
    wh = Warehouse(":memory:", memory_limit="512MB", threads=1)
    try:
        yield SamplePeople(wh, identifiers)
    finally:
        wh.close()
