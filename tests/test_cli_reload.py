"""`dealersync sync` skips source files identical to the last load, says so, and --reload loads them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dealersync.cli import cli as main
from dealersync.testing import write_extract

from tests.support.configs import dealership, destination, everyone_to

CONFIG = dealership(destination("meta", "meta-file"), everyone_to("meta"))


def test_unchanged_files_are_skipped_and_reload_loads_them(tmp_path: Path) -> None:
    write_extract(tmp_path / "dms", {"customers": [{"customer_id": "C1", "email": "a@x.com"},
                                                   {"customer_id": "C2", "email": "b@x.com"}]})
    (tmp_path / "c.toml").write_text(CONFIG)
    cli = CliRunner()
    args = ["sync", "--config", str(tmp_path / "c.toml")]
    first = cli.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "skipped" not in first.output
    second = cli.invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "customers.csv (unchanged, skipped)" in second.output
    assert (tmp_path / "out" / "all.meta.csv").read_text() .count("\n") == 3  # header + 2 members
    third = cli.invoke(main, [*args, "--reload"])
    assert third.exit_code == 0, third.output
    assert "skipped" not in third.output
