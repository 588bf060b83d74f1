"""Configuration errors stop a run before any data moves (issue 15.2), through the CLI.

Each mistake below used to surface mid-run: after the sources loaded (the warehouse changed), at
the first write or the first delivery, with exit 1 (or, for a file name shared by two audiences,
not at all: one file overwrote the other). Each now stops ``python -m dealersync sync`` in a
subprocess with exit 2 and a line naming the key, and the warehouse a good run left and its
upload files are untouched. ``dealersync check`` runs the same preflight alone.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dealersync.cli import cli

# every test runs the CLI in a subprocess (a few seconds each on a busy machine)
pytestmark = pytest.mark.slow

SAMPLE = "sample/dms"
# `path` is the old name of the dms-csv source's `dir`: a config written before the rename
GOOD = """
as_of = "2026-11-23"

[sources.dms]
connector = "dms-csv"
path = "sample/dms"

[destinations.files_x]
connector = "meta-file"

[segments.everyone]
rule = { fact = "service_visits", op = ">=", value = 0 }

[audiences.all]
segment = "everyone"
destinations = ["files_x"]
"""
GOOGLE = """
[destinations.google_api]
connector = "google"
operating_account_id = "123-456-7890"
client_id = "client.apps.googleusercontent.com"
client_secret = { env = "PREFLIGHT_GOOGLE_SECRET" }
refresh_token = { env = "PREFLIGHT_GOOGLE_TOKEN" }
"""
META = """
[destinations.meta_api]
connector = "meta"
ad_account_id = "act_1234567890"
access_token = { env = "PREFLIGHT_META_TOKEN" }
"""
ENV = {"PREFLIGHT_GOOGLE_SECRET": "s3cret-value", "PREFLIGHT_GOOGLE_TOKEN": "1//refresh-token-value",
       "PREFLIGHT_META_TOKEN": "EAAB-token-value"}


@pytest.fixture(scope="module")
def dealer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dealership after one good sync: a warehouse and an upload file exist."""
    d = tmp_path_factory.mktemp("preflight")
    (d / "connectors.toml").write_text(GOOD)
    runner = CliRunner()
    sample = ["sample", "--customers", "150", "--out", str(d / SAMPLE), "--dialect", "plain", "--encoding", "utf-8",
              "--as-of", "2026-11-23"]
    assert runner.invoke(cli, sample).exit_code == 0
    res = runner.invoke(cli, ["sync", "--config", str(d / "connectors.toml")])
    assert res.exit_code == 0, res.output
    assert (d / "out" / "all.files_x.csv").is_file()
    return d


