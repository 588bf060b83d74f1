"""The customers' suppression match keys are a derived table refreshed only for changed customers."""

from __future__ import annotations

from dealersync.changes import record_changes, record_everything_changed
from dealersync.store import Warehouse
from dealersync.suppressions import CUSTOMER_KEYS, SuppressionList


def _suppressed(wh: Warehouse) -> set[str]:
    sql = SuppressionList(wh.con).suppressed_customers_sql()
    return {r[0] for r in wh.con.execute(sql).fetchall()}


def _set_email(wh: Warehouse, cid: str, email: str) -> None:
    wh.con.execute("UPDATE customers SET email = ? WHERE customer_id = ?", [email, cid])


def test_refresh_follows_recorded_changes_and_equals_a_rebuild() -> None:
    wh = Warehouse(":memory:")
    wh.con.execute(
        "INSERT INTO customers (customer_id, email, phone_mobile) VALUES"
        " ('A', 'a@x.com', NULL), ('B', 'B@x.com ', '(555) 010-0002'), ('C', NULL, '555-010-0003')"
    )
    sl = SuppressionList(wh.con)
    sl.add(reason="unsubscribe", source="cli", email="b@x.com")
    sl.add(reason="complaint", source="cli", phone="+1 555 010 0003")
    assert _suppressed(wh) == {"B", "C"}

    # B changes email, A takes the suppressed one; recorded as a load would
    _set_email(wh, "B", "new@x.com")
    _set_email(wh, "A", "b@x.com")
    record_changes(wh.con, "SELECT * FROM (VALUES ('A'), ('B')) t(c)")
    assert _suppressed(wh) == {"A", "C"}
    # ... and only those two customers were recomputed: C's row is the one from the full build
    incremental = sorted(wh.con.execute(f"SELECT * FROM {CUSTOMER_KEYS}").fetchall())
    record_everything_changed(wh.con)
    assert _suppressed(wh) == {"A", "C"}
    rebuilt = sorted(wh.con.execute(f"SELECT * FROM {CUSTOMER_KEYS}").fetchall())
    assert incremental == rebuilt and len(rebuilt) == 7  # 2 emails, 2 phones, 3 customer ids


def test_removed_customer_disappears_and_new_one_appears() -> None:
    wh = Warehouse(":memory:")
    wh.con.execute("INSERT INTO customers (customer_id, email) VALUES ('A', 'a@x.com'), ('B', 'b@x.com')")
    SuppressionList(wh.con).add(reason="bounce", source="cli", email="a@x.com")
    assert _suppressed(wh) == {"A"}
    wh.con.execute("DELETE FROM customers WHERE customer_id = 'A'")
    wh.con.execute("INSERT INTO customers (customer_id, email) VALUES ('D', 'A@X.COM')")
    record_changes(wh.con, "SELECT * FROM (VALUES ('A'), ('D')) t(c)")
    assert _suppressed(wh) == {"D"}
    assert wh.con.execute(f"SELECT count(*) FROM {CUSTOMER_KEYS} WHERE customer_id = 'A'").fetchone() == (0,)


def test_change_after_the_log_was_emptied_is_seen() -> None:
    """Once every derived table took the log in it is emptied; a later change must still count."""
    wh = Warehouse(":memory:")
    wh.con.execute("INSERT INTO customers (customer_id, email) VALUES ('A', 'a@x.com'), ('B', 'b@x.com')")
    SuppressionList(wh.con).add(reason="bounce", source="cli", email="b@x.com")
    for cid, email in (("A", "b@x.com"), ("B", "b2@x.com"), ("A", "a@x.com")):
        _set_email(wh, cid, email)
        record_changes(wh.con, f"SELECT '{cid}'")
        expected = {r[0] for r in wh.con.execute("SELECT customer_id FROM customers WHERE email = 'b@x.com'").fetchall()}
        assert _suppressed(wh) == expected
        assert wh.con.execute("SELECT count(*) FROM _changes").fetchone() == (0,)  # taken in, emptied


def test_a_derived_table_nobody_refreshes_does_not_keep_the_log_forever(monkeypatch: object) -> None:
    import dealersync.changes as changes
    from dealersync.changes import mark_refreshed, plan_refresh

    wh = Warehouse(":memory:")
    con = wh.con
    mark_refreshed(con, "abandoned", "fp", plan_refresh(con, "abandoned", "fp"))
    mark_refreshed(con, "live", "fp", plan_refresh(con, "live", "fp"))
    record_changes(con, "SELECT * FROM (VALUES ('A'), ('B'), ('C')) t(c)")
    mark_refreshed(con, "live", "fp", plan_refresh(con, "live", "fp"))
    assert con.execute("SELECT count(*) FROM _changes").fetchone() == (3,)  # kept for "abandoned"
    monkeypatch.setattr(changes, "MAX_PENDING", 2)  # type: ignore[attr-defined]
    record_changes(con, "SELECT 'D'")
    mark_refreshed(con, "live", "fp", plan_refresh(con, "live", "fp"))
    assert con.execute("SELECT count(*) FROM _changes").fetchone() == (0,)
    assert plan_refresh(con, "abandoned", "fp").kind == "full"  # forgotten: rebuilt whole if used
    assert plan_refresh(con, "live", "fp").kind == "none"
