"""Kept members (:class:`dealersync.identity.KeptMembers`): after any sequence of customer
changes (recorded or not) and audience changes, the kept table and its stats equal a full
:func:`dealersync.identity.build_members` of the same audience; a failed commit changes nothing;
:func:`dealersync.identity.kept.drop_stale` drops what the configuration no longer names."""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Mapping

import duckdb
import pytest
from dealersync import changes
from dealersync.identity import IdentityIndexes, KeptMembers, MemberStats, build_members
from dealersync.identity import kept as kept_mod
from dealersync.model import TABLES, create_table_sql
from dealersync.store import persisted_tables

from tests.identifiers import GOOGLE

AS_OF = dt.date(2026, 11, 23)

META = {"email": "meta.email", "phone": "meta.phone", "fn": "meta.fn", "ln": "meta.ln"}  # not the full META of identifiers.py
PAIRS = {"meta": META, "google": GOOGLE}  # destination -> identifiers
AUDIENCE_SQL = "SELECT customer_id FROM aud"

COLUMNS = ("customer_id", "first_name", "last_name", "email", "phone_mobile", "phone_home", "country", "postal_code")

# small pools, so that customers share values and chains of shared identifiers form; case,
# spacing and formatting variants of one value normalize to the same token (gmail dots and
# +suffixes only under google's rules)
SHARED_EMAILS = [
    *(v for i in range(25) for v in (f"p{i}@example.com", f" P{i}@Example.com ")),
    "j.doe@gmail.com", "jdoe@gmail.com", "jdoe+cars@gmail.com", "J.Doe@googlemail.com",
]
SHARED_PHONES = [
    *(v for i in range(20) for v in (f"(214) 555-{i:04d}", f"+1 214.555.{i:04d}", f"1-214-555-{i:04d}")),
    *(v for i in range(4) for v in (f"+44 20 7946 09{i:02d}", f"0044 20 7946 09{i:02d}")),
    "+52 55 1234 5678", "+33 1 23 45 67 89",
]
INVALID_EMAILS = ["not-an-email", "bob@", "two@@example.com", "   ", "ann@example"]
INVALID_PHONES = ["123", "555-01", "+0 000", "n/a"]
FIRST = ["Ann", "Bob", "Éva", "Mr. Carl", "José", "Dr Fay", None, "  ", "O'Neil"]
LAST = ["Smith", "Jones", "Müller", "Smith Jr", None, "de la Cruz", "Lee"]
COUNTRIES = ["US", None, "GB", "us", "Mexico", ""]
ZIPS = ["75001", "75001-1234", "SW1A 1AA", None, "7500", "10115"]


# --------------------------------------------------------------------------- helpers


def new_warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(create_table_sql(TABLES["customers"]))
    con.execute("CREATE TABLE aud (customer_id VARCHAR)")
    return con