def _files(d: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under the dealership but the extract and the configs: size, mtime, content hash."""
    found = {}
    for p in sorted(d.rglob("*")):
        rel = p.relative_to(d).as_posix()
        if p.is_file() and not rel.startswith(SAMPLE) and not rel.endswith(".toml"):
            st = p.stat()
            found[rel] = (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return found


def _run(d: Path, config: str, *args: str, command: str = "sync") -> subprocess.CompletedProcess[str]:
    (d / "bad.toml").write_text(config)
    return subprocess.run(
        [sys.executable, "-m", "dealersync", command, "--config", str(d / "bad.toml"), *args],
        cwd=d, capture_output=True, text=True, timeout=120, env={**os.environ, **ENV},
    )


def _with(old: str, new: str) -> str:
    assert GOOD.count(old) == 1
    return GOOD.replace(old, new)


MID_RUN_ERRORS = {
    # a file destination's name template: failed at the first write, after loading
    "name template": (
        _with('connector = "meta-file"\n', 'connector = "meta-file"\nfilename = "{audiance}.{destination}.csv"\n'),
        "destinations.files_x.filename: found '{audiance}.{destination}.csv', expected a file name"
        " under the directory using only {audience}, {destination}",
    ),
    "a template attribute": (
        _with('connector = "meta-file"\n', 'connector = "meta-file"\nfilename = "{audience.upper}.csv"\n'),
        "destinations.files_x.filename: found '{audience.upper}.csv'",
    ),
    # both outputs switched off: failed at the first write, after loading
    "both outputs off": (
        _with('connector = "meta-file"\n', 'connector = "meta-file"\nsnapshot = false\ndir = "elsewhere"\n'),
        "destinations.files_x.changes: found False, expected true when snapshot is false",
    ),
    # change files without {kind}: the removes file overwrote the adds file
    "changes without kind": (
        _with('connector = "meta-file"\n', 'connector = "meta-file"\nchanges = true\n'
              'changes_filename = "{audience}.{stamp}.csv"\n'),
        "destinations.files_x.changes_filename: found '{audience}.{stamp}.csv', expected a name with {kind}",
    ),
    # two audiences, one file name: the second overwrote the first
    "one file for two audiences": (
        _with('connector = "meta-file"\n', 'connector = "meta-file"\nfilename = "upload.csv"\n')
        + '\n[audiences.again]\nsegment = "everyone"\ndestinations = ["files_x"]\n',
        "destinations.files_x.filename: found 'upload.csv', expected a name with {audience}: audiences all"
        " and again would write the same file upload.csv",
    ),
    # identity settings: the loaded data went through, the first delivery failed
    "identity country": (
        'as_of = "2026-11-23"\n[identity]\ndefault_country = "XX"\n' + GOOD.split("\n", 2)[2],
        "identity.default_country: found 'XX', expected an ISO 3166-1 alpha-2 country code",
    ),
    # a second source whose directory is missing: the first source loaded, then exit 2
    "second source directory": (
        GOOD.replace("[destinations.files_x]", '[sources.crm]\nconnector = "dms-csv"\ndir = "no/such/dir"\n\n'
                     "[destinations.files_x]"),
        "sources.crm.dir: found 'no/such/dir', expected the extract directory",
    ),
    # a plugin's check without network: Google has no list for the audience (failed the delivery)
    "google list per audience": (
        _with('destinations = ["files_x"]', 'destinations = ["files_x", "google_api"]') + GOOGLE,
        "destinations.google_api.user_list_id: missing (audience all is not in user_lists either)",
    ),
    # a Meta name holding a term Meta flags: the upload stopped there (FatalError, exit 1)
    "meta flagged name": (
        _with('destinations = ["files_x"]', 'destinations = ["files_x", "meta_api"]') + META
        + 'audience_name = "{audience} high income"\n',
        "destinations.meta_api.audience_name: the Meta name 'all high income' of audience all contains"
        " 'high income'",
    ),
    # a mode the destination cannot do: failed the delivery
    "replace on google": (
        _with('destinations = ["files_x"]', 'destinations = ["files_x", "google_api"]\nmode = "replace"')
        + GOOGLE + 'user_list_id = "987654"\n',
        "audiences.all.mode: found 'replace', expected 'mirror' or 'add': destination google_api (google)"
        " cannot replace a whole audience",
    ),
}


@pytest.mark.parametrize("case", list(MID_RUN_ERRORS))
def test_a_configuration_error_stops_sync_before_any_data_moves(dealer: Path, case: str) -> None:
    config, expected = MID_RUN_ERRORS[case]
    before = _files(dealer)
    assert ".dealersync/warehouse.duckdb" in before and "out/all.files_x.csv" in before
    proc = _run(dealer, config)
    assert proc.returncode == 2, proc.stderr
    assert f"error: {expected}" in proc.stderr
    assert "Traceback" not in proc.stderr and "Loaded" not in proc.stdout
    assert _files(dealer) == before  # the warehouse's bytes and mtime, and no upload file written
    assert not (dealer / "elsewhere").exists()
    assert not any(secret in proc.stderr for secret in ENV.values())


def test_every_error_at_once(dealer: Path) -> None:
    config = (
        GOOD.replace('[destinations.files_x]\nconnector = "meta-file"\n',
                     '[sources.crm]\nconnector = "dms-csv"\ndir = "no/such/dir"\n\n'
                     '[destinations.files_x]\nconnector = "meta-file"\nfilename = "{audiance}.csv"\n')
        .replace('destinations = ["files_x"]', 'destinations = ["files_x", "google_api"]')
        + GOOGLE + '\n[segments.typo]\nrule = { fact = "service_visitz", op = ">=", value = 1 }\n'
        + '\n[audiences.other]\nsegment = "typo"\ndestinations = ["files_x"]\n'
    )
    before = _files(dealer)
    proc = _run(dealer, config)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0] == "error: 4 configuration errors:"
    keys = [line.split(":")[0].strip() for line in lines[1:]]
    assert keys == ["sources.crm.dir", "segments.typo", "destinations.files_x.filename",
                    "destinations.google_api.user_list_id"]
    assert _files(dealer) == before


def test_config_file_errors_are_listed_together(dealer: Path) -> None:
    config = _with("[sources.dms]", '[warehouse]\nmemory_limit = "lots"\nthreads = 0\n\n[sources.dms]')
    proc = _run(dealer, config)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: 2 configuration errors:",
        "  warehouse.memory_limit: found 'lots', expected a size such as '512MB' or '2GB'",
        "  warehouse.threads: found 0, expected a value of at least 1",
    ]


# ------------------------------------------------------------------------------ dealersync check


class _CountingServer(http.server.ThreadingHTTPServer):
    requests = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.server.requests += 1  # type: ignore[attr-defined]
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def platform() -> Iterator[_CountingServer]:
    """A local server standing in for Google: counts every request it gets."""
    server = _CountingServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_check_passes_a_usable_config_without_data_network_or_warehouse(
    tmp_path: Path, dealer: Path, platform: _CountingServer
) -> None:
    shutil.copytree(dealer / SAMPLE, tmp_path / SAMPLE)
    url = f"http://127.0.0.1:{platform.server_address[1]}"
    config = (
        _with('destinations = ["files_x"]', 'destinations = ["files_x", "google_api"]')
        + GOOGLE + f'user_list_id = "987654"\nbase_url = "{url}"\noauth_url = "{url}/token"\n'
    )
    proc = _run(tmp_path, config, command="check")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "bad.toml: ok: 1 source, 2 destinations, 1 segment, 1 audience checked (no data read, no network)"
    )
    assert platform.requests == 0
    assert not (tmp_path / ".dealersync").exists() and not (tmp_path / "out").exists()


def test_check_lists_the_errors_sync_would_stop_on(dealer: Path) -> None:
    config, expected = MID_RUN_ERRORS["one file for two audiences"]
    before = _files(dealer)
    proc = _run(dealer, config, command="check")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {expected}"
    assert proc.stdout == "" and _files(dealer) == before


def test_dir_and_its_old_name_path_both_work(dealer: Path) -> None:
    new = _with('path = "sample/dms"', 'dir = "sample/dms"')
    assert _run(dealer, new, command="check").returncode == 0
    assert _run(dealer, GOOD, command="check").returncode == 0  # the old name, as the good sync used
    both = _with('path = "sample/dms"', 'path = "sample/dms"\ndir = "sample/dms"')
    proc = _run(dealer, both, command="check")
    assert proc.returncode == 2 and "sources.dms.path: unknown key" in proc.stderr
