"""The conformance kit judged on fixture plugins: the good one passes, each broken one fails
exactly the check named for its fault and nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest
from dealersync.testing import install_offline

FIXTURES = Path(__file__).parent / "fixtures" / "kit"

EXPECTED_FAILURES = {
    "TestKitCrm": set(),
    "TestDuplicateKeyCrm": {"test_keys_present_and_unique"},
    "TestLeakySecretCrm": {"test_config_error_never_echoes_a_secret"},
    "TestUnmapped401Crm": {"test_refused_credential_is_auth_error"},
    "TestKitAds": set(),
    # the dropped members are missing whatever their size
    "TestDroppingAds": {"test_batch_round_trips", "test_large_members_fit_the_byte_limits"},
    # too many members a request, added or removed
    "TestOversizedAds": {"test_batch_limits_are_respected", "test_removals_at_scale"},
}


def run_pytest(paths: list[Path], site: Path, cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run pytest in a subprocess with ``site`` on PYTHONPATH; outcomes per class and test."""
    report = cwd / "report.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
         *args, *map(str, paths)],
        cwd=cwd, check=False, env=env, capture_output=True, text=True,
    )
    outcomes: dict[str, dict[str, str]] = defaultdict(dict)
    for case in ET.parse(report).getroot().iter("testcase"):
        cls = case.get("classname", "").rsplit(".", 1)[-1]
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[cls][case.get("name", "")] = kinds[0] if kinds else "passed"
    return proc, outcomes


@pytest.mark.slow
def test_each_fixture_fails_exactly_its_check(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = shutil.copytree(FIXTURES / "dealersync-kitfixtures", tmp_path / "dealersync-kitfixtures")
    install_offline(dist, site)  # from a copy: building leaves build/ and *.egg-info behind
    proc, outcomes = run_pytest([FIXTURES / "kit_checks.py"], site, tmp_path)
    assert set(outcomes) == set(EXPECTED_FAILURES), proc.stdout[-3000:]
    for cls, expected in EXPECTED_FAILURES.items():
        failed = {name for name, kind in outcomes[cls].items() if kind in ("failure", "error")}
        assert failed == expected, f"{cls}: failed {sorted(failed)}\n{proc.stdout[-3000:]}"
    # every check ran somewhere: the suites are not vacuously green
    assert {name for o in outcomes.values() for name, kind in o.items() if kind == "passed"} >= {
        "test_incremental_reread_yields_nothing_older",
        "test_refused_credential_is_auth_error",
        "test_unavailable_is_retried_then_transient",
        "test_discoverable_through_entry_point",
        "test_rejected_members_are_reported_one_by_one",
        "test_no_raw_pii_in_requests",
        "test_unicode_survives",
        "test_remove_works",
        "test_removals_at_scale",
        "test_large_members_fit_the_byte_limits",
        "test_no_secret_or_pii_in_logs",
        "test_no_secret_or_pii_in_errors",
    }


def test_kit_is_a_pytest_plugin() -> None:
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="pytest11") if e.name == "dealersync"]
    assert ep.value == "dealersync.testing.pytest_plugin"


@pytest.mark.slow
def test_undiscoverable_connector_says_to_install(tmp_path: Path) -> None:
    """A connector nobody registered fails discovery with the fix in the message."""
    test = tmp_path / "test_vendor.py"
    test.write_text(
        "from dealersync import ConnectorConfig, ExtractFile, Source\n"
        "from dealersync.testing import SourceConformance\n"
        "class Lonely(Source):\n"
        "    name = 'lonely-src'\n"
        "    def streams(self): return []\n"
        "    def read(self, stream, state): return iter(())\n"
        "class TestLonely(SourceConformance):\n"
        "    connector = Lonely\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test), "-k", "discoverable"],
        cwd=tmp_path, check=False, capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert "unknown source connector 'lonely-src'" in proc.stdout
    assert "pip install -e ." in proc.stdout


def test_strict_http_fails_on_unmocked_and_unused_mocks() -> None:
    import requests
    import responses
    from dealersync import HttpSession, TransientError
    from dealersync.testing import FakePlatform, strict_http

    def mocks(rsps: responses.RequestsMock) -> None:
        rsps.add("GET", "https://api.acme.test/used", json={})
        rsps.add("GET", "https://api.acme.test/unused", json={})

    unused = r"Not all requests have been executed \[\(.GET., .https://api.acme.test/unused.\)\]"
    with pytest.raises(AssertionError, match=unused), strict_http(mocks):
        requests.get("https://api.acme.test/used", timeout=1)

    session = HttpSession("Acme", sleep=lambda _s: None, max_attempts=2)
    stray = r"requests nothing mocks: \['GET https://api.acme.test/stray'\]"
    # core http sees a connection failure, retries, raises TransientError; the kit still tells
    with pytest.raises(AssertionError, match=stray), strict_http(), pytest.raises(TransientError):
        session.get("https://api.acme.test/stray")

    class Fake(FakePlatform):
        base_url = "https://api.acme.test"

        def register(self, rsps: responses.RequestsMock) -> None:
            self.route(rsps, "GET", "/lists/{list_id}", lambda request, body, list_id: (200, self.members(list_id)))
            self.route(rsps, "DELETE", "/lists/{list_id}", lambda request, body, list_id: (204, None))

    fake = Fake()
    fake.add_members("L1", [{"email": "a"}, {"email": "a"}, {"email": "b"}])
    with strict_http(platform=fake):  # the unused DELETE route is not an error
        assert requests.get("https://api.acme.test/lists/L1?x=1", timeout=1).json() == [{"email": "a"}, {"email": "b"}]