def insert(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    con.execute(
        f"INSERT INTO customers ({', '.join(COLUMNS)}) SELECT "
        + ", ".join("unnest(?::VARCHAR[])" for _ in COLUMNS),
        [list(c) for c in cols],
    )


def set_audience(con: duckdb.DuckDBPyConnection, ids: list[str]) -> None:
    con.execute("DELETE FROM aud")
    con.execute("INSERT INTO aud SELECT unnest(?::VARCHAR[])", [sorted(ids)])


def record(con: duckdb.DuckDBPyConnection, ids: list[str]) -> None:
    """As a loader does: the changed customers, by a SELECT."""
    changes.record_changes(con, "SELECT unnest(?::VARCHAR[])", [sorted(set(ids))])


def rows(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list, list]:
    return (
        con.execute(f'DESCRIBE "{table}"').fetchall(),
        con.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall(),
    )


def unknown(con: duckdb.DuckDBPyConnection) -> int:
    """Audience customers without a customers row (deleted ones): no state row records them, so
    each update takes them as entering and "rebuilds" them (to no member)."""
    row = con.execute("SELECT count(*) FROM aud ANTI JOIN customers USING (customer_id)").fetchone()
    return int(row[0]) if row else 0


def derived(con: duckdb.DuckDBPyConnection) -> list:
    return con.execute("SELECT * FROM _derived ORDER BY ALL").fetchall()


def update(
    con: duckdb.DuckDBPyConnection, identifiers: Mapping[str, str], *, audience: str = "a", destination: str
) -> tuple[KeptMembers, MemberStats]:
    """One run's update of the pair: a fresh IdentityIndexes (each index refreshed once)."""
    kept = IdentityIndexes(con, default_country="US", as_of=AS_OF).kept(
        identifiers, audience=audience, destination=destination
    )
    return kept, kept.update(AUDIENCE_SQL)


def assert_as_full_build(
    con: duckdb.DuckDBPyConnection, kept: KeptMembers, stats: MemberStats, identifiers: Mapping[str, str], what: str = ""
) -> None:
    want = build_members(con, AUDIENCE_SQL, identifiers, target="_full", as_of=AS_OF)
    assert rows(con, kept.table) == rows(con, "_full"), f"members differ from a full build {what}"
    assert stats == want, f"stats differ from a full build {what}"
    con.execute('DROP TABLE "_full"')


# ----------------------------------------------------------------- random customers and changes


class World:
    """A random customers table and the changes a loader makes to it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, rng: random.Random, n: int = 200) -> None:
        self.con, self.rng, self.next_id = con, rng, 0
        self.audience: set[str] = set()
        new = [self.new_id() for _ in range(n)]
        insert(con, [r for cid in new for r in self.rows_for(cid)])

    def new_id(self) -> str:
        self.next_id += 1
        return f"C{self.next_id:04d}"

    def email(self) -> str | None:
        x = self.rng.random()
        if x < 0.3:
            return self.rng.choice(SHARED_EMAILS)
        if x < 0.45:
            return self.rng.choice(INVALID_EMAILS)
        if x < 0.55:
            return None
        return f"u{self.rng.randrange(10_000)}@mail{self.rng.randrange(3)}.com"

    def phone(self) -> str | None:
        x = self.rng.random()
        if x < 0.25:
            return self.rng.choice(SHARED_PHONES)
        if x < 0.33:
            return self.rng.choice(INVALID_PHONES)
        if x < 0.65:
            return None
        if x < 0.72:
            return f"+44 7700 9{self.rng.randrange(100_000):05d}"
        return f"(972) 555-{self.rng.randrange(10_000):04d}"

    def row(self, cid: str) -> tuple:
        r = self.rng
        return (
            cid, r.choice(FIRST), r.choice(LAST), self.email(), self.phone(), self.phone(),
            r.choice(COUNTRIES), r.choice(ZIPS),
        )

    def rows_for(self, cid: str) -> list[tuple]:
        """One row, or (sometimes) two rows of the same customer id, alike or not."""
        first = self.row(cid)
        x = self.rng.random()
        if x < 0.04:
            return [first, first]
        if x < 0.08:
            return [first, self.row(cid)]
        return [first]

    def ids(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT DISTINCT customer_id FROM customers ORDER BY 1").fetchall()]

    def mutate(self) -> list[str]:
        """Change emails, phones and names, delete and add customers; returns the ids touched
        (plus a few untouched ones: loaders may over-report)."""
        con, r = self.con, self.rng
        ids = self.ids()
        changed: list[str] = []
        for cid in r.sample(ids, 5):
            if r.random() < 0.3:  # one row of the customer's (possibly two) rows
                con.execute(
                    "UPDATE customers SET email = ? WHERE rowid = (SELECT min(rowid) FROM customers WHERE customer_id = ?)",
                    [self.email(), cid],
                )
            else:
                con.execute("UPDATE customers SET email = ? WHERE customer_id = ?", [self.email(), cid])
            changed.append(cid)
        for cid in r.sample(ids, 5):
            col = r.choice(["phone_mobile", "phone_home"])
            con.execute(f"UPDATE customers SET {col} = ? WHERE customer_id = ?", [self.phone(), cid])
            changed.append(cid)
        for cid in r.sample(ids, 2):
            con.execute(
                "UPDATE customers SET first_name = ?, country = ?, postal_code = ? WHERE customer_id = ?",
                [r.choice(FIRST), r.choice(COUNTRIES), r.choice(ZIPS), cid],
            )
            changed.append(cid)
        gone = r.sample(ids, 3)
        con.execute("DELETE FROM customers WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))", [gone])
        added = [self.new_id() for _ in range(4)]
        insert(con, [row for cid in added for row in self.rows_for(cid)])
        if r.random() < 0.3:  # a customer gains a second row
            cid = r.choice(ids)
            if cid not in gone:
                insert(con, [self.row(cid)])
                changed.append(cid)
        return [*changed, *gone, *added, *r.sample(ids, 2)]

    def move_audience(self) -> None:
        """Customers enter and leave; the audience may name deleted or unknown customers."""
        r, ids = self.rng, self.ids()
        leaving = {c for c in self.audience if r.random() < 0.08}
        entering = {c for c in ids if c not in self.audience and r.random() < 0.1}
        self.audience = (self.audience - leaving) | entering
        if r.random() < 0.3:
            self.audience.add(f"GHOST{r.randrange(5)}")
        set_audience(self.con, sorted(self.audience))


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_changes_keep_members_equal_to_a_full_build(seed, caplog):
    con = new_warehouse()
    world = World(con, random.Random(seed))
    world.audience = set(world.rng.sample(world.ids(), 120))
    set_audience(con, sorted(world.audience))
    unrecorded_round = 3
    for rnd in range(6):
        if rnd:
            changed = world.mutate()
            if rnd != unrecorded_round:
                record(con, changed)
            if rnd != 4:  # round 4: the same audience, only customers change
                world.move_audience()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="dealersync.identity"):
            run = IdentityIndexes(con, default_country="US", as_of=AS_OF)  # one run: indexes refreshed once
            for dest, ids in PAIRS.items():
                kept = run.kept(ids, audience="a", destination=dest)
                stats = kept.update(AUDIENCE_SQL)
                assert kept.last_update == ("full" if rnd == 0 else "customers"), (seed, rnd, dest)
                assert_as_full_build(con, kept, stats, ids, f"(seed {seed}, round {rnd}, {dest})")
                if rnd:  # the update was incremental indeed: some members untouched
                    assert 0 < kept.rebuilt < len(world.audience), (seed, rnd, dest)
                # the data makes members of several customers (chains of shared values)
                assert con.execute(f'SELECT max(len(customer_ids)) FROM "{kept.table}"').fetchone()[0] >= 3
            if rnd in (0, 2, 5):
                # a pair synced only now and then (its audience left out of some runs): its
                # members are older than the index's last state, so this run's hot customers
                # do not hold all its old links
                kept = run.kept(META, audience="lagging", destination="meta")
                stats = kept.update(AUDIENCE_SQL)
                assert_as_full_build(con, kept, stats, META, f"(seed {seed}, round {rnd}, lagging pair)")
            run.close()
        # the index noticed the changes no one recorded (and recorded them for the kept members)
        assert ("without a change record" in caplog.text) == (rnd == unrecorded_round), (seed, rnd)
    # a last run without any change rebuilds nothing but the audience's unknown customers
    assert unknown(con)
    for dest, ids in PAIRS.items():
        kept, stats = update(con, ids, destination=dest)
        assert_as_full_build(con, kept, stats, ids, f"(seed {seed}, no change, {dest})")
        assert (kept.last_update, kept.rebuilt) == ("customers", unknown(con))


def test_small_chain_split_and_join():
    """A hand-made case: a customer linking two others enters, changes, and leaves."""
    con = new_warehouse()
    insert(con, [
        ("a", "Ann", "Lee", "ann@example.com", None, None, "US", "75001"),
        ("b", "Bob", "Lee", None, "(214) 555-0101", None, "US", "75001"),
        ("c", "Cy", "Lee", "c@example.com", None, None, "US", "75001"),
        ("link", "Lin", "Kay", " ANN@example.com", "214.555.0101", None, "US", "75001"),
    ])
    set_audience(con, ["a", "b", "c"])
    for dest, ids in PAIRS.items():
        kept, stats = update(con, ids, destination=dest)
        assert stats.members == 3
    set_audience(con, ["a", "b", "c", "link"])  # enters: joins a and b
    for dest, ids in PAIRS.items():
        kept, stats = update(con, ids, destination=dest)
        assert stats.members == 2
        assert kept.rebuilt == 3  # link, a, b: c untouched
        assert_as_full_build(con, kept, stats, ids, dest)
    con.execute("UPDATE customers SET email = 'c@example.com' WHERE customer_id = 'link'")
    record(con, ["link"])  # now link joins b and c; a is alone again
    for dest, ids in PAIRS.items():
        kept, stats = update(con, ids, destination=dest)
        assert stats.members == 2
        assert kept.rebuilt == 4
        assert_as_full_build(con, kept, stats, ids, dest)
    set_audience(con, ["a", "b", "c"])  # leaves: b and c split
    for dest, ids in PAIRS.items():
        kept, stats = update(con, ids, destination=dest)
        assert stats.members == 3
        assert_as_full_build(con, kept, stats, ids, dest)


def test_new_identifiers_rebuild_whole_and_no_change_rebuilds_nothing():
    con = new_warehouse()
    world = World(con, random.Random(7), n=120)
    set_audience(con, world.rng.sample(world.ids(), 80))
    kept, stats = update(con, META, destination="d")
    assert kept.last_update == "full" and kept.rebuilt == 80
    # nothing changed: nothing rebuilt, the same members
    before = rows(con, kept.table)
    kept, stats = update(con, META, destination="d")
    assert (kept.last_update, kept.rebuilt) == ("customers", 0)
    assert rows(con, kept.table) == before
    assert_as_full_build(con, kept, stats, META)
    # other identifiers for the same pair: the same profiles under other fields, then fewer
    # profiles (another index), then google's
    renamed = {"mail": "meta.email", "tel": "meta.phone", "first": "meta.fn", "last": "meta.ln"}
    for ids in (renamed, {"email": "meta.email", "phone": "meta.phone"}, GOOGLE, META):
        record(con, world.mutate())  # with changes pending too
        kept, stats = update(con, ids, destination="d")
        assert kept.last_update == "full", ids
        assert [c[0] for c in rows(con, kept.table)[0]] == ["member_key", "customer_ids", *ids]
        assert_as_full_build(con, kept, stats, ids, str(ids))
        kept, stats = update(con, ids, destination="d")
        assert (kept.last_update, kept.rebuilt) == ("customers", unknown(con)), ids
    # a change covering everyone rebuilds whole
    changes.record_everything_changed(con)
    kept, stats = update(con, META, destination="d")
    assert kept.last_update == "full"
    assert_as_full_build(con, kept, stats, META)


def test_update_from_a_table_of_distinct_ids_is_the_same_update():
    """The sync hands its consented audience table over as it is (update_from_table)."""
    con = new_warehouse()
    world = World(con, random.Random(11), n=120)
    set_audience(con, world.rng.sample(world.ids(), 80))
    update(con, META, destination="d")
    for _ in range(3):
        record(con, world.mutate())
        set_audience(con, world.rng.sample(world.ids(), 80))
        kept = IdentityIndexes(con, default_country="US", as_of=AS_OF).kept(META, audience="a", destination="d")
        stats = kept.update_from_table("aud")
        assert kept.last_update == "customers"
        assert_as_full_build(con, kept, stats, META)


class Boom(RuntimeError):
    pass


def killed_run(con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, owner: object, name: str,
               fake: object, *, audience: str) -> None:
    """A run that dies (``owner.name`` replaced by ``fake``, which raises Boom) while refreshing
    the index for ``audience``'s Meta pair; then, as in a new process, no temp table is left."""
    with monkeypatch.context() as m:
        m.setattr(owner, name, fake)
        with pytest.raises(Boom):
            IdentityIndexes(con, default_country="US", as_of=AS_OF).kept(META, audience=audience, destination="meta")
    for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall():
        con.execute(f'DROP TABLE temp."{t}"')


def fail_once(monkeypatch) -> list[int]:
    """Make the next mark_refreshed raise (once); returns a list counting the calls."""
    real, calls = changes.mark_refreshed, []

    def flaky(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise Boom("the commit failed midway")
        return real(*args, **kw)

    monkeypatch.setattr(changes, "mark_refreshed", flaky)
    return calls


def test_failed_commit_changes_nothing_and_the_next_update_is_right(monkeypatch):
    con = new_warehouse()
    world = World(con, random.Random(11), n=150)
    world.audience = set(world.rng.sample(world.ids(), 100))
    set_audience(con, sorted(world.audience))

    # the first (full) build fails: no tables, no mark
    kept = IdentityIndexes(con, as_of=AS_OF).kept(META, audience="a", destination="d")
    marks = derived(con)
    fail_once(monkeypatch)
    with pytest.raises(Boom):
        kept.update(AUDIENCE_SQL)
    assert not set(kept_mod.kept_tables("a", "d")) & persisted_tables(con)
    assert derived(con) == marks
    kept, stats = update(con, META, destination="d")
    assert kept.last_update == "full"
    assert_as_full_build(con, kept, stats, META, "after a failed full build")

    # an incremental update fails after deleting and inserting members: all rolled back
    for attempt in range(2):
        record(con, world.mutate())
        world.move_audience()
        kept = IdentityIndexes(con, as_of=AS_OF).kept(META, audience="a", destination="d")  # index refreshed
        before = rows(con, kept.table), rows(con, kept.state), derived(con)
        pending = con.execute("SELECT count(*) FROM _changes").fetchone()
        calls = fail_once(monkeypatch)
        with pytest.raises(Boom):
            kept.update(AUDIENCE_SQL)
        assert calls == [1]
        assert (rows(con, kept.table), rows(con, kept.state), derived(con)) == before
        assert con.execute("SELECT count(*) FROM _changes").fetchone() == pending
        assert not con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '_dskm_%'"
        ).fetchall()
        if attempt == 0:  # the same object again, in the same run
            stats = kept.update(AUDIENCE_SQL)
        else:  # the next run
            kept, stats = update(con, META, destination="d")
        assert kept.last_update == "customers" and kept.rebuilt > 0
        assert_as_full_build(con, kept, stats, META, f"after a failed update ({attempt})")


def test_drop_stale_drops_the_pairs_not_listed():
    con = new_warehouse()
    World(con, random.Random(5), n=40)
    set_audience(con, [r[0] for r in con.execute("SELECT customer_id FROM customers").fetchall()])
    pairs = [("a", "meta"), ("b", "meta"), ("a", "google")]
    for aud, dest in pairs:
        update(con, PAIRS[dest], audience=aud, destination=dest)
    con.execute("CREATE TABLE members_note (x INTEGER)")  # not a kept table
    identity_marks = [m for m in derived(con) if m[0].startswith("identity:")]
    assert len(identity_marks) == 2

    dropped = kept_mod.drop_stale(con, {("a", "meta"), ("z", "nowhere")})
    assert dropped == sorted([*kept_mod.kept_tables("b", "meta"), *kept_mod.kept_tables("a", "google")])
    tables = persisted_tables(con)
    assert set(kept_mod.kept_tables("a", "meta")) <= tables
    assert not set(dropped) & tables
    assert {"customers", "aud", "members_note"} <= tables
    assert [m[0] for m in derived(con) if m[0].startswith("members:")] == ["members:a:meta"]
    assert [m for m in derived(con) if m[0].startswith("identity:")] == identity_marks
    # the kept pair still updates incrementally; a dropped one rebuilds whole
    kept, stats = update(con, META, audience="a", destination="meta")
    assert (kept.last_update, kept.rebuilt) == ("customers", 0)
    kept, stats = update(con, META, audience="b", destination="meta")
    assert kept.last_update == "full"
    assert_as_full_build(con, kept, stats, META)


# no pair left in the configuration: every mark goes too (an empty NOT IN list once kept them,
# and with them the change log)
def test_drop_stale_with_no_pair_left_drops_every_mark():
    con = new_warehouse()
    World(con, random.Random(5), n=20)
    set_audience(con, [r[0] for r in con.execute("SELECT customer_id FROM customers").fetchall()])
    for aud in ("a", "b"):
        update(con, META, audience=aud, destination="meta")
    assert len(kept_mod.drop_stale(con, set())) == 4
    assert not [t for t in persisted_tables(con) if t.startswith(("_members_", "_memberstate_"))]
    assert not [m for m in derived(con) if m[0].startswith("members:")]


# names may contain "_": pairs ("x_y", "z") and ("x", "y_z") must not share tables
def test_pairs_whose_names_join_alike_keep_their_own_members():
    con = new_warehouse()
    insert(con, [
        ("a", "Ann", "Lee", "J.Doe@gmail.com", None, None, "US", "75001"),
        ("b", "Bob", "Lee", "bob@example.com", None, None, "US", "75001"),
    ])
    google4 = {"email": "google.email", "phone": "google.phone", "fn": "google.given_name", "ln": "google.family_name"}
    set_audience(con, ["a"])
    update(con, META, audience="x_y", destination="z")
    set_audience(con, ["a", "b"])
    update(con, google4, audience="x", destination="y_z")
    set_audience(con, ["a"])
    kept, stats = update(con, META, audience="x_y", destination="z")
    assert_as_full_build(con, kept, stats, META, "for pair (x_y, z) after pair (x, y_z) was updated")


def run(con: duckdb.DuckDBPyConnection, *audiences: str) -> dict[str, tuple[KeptMembers, MemberStats]]:
    """One run that updates the Meta pair of each named audience (same audience SQL)."""
    indexes = IdentityIndexes(con, default_country="US", as_of=AS_OF)
    out = {}
    try:
        for audience in audiences:
            kept = indexes.kept(META, audience=audience, destination="meta")
            out[audience] = kept, kept.update(AUDIENCE_SQL)
    finally:
        indexes.close()
    return out


def start(con):
    insert(con, [
        ("c", "Cy", "Lee", "shared@example.com", None, None, "US", "75001"),
        ("s", "Si", "Lee", "shared@example.com", None, None, "US", "75001"),
        ("e", "Ed", "Lee", "e@example.com", None, None, "US", "75001"),
    ])
    set_audience(con, ["c", "s", "e"])
    first = run(con, "every_run", "now_and_then")
    assert first["now_and_then"][1].members == 2  # {c, s} and {e}


def test_a_pair_left_out_of_a_run_still_sees_the_links_that_run_changed():
    """c and s share an email when the pair is built; c changes email in a run that leaves the
    pair out, and again in the next run, which updates it: s must stay a member (the hot
    customers of the second run know only c's later links, not the one to s)."""
    con = new_warehouse()
    start(con)
    con.execute("UPDATE customers SET email = 'c2@example.com' WHERE customer_id = 'c'")
    record(con, ["c"])
    run(con, "every_run")
    con.execute("UPDATE customers SET email = 'c3@example.com' WHERE customer_id = 'c'")
    record(con, ["c"])
    for audience, (kept, stats) in run(con, "every_run", "now_and_then").items():
        assert stats.members == 3, audience
        assert_as_full_build(con, kept, stats, META, audience)


def test_unrecorded_change_in_a_run_that_skips_the_pair():
    """c leaves the email it shared with s, and the load records nothing. A run that syncs only
    another audience finds the change (the index marked at its plan's position, before the
    change it records) and applies it. The next run applies c again on an index that already
    lost the c-s link, so its hot customers are {c} alone: the pair left out must still find
    its old member {c, s} (from its own state) and keep s."""
    con = new_warehouse()
    start(con)
    con.execute("UPDATE customers SET email = 'c2@example.com' WHERE customer_id = 'c'")  # not recorded
    run(con, "every_run")
    for audience, (kept, stats) in run(con, "every_run", "now_and_then").items():
        assert_as_full_build(con, kept, stats, META, audience)


def test_interrupted_index_refresh(monkeypatch):
    """The index's refresh is written but the run dies before its mark is (here the mark fails;
    equally a crash during the unrecorded-change scan that follows). The next run (a new
    connection: no temp tables left) applies c again on an index that already holds c's new
    row: no pair may lose s."""
    con = new_warehouse()
    start(con)
    con.execute("UPDATE customers SET email = 'c2@example.com' WHERE customer_id = 'c'")
    record(con, ["c"])
    real = changes.mark_refreshed

    def flaky(con_, name, *a, **kw):
        if name.startswith("identity:"):
            raise Boom("killed after the index was written")
        return real(con_, name, *a, **kw)

    killed_run(con, monkeypatch, changes, "mark_refreshed", flaky, audience="now_and_then")
    for audience, (kept, stats) in run(con, "every_run", "now_and_then").items():
        assert_as_full_build(con, kept, stats, META, audience)


def test_index_refresh_interrupted_between_its_shared_writes(monkeypatch):
    """c, x and y share an email; c changes it. A refresh that dies between deleting the shared
    rows of c's old tokens and inserting those still shared (x and y's) must leave nothing:
    the next run applies c again, but c no longer holds that token, so x and y would stay
    unlinked for good (the index's writes are one transaction)."""
    from dealersync.identity import index as index_mod

    con = new_warehouse()
    insert(con, [
        ("c", "Cy", "Lee", "shared@example.com", None, None, "US", "75001"),
        ("x", "Xi", "Lee", "shared@example.com", None, None, "US", "75001"),
        ("y", "Yo", "Lee", "shared@example.com", None, None, "US", "75001"),
    ])
    set_audience(con, ["c", "x", "y"])
    run(con, "a")
    con.execute("UPDATE customers SET email = 'c2@example.com' WHERE customer_id = 'c'")
    record(con, ["c"])
    real = index_mod._tokens_sql

    def dies(spec, idx, only=None):
        if only is not None:
            raise Boom("killed between DELETE FROM shared and INSERT INTO shared")
        return real(spec, idx, only)

    killed_run(con, monkeypatch, index_mod, "_tokens_sql", dies, audience="a")
    # a pair built whole now (no shortcut involved) still differs: the index itself is wrong
    kept, stats = run(con, "a", "fresh")["fresh"]
    assert kept.last_update == "full"
    assert_as_full_build(con, kept, stats, META, "after an interrupted index refresh")

