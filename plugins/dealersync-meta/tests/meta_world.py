"""A tiny dealership synced to the Meta fake: extract, connectors.toml, runs, and the oracle.

The oracle for "what the remote audience must hold" is computed independently of the run under
test: the current extract synced in a *clean* warehouse into a *fresh* fake. Tests compare the
fake's members as sets of (field, hash) pairs, and check that nobody is there twice.
"""

from __future__ import annotations

import hashlib
import random
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from dealersync.testing import run_sync, write_dealership
from meta_fake import ACCOUNT, FakeMeta, meta_http

TOKEN_ENV = "DEALERSYNC_TEST_META_TOKEN"
_FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gus", "Hana", "Iñigo", "Jo"]
_LAST = ["Ortiz", "Baker", "O'Neil", "Nguyen", "Schäfer", "Kowalski", "Reyes", "Smith"]
_CITIES = [("Austin", "TX", "78701"), ("Portland", "OR", "97201"), ("Springfield", "IL", "62701")]

Member = frozenset[tuple[str, Any]]
_ORACLE: dict[str, Counter[Member]] = {}  # extract -> expected remote (a clean sync costs ~1.5 s)


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def customers(n: int, seed: int = 7, start: int = 0) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(start, start + n):
        city, st, zip_ = rnd.choice(_CITIES)
        out.append({
            "customer_id": f"C{i:05d}",
            "first_name": rnd.choice(_FIRST),
            "last_name": rnd.choice(_LAST),
            "email": f"Person.{i}@Example.org",
            "phone_mobile": f"(512) 55{i // 10000}-{i % 10000:04d}",
            "city": city,
            "state": st,
            "postal_code": zip_,
            "country": "US",
            "email_opt_in": True,
            "do_not_market": False,
        })
    return out


def as_set(members: list[dict[str, Any]]) -> Counter[Member]:
    return Counter(frozenset((k, v) for k, v in m.items() if v not in (None, "")) for m in members)


class World:
    """One dealership directory: ``dms/`` extract, ``connectors.toml``, ``wh.duckdb``. ``extra``:
    more settings of the Meta destination, as TOML lines."""

    def __init__(self, root: Path, people: list[dict[str, Any]], *, batch_rows: int = 100, mode: str = "mirror",
                 base_url: str = "https://graph.facebook.com", extra: str = "") -> None:
        self.root = root
        self.people = people
        self.batch_rows = batch_rows
        self.mode = mode
        self.base_url = base_url
        self.extra = extra
        root.mkdir(parents=True, exist_ok=True)
        self.write()

    @property
    def config(self) -> Path:
        return self.root / "connectors.toml"

    def write(self) -> None:
        (self.root / "dms").mkdir(exist_ok=True)
        for f in (self.root / "dms").glob("*.csv"):
            f.unlink()
        settings = {
            "connector": "meta",
            "ad_account_id": ACCOUNT,
            "access_token": {"env": TOKEN_ENV},
            "base_url": self.base_url,
            "batch_rows": self.batch_rows,
            **tomllib.loads(self.extra),
        }
        write_dealership(self.root, self.people, settings, mode=self.mode)

    def run(self, fake: FakeMeta, **kw: Any) -> Any:
        """One sync against ``fake``; returns the (only) DeliveryResult."""
        self.write()
        with meta_http(fake):
            results = run_sync(self.config, **kw)
        assert len(results) == 1
        return results[0]

    def expected(self) -> Counter[Member]:
        """What a correct remote holds now: the extract synced from scratch into a fresh fake."""
        key = repr(sorted(sorted(p.items()) for p in self.people))
        if key not in _ORACLE:
            _ORACLE[key] = self._expected()
        return Counter(_ORACLE[key])

    def _expected(self) -> Counter[Member]:
        clean = World(self.root / f"oracle-{random.random():.9f}", self.people, batch_rows=10_000)
        fresh = FakeMeta()
        res = clean.run(fresh)
        assert res.status == "ok", res.error
        return as_set(fresh.members(fresh.only_list()))

    def emails(self) -> set[str]:
        return {sha(p["email"].strip().lower()) for p in self.people if p.get("email")}


def remote(fake: FakeMeta) -> Counter[Member]:
    return as_set(fake.members(fake.only_list()))


def assert_remote_is(fake: FakeMeta, world: World) -> None:
    held = remote(fake)
    twice = [m for m, n in held.items() if n > 1]
    assert not twice, f"{len(twice)} member(s) held twice"
    want = world.expected()
    assert held == want, f"remote holds {sum(held.values())}, expected {sum(want.values())}: " \
        f"{len(held - want)} extra, {len(want - held)} missing"
    emails = {v for m in held for k, v in m if k == "email"}
    assert emails == world.emails()
