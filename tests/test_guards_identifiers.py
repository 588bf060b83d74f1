"""Identifiers are data, never SQL: injection attempts through every name the config gives, each
refused with exit 2 before anything moves; no warehouse table created or dropped."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from dealersync.cli import cli
from dealersync.config import NAME_PATTERN
from dealersync.testing import write_extract

ATTACKS = [
    'x"; DROP TABLE _runs; --',
    "x'); DROP TABLE _runs; --",
    "x /* comment */",
    "x;DROP TABLE _sync_state",
    'x" AS SELECT 1; CREATE TABLE pwned (a INT); --',
]

CONFIG = """
as_of = "2026-11-23"
[warehouse]
path = "wh.duckdb"
[sources.{source}]
connector = "dms-csv"
path = "dms"
{columns}
[destinations.{destination}]
connector = "meta-file"
[segments.{segment}]
rule = {{ fact = {fact}, op = "is_null", value = false }}
[audiences.{audience}]
segment = {segment_ref}
destinations = [{destination_ref}]
"""

GOOD = {"source": "dms", "destination": "upload", "segment": "everyone", "audience": "all",
        "fact": "customer_id", "columns": ""}


def write_config(root: Path, **names: str) -> Path:
    """The config with ``names`` replacing the good ones; every name written as a TOML basic
    string (JSON's escaping is valid TOML for these), so the attack reaches dealersync intact."""
    values = {**GOOD, **names}
    quoted = {k: json.dumps(v) for k, v in values.items() if k != "columns"}
    path = root / "connectors.toml"
    path.write_text(CONFIG.format(columns=values["columns"], segment_ref=quoted["segment"],
                                  destination_ref=quoted["destination"], **quoted), encoding="utf-8")
    return path


def tables(root: Path) -> tuple[set[str], int]:
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        runs = con.execute("SELECT count(*) FROM _runs").fetchone()
    finally:
        con.close()
    assert runs is not None
    return names, int(runs[0])


@pytest.fixture(scope="module")
def dealer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[set[str], int]]:
    root = tmp_path_factory.mktemp("dealer")
    people = [{"customer_id": f"C{i}", "email": f"person{i}@example.org", "country": "US"} for i in range(20)]
    write_extract(root / "dms", {"customers": people})
    config = write_config(root)
    done = CliRunner().invoke(cli, ["sync", "--config", str(config), "--out", str(root / "out")])
    assert done.exit_code == 0, done.output
    return root, tables(root)


CASES = [(kind, attack) for kind in ("audience", "segment", "source", "destination", "fact") for attack in ATTACKS]


@pytest.mark.parametrize(("kind", "attack"), CASES)
def test_injection_in_a_name_is_refused(dealer: tuple[Path, tuple[set[str], int]], kind: str, attack: str) -> None:
    root, before = dealer
    config = write_config(root, **{kind: attack})
    done = CliRunner().invoke(cli, ["sync", "--config", str(config), "--out", str(root / "out")])
    assert done.exit_code == 2, done.output
    assert "error:" in done.output and "Traceback" not in done.output
    assert tables(root) == before  # nothing created, dropped or run


@pytest.mark.parametrize("attack", ATTACKS)
def test_injection_in_a_column_name_is_refused(dealer: tuple[Path, tuple[set[str], int]], attack: str) -> None:
    """A canonical column name is checked at config time: exit 2, nothing run."""
    root, before = dealer
    config = write_config(root, columns=f"[sources.dms.columns.customers]\n{json.dumps(attack)} = \"email\"")
    done = CliRunner().invoke(cli, ["sync", "--config", str(config), "--out", str(root / "out")])
    assert done.exit_code == 2, done.output
    assert tables(root) == before


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_dms_header_is_data(tmp_path: Path, attack: str) -> None:
    """The other side of a column mapping, the DMS's header, may hold any text (``Cust #``): it is
    quoted, never pasted. A header holding an attack is read as a column name like any other."""
    people = [{"customer_id": f"C{i}", "email": f"person{i}@example.org"} for i in range(30)]
    write_extract(tmp_path / "dms", {"customers": people})
    path = tmp_path / "dms" / "customers.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = [attack if c == "email" else c for c in lines[0].split(",")]
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(cells)
    path.write_text(header.getvalue() + "\n".join(lines[1:]) + "\n", encoding="utf-8")
    config = write_config(tmp_path, columns=f"[sources.dms.columns.customers]\nemail = {json.dumps(attack)}")
    done = CliRunner().invoke(cli, ["sync", "--config", str(config), "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    names, runs = tables(tmp_path)
    assert runs == 1 and "pwned" not in names
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(email) FROM customers").fetchone() == (30,)
    finally:
        con.close()


@pytest.mark.parametrize("name", ["all", "winback_2026", "Service_Lane", "a" * 64])
def test_plain_names_are_accepted(name: str) -> None:
    assert NAME_PATTERN.fullmatch(name)


@pytest.mark.parametrize("name", ["", "2026_winback", "win-back", "win back", "a" * 65, "é"])
def test_other_names_are_refused(name: str) -> None:
    assert not NAME_PATTERN.fullmatch(name)
