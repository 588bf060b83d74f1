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
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from dealersync.cli import cli
from tests.support.configs import audience, dealership, destination, everyone_to, table
from tests.support.processes import run_dealersync
from tests.support.servers import LocalServer

# every test runs the CLI in a subprocess (a few seconds each on a busy machine)
pytestmark = pytest.mark.slow

#: The source as a config written before the rename: `path` is the old name of `dir`.
OLD_SOURCE = table("sources.dms", connector="dms-csv", path="dms")
FILES = destination("files_x", "meta-file")
GOOD = dealership(OLD_SOURCE, FILES, everyone_to("files_x"), sources=())


def google(**keys: str) -> str:
    return destination(
        "google_api", "google", operating_account_id="123-456-7890", client_id="client.apps.googleusercontent.com",
        client_secret={"env": "PREFLIGHT_GOOGLE_SECRET"}, refresh_token={"env": "PREFLIGHT_GOOGLE_TOKEN"}, **keys,
    )


def meta(**keys: str) -> str:
    return destination("meta_api", "meta", ad_account_id="act_1234567890",
                       access_token={"env": "PREFLIGHT_META_TOKEN"}, **keys)


ENV = {"PREFLIGHT_GOOGLE_SECRET": "s3cret-value", "PREFLIGHT_GOOGLE_TOKEN": "1//refresh-token-value",
       "PREFLIGHT_META_TOKEN": "EAAB-token-value"}


def config(*sections: str) -> str:
    """The dealership's file with other sections (the old-name source first)."""
    return dealership(OLD_SOURCE, *sections, sources=())


