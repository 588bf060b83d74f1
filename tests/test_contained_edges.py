"""Clean edges: inline secrets refused with the fix, a credential pasted into another field never
echoed, temp files of killed writes cleaned at the next run. (Ctrl-C: test_contained_sigint.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dealersync.cli import cli
from dealersync.secrets import redact

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "dealersync-meta" / "tests"))
from meta_fake import TOKEN, FakeMeta, meta_http  # noqa: E402
from meta_world import TOKEN_ENV, World, customers  # noqa: E402

PASTED = "EAABsbCS1iHgBAKZC0ZBq9ZAmz21234ZDZD"


def invoke(world: World, *args: str) -> tuple[int, str]:
    with meta_http(FakeMeta()):
        done = CliRunner().invoke(cli, ["sync", "--config", str(world.config), *args])
    return done.exit_code, done.output


def test_an_inline_secret_is_refused_with_the_fix(tmp_path: Path) -> None:
    world = World(tmp_path, customers(5))
    world.config.write_text(world.config.read_text().replace(f'{{ env = "{TOKEN_ENV}" }}', f'"{TOKEN}"'))
    code, output = invoke(world, "--dry-run")
    assert code == 2, output
    assert "destinations.main.access_token" in output and "dealersync secrets set" in output
    assert "{ env = " in output and TOKEN not in output


def test_inline_secrets_explicitly_allowed(tmp_path: Path) -> None:
    world = World(tmp_path, customers(5))
    text = world.config.read_text().replace(f'{{ env = "{TOKEN_ENV}" }}', f'"{TOKEN}"')
    world.config.write_text("allow_inline_secrets = true\n" + text)
    code, output = invoke(world, "--dry-run")
    assert code == 0, output


def test_a_credential_in_another_field_is_never_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    world = World(tmp_path, customers(5))
    world.config.write_text(world.config.read_text().replace('ad_account_id = "act_1234567890"',
                                                             f'ad_account_id = "{PASTED}"'))
    code, output = invoke(world, "--dry-run")
    assert code == 2, output
    assert "destinations.main.ad_account_id" in output and PASTED not in output and "(hidden)" in output


@pytest.mark.parametrize("text", [PASTED, "person.1@example.org", "(512) 555-0100", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"])
def test_redact_hides_what_looks_like_a_credential_or_an_identifier(text: str) -> None:
    assert text not in redact(f"found {text} here")


@pytest.mark.parametrize("text", ["customers.csv has 0 rows", "2026-11-23", "act_1234567890", "/srv/dealer/out/winback.csv"])
def test_redact_keeps_the_rest(text: str) -> None:
    assert redact(text) == text


def test_temp_files_of_a_killed_write_are_cleaned(tmp_path: Path) -> None:
    world = World(tmp_path, customers(5), extra="")
    world.config.write_text(world.config.read_text().replace(
        '[destinations.main]\nconnector = "meta"', '[destinations.upload]\nconnector = "meta-file"\n[destinations.main]\nconnector = "meta"'
    ).replace('destinations = ["main"]', 'destinations = ["upload"]'))
    out = tmp_path / "out"
    out.mkdir()
    dead = out / ".all.upload.csv.tmp-4194303"  # above any pid this machine hands out: no process
    alive = out / ".all.upload.csv.tmp-1"  # pid 1 always runs: maybe another writer, left alone
    dead.write_text("half a file")
    alive.write_text("another writer, still running")
    done = CliRunner().invoke(cli, ["sync", "--config", str(world.config), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert not dead.exists() and alive.exists()
    assert (out / "all.upload.csv").exists()
