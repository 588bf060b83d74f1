"""Config errors: one line naming the table and key, what was found, what was expected; exit 2."""

from __future__ import annotations

import types
from pathlib import Path

import keyring
import pytest
from click.testing import CliRunner
from keyring.backend import KeyringBackend
from keyring.backends import fail
from pydantic import Field, SecretStr

from dealersync import ConfigError, ConnectorConfig, SnapshotDestination, hookimpl
from dealersync.cli import cli
from dealersync.config import load_config
from dealersync.plugins import load_plugins
from dealersync.sync import Runner
from dealersync.testing import write_extract

from tests.support.configs import dealership, destination, table

BASE = dealership(
    destination("meta", "meta-file"),
    table("segments.defectors", rule={"fact": "months_since_last_service", "op": ">=", "value": 12}),
    table("segments.tires", rule={"fact": "last_tires_date", "op": "within_days", "value": 180}),
    table("audiences.winback", segment="defectors", exclude=["tires"], destinations=["meta"]),
)


def _sync(tmp_path: Path, text: str) -> tuple[int, str]:
    write_extract(tmp_path / "dms", {"customers": [{"customer_id": "C1", "email": "a@b.co"}]})
    (tmp_path / "connectors.toml").write_text(text)
    res = CliRunner().invoke(cli, ["sync", "--config", str(tmp_path / "connectors.toml")])
    return res.exit_code, res.stderr.strip()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('connector = "dms-csv"', 'connector = "dms-cvs"',
         "sources.dms.connector: unknown source connector 'dms-cvs'; installed sources: dms-csv"),
        ('destinations = ["meta"]', "",
         "audiences.winback.destinations: missing required key"),
        ('path = "wh.duckdb"', 'path = "wh.duckdb"\nthreads = "two"',
         "warehouse.threads: found 'two', expected a whole number"),
        ('exclude = ["tires"]', 'exclude = ["tyres"]',
         "audiences.winback.exclude: unknown segment 'tyres' (defined: defectors, tires)"),
        ('"months_since_last_service"', '"months_since_last_servce"',
         "segments.defectors: unknown fact 'months_since_last_servce' "
         "(closest: months_since_last_service, miles_since_last_service)"),
        ('destinations = ["meta"]', 'destinations = ["meta"]\nmode = "mirorr"',
         "audiences.winback.mode: found 'mirorr', expected one of 'mirror', 'add' or 'replace'"),
        ('connector = "meta-file"', 'connector = "meta-file"\nfilname = "x.csv"',
         "destinations.meta.filname: unknown key; expected one of: filename, dir, snapshot, changes, changes_filename"),
        ('destinations = ["meta"]\n', 'destinations = ["meta"]\n[audiences.WinBack]\nsegment = "tires"\ndestinations = ["meta"]\n',
         "audiences.WinBack: the name differs from audiences.winback only in case; expected names that differ"
         " otherwise (the warehouse's table names ignore case)"),
    ],
)
def test_config_error_messages(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in BASE
    code, err = _sync(tmp_path, BASE.replace(old, new, 1))
    assert (code, err) == (2, f"error: {message}")


def test_missing_config_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["sync", "--config", str(tmp_path / "nope.toml")])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"error: {tmp_path / 'nope.toml'}: no such config file (pass --config PATH)"


# ------------------------------------------------------------------------------------- secrets
class _Crm(SnapshotDestination):
    name = "crm-list"
    identifiers = {"email": "meta.email"}

    class Config(ConnectorConfig):
        api_token: SecretStr = Field(description="the CRM's API token")

    def write_snapshot(self, snapshot):  # type: ignore[no-untyped-def]
        raise AssertionError("not reached in these tests")


_crm_plugin = types.ModuleType("crm_plugin")
_crm_plugin.dealersync_register_destinations = hookimpl(lambda: [_Crm])  # type: ignore[attr-defined]


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.store[(service, username)]


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    previous = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(previous)


def _crm_runner(tmp_path: Path, token_line: str) -> Runner:
    (tmp_path / "c.toml").write_text(
        BASE.replace('connector = "meta-file"', f'connector = "crm-list"\n{token_line}')
    )
    return Runner(load_config(tmp_path / "c.toml"), load_plugins([_crm_plugin]))


def test_unset_keyring_secret(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    runner = _crm_runner(tmp_path, 'api_token = { keyring = "crm" }')
    with pytest.raises(ConfigError) as exc:
        runner.destination("meta")
    assert exc.value.message == (
        "destinations.meta.api_token: secret 'crm' is not set in the keyring; run `dealersync secrets set crm`"
    )
    res = CliRunner().invoke(cli, ["secrets", "set", "crm", "--stdin"], input="s3cret-value\n")
    assert res.exit_code == 0 and "s3cret-value" not in res.output
    assert runner.destination("meta").config.api_token.get_secret_value() == "s3cret-value"  # type: ignore[attr-defined]
    assert CliRunner().invoke(cli, ["secrets", "delete", "crm"]).output == "deleted secret 'crm'\n"


def test_no_keyring_backend_offers_env(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(ConfigError) as exc:
            _crm_runner(tmp_path, 'api_token = { keyring = "crm" }').destination("meta")
    finally:
        keyring.set_keyring(previous)
    assert exc.value.message == (
        "destinations.meta.api_token: no keyring backend is available on this machine (a headless server?); "
        'store the secret in an environment variable and write { env = "VARIABLE_NAME" } instead'
    )


def test_env_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = _crm_runner(tmp_path, 'api_token = { env = "CRM_TOKEN" }')
    with pytest.raises(ConfigError) as exc:
        runner.destination("meta")
    assert exc.value.message == "destinations.meta.api_token: environment variable CRM_TOKEN is not set; export it before running"
    monkeypatch.setenv("CRM_TOKEN", "tok-123")
    assert runner.destination("meta").config.api_token.get_secret_value() == "tok-123"  # type: ignore[attr-defined]


def test_secret_written_inline_is_never_echoed(tmp_path: Path) -> None:
    runner = _crm_runner(tmp_path, "api_token = 123456789")
    with pytest.raises(ConfigError) as exc:
        runner.destination("meta")
    assert "123456789" not in exc.value.message
    assert exc.value.message.startswith("destinations.meta.api_token: a secret is written in connectors.toml")
    assert "dealersync secrets set NAME" in exc.value.message  # refused with the fix (issue 13)