@pytest.fixture(scope="module")
def dealer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dealership after one good sync: a warehouse and an upload file exist."""
    d = tmp_path_factory.mktemp("preflight")
    (d / "connectors.toml").write_text(GOOD)
    runner = CliRunner()
    sample = ["sample", "--customers", "150", "--out", str(d / "dms"), "--dialect", "plain", "--encoding", "utf-8",
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
        if p.is_file() and not rel.startswith("dms/") and not rel.endswith(".toml"):
            st = p.stat()
            found[rel] = (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return found


def _run(d: Path, text: str, command: str = "sync") -> subprocess.CompletedProcess[str]:
    (d / "bad.toml").write_text(text)
    return run_dealersync([command, "--config", str(d / "bad.toml")], d, **ENV)


MID_RUN_ERRORS = {
    # a file destination's name template: failed at the first write, after loading
    "name template": (
        config(destination("files_x", "meta-file", filename="{audiance}.{destination}.csv"), everyone_to("files_x")),
        "destinations.files_x.filename: found '{audiance}.{destination}.csv', expected a file name"
        " under the directory using only {audience}, {destination}",
    ),
    "a template attribute": (
        config(destination("files_x", "meta-file", filename="{audience.upper}.csv"), everyone_to("files_x")),
        "destinations.files_x.filename: found '{audience.upper}.csv'",
    ),
    # both outputs switched off: failed at the first write, after loading
    "both outputs off": (
        config(destination("files_x", "meta-file", snapshot=False, dir="elsewhere"), everyone_to("files_x")),
        "destinations.files_x.changes: found False, expected true when snapshot is false",
    ),
    # change files without {kind}: the removes file overwrote the adds file
    "changes without kind": (
        config(destination("files_x", "meta-file", changes=True, changes_filename="{audience}.{stamp}.csv"),
               everyone_to("files_x")),
        "destinations.files_x.changes_filename: found '{audience}.{stamp}.csv', expected a name with {kind}",
    ),
    # two audiences, one file name: the second overwrote the first
    "one file for two audiences": (
        config(destination("files_x", "meta-file", filename="upload.csv"), everyone_to("files_x"),
               audience("again", "everyone", ["files_x"])),
        "destinations.files_x.filename: found 'upload.csv', expected a name with {audience}: audiences all"
        " and again would write the same file upload.csv",
    ),
    # identity settings: the loaded data went through, the first delivery failed
    "identity country": (
        config(table("identity", default_country="XX"), FILES, everyone_to("files_x")),
        "identity.default_country: found 'XX', expected an ISO 3166-1 alpha-2 country code",
    ),
    # a second source whose directory is missing: the first source loaded, then exit 2
    "second source directory": (
        config(table("sources.crm", connector="dms-csv", dir="no/such/dir"), FILES, everyone_to("files_x")),
        "sources.crm.dir: found 'no/such/dir', expected the extract directory",
    ),
    # a plugin's check without network: Google has no list for the audience (failed the delivery)
    "google list per audience": (
        config(FILES, google(), everyone_to("files_x", "google_api")),
        "destinations.google_api.user_list_id: missing (audience all is not in user_lists either)",
    ),
    # a Meta name holding a term Meta flags: the upload stopped there (FatalError, exit 1)
    "meta flagged name": (
        config(FILES, meta(audience_name="{audience} high income"), everyone_to("files_x", "meta_api")),
        "destinations.meta_api.audience_name: the Meta name 'all high income' of audience all contains"
        " 'high income'",
    ),
    # a mode the destination cannot do: failed the delivery
    "replace on google": (
        config(FILES, google(user_list_id="987654"), everyone_to("files_x", "google_api", mode="replace")),
        "audiences.all.mode: found 'replace', expected 'mirror' or 'add': destination google_api (google)"
        " cannot replace a whole audience",
    ),
}


@pytest.mark.parametrize("case", list(MID_RUN_ERRORS))
def test_a_configuration_error_stops_sync_before_any_data_moves(dealer: Path, case: str) -> None:
    text, expected = MID_RUN_ERRORS[case]
    before = _files(dealer)
    assert "wh.duckdb" in before and "out/all.files_x.csv" in before
    proc = _run(dealer, text)
    assert proc.returncode == 2, proc.stderr
    assert f"error: {expected}" in proc.stderr
    assert "Traceback" not in proc.stderr and "Loaded" not in proc.stdout
    assert _files(dealer) == before  # the warehouse's bytes and mtime, and no upload file written
    assert not (dealer / "elsewhere").exists()
    assert not any(secret in proc.stderr for secret in ENV.values())


def test_every_error_at_once(dealer: Path) -> None:
    text = config(
        table("sources.crm", connector="dms-csv", dir="no/such/dir"),
        destination("files_x", "meta-file", filename="{audiance}.csv"), google(),
        everyone_to("files_x", "google_api"),
        table("segments.typo", rule={"fact": "service_visitz", "op": ">=", "value": 1}),
        audience("other", "typo", ["files_x"]),
    )
    before = _files(dealer)
    proc = _run(dealer, text)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0] == "error: 4 configuration errors:"
    keys = [line.split(":")[0].strip() for line in lines[1:]]
    assert keys == ["sources.crm.dir", "segments.typo", "destinations.files_x.filename",
                    "destinations.google_api.user_list_id"]
    assert _files(dealer) == before


def test_config_file_errors_are_listed_together(dealer: Path) -> None:
    proc = _run(dealer, config(table("deadlines", request_seconds=0, destination_seconds="an hour"), FILES,
                               everyone_to("files_x")))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: 2 configuration errors:",
        "  deadlines.request_seconds: found 0, expected a value above 0",
        "  deadlines.destination_seconds: found 'an hour', expected a number",
    ]


# ------------------------------------------------------------------------------ dealersync check


class _Counting(http.server.BaseHTTPRequestHandler):
    """Stands in for Google: counts every request (none is expected) and answers 500."""

    requests = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        type(self).requests += 1
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


def test_check_passes_a_usable_config_without_data_network_or_warehouse(tmp_path: Path, dealer: Path) -> None:
    shutil.copytree(dealer / "dms", tmp_path / "dms")
    with LocalServer(_Counting) as platform:
        text = config(FILES, google(user_list_id="987654", base_url=platform.url, oauth_url=f"{platform.url}/token"),
                      everyone_to("files_x", "google_api"))
        proc = _run(tmp_path, text, command="check")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "bad.toml: ok: 1 source, 2 destinations, 1 segment, 1 audience checked (headers read, no rows loaded, no network)"
    )
    assert _Counting.requests == 0
    assert not (tmp_path / "wh.duckdb").exists() and not (tmp_path / "out").exists()


def test_check_lists_the_errors_sync_would_stop_on(dealer: Path) -> None:
    text, expected = MID_RUN_ERRORS["one file for two audiences"]
    before = _files(dealer)
    proc = _run(dealer, text, command="check")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {expected}"
    assert proc.stdout == "" and _files(dealer) == before


def test_dir_and_its_old_name_path_both_work(dealer: Path) -> None:
    new = dealership(FILES, everyone_to("files_x"), sources=("dms",))  # dir = "dms"
    assert 'dir = "dms"' in new and _run(dealer, new, command="check").returncode == 0
    assert _run(dealer, GOOD, command="check").returncode == 0  # the old name, as the good sync used
    both = dealership(table("sources.dms", connector="dms-csv", dir="dms", path="dms"), FILES, everyone_to("files_x"),
                      sources=())
    proc = _run(dealer, both, command="check")
    assert proc.returncode == 2 and "sources.dms.path: unknown key" in proc.stderr


# ------------------------------------------------------------------------- extract file layouts


def _crm(d: Path, **files: str) -> None:
    """A second extract, ``crm/``, holding ``files`` (table -> its text); nothing else."""
    shutil.rmtree(d / "crm", ignore_errors=True)
    (d / "crm").mkdir()
    for name, text in files.items():
        (d / "crm" / f"{name}.csv").write_text(text)


def test_a_bad_layout_in_the_second_source_stops_sync_before_the_first_loads(dealer: Path) -> None:
    # Read from the files' first lines before anything loads; it used to surface as the second
    # source loaded, after the first had replaced its tables (exit 2, the warehouse changed).
    _crm(dealer, customers="CustNo,email\nC1,a@example.com\n", vehicles="vin,customer_id\nV1,C1\n")
    crm = table("sources.crm", connector="dms-csv", dir="crm", columns={"customers": {"customer_id": "CustID"}})
    text = config(crm, FILES, everyone_to("files_x"))
    before = _files(dealer)
    for command in ("sync", "check"):
        proc = _run(dealer, text, command=command)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.splitlines()
        assert lines[0] == "error: 2 configuration errors:"
        assert lines[1].startswith(
            f"  sources.crm.columns.customers.customer_id: {dealer / 'crm' / 'customers.csv'}: the header has"
            " no column 'CustID', which the `columns` option maps to 'customer_id'"
        )
        assert lines[2].startswith(
            f"  sources.crm.files.vehicles: {dealer / 'crm' / 'vehicles.csv'}: the header has no column"
            " 'vehicle_id', the key of table 'vehicles'"
        )
        assert "Traceback" not in proc.stderr and proc.stdout == ""
        assert _files(dealer) == before  # the warehouse's bytes and mtime, out/ as it was


def test_a_fitting_layout_missing_optional_and_unreadable_files_pass_the_check(dealer: Path) -> None:
    # no vehicles file (optional), an empty deals file (unreadable: the load's outcome, exit 1)
    _crm(dealer, customers="CustNo,EMail\nC1,a@example.com\n", deals="")
    crm = table("sources.crm", connector="dms-csv", dir="crm",
                columns={"customers": {"customer_id": "custno", "email": "EMail"}})
    proc = _run(dealer, config(crm, FILES, everyone_to("files_x")), command="check")
    assert proc.returncode == 0, proc.stderr
