"""The kit catches what vendors get wrong: each deliberately broken fixture plugin
(tests/kit_fixtures) fails the kit check named for its mistake, with a message that says what
and where, while the good plugin it was copied from passes the same check and the whole kit."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from dealersync import ConnectorContext
from dealersync.testing import DestinationConformance, KitCheckFailed

sys.path.insert(0, str(Path(__file__).parent / "kit_fixtures"))
import acme  # noqa: E402
import acme_bloated  # noqa: E402
import acme_chatty  # noqa: E402
import acme_greedy  # noqa: E402
import acme_nosy  # noqa: E402
import acme_wrapping  # noqa: E402


class AcmeKit(DestinationConformance):
    """The vendor's kit setup, shared by the fixtures (no ``Test`` prefix: not collected)."""

    config = {"access_token": acme.TOKEN}
    platform = acme.FakeAcme


class TestAcmeAds(AcmeKit):
    """The good plugin passes the whole kit."""

    connector = acme.AcmeAds
    plugin = acme


def kit_for(module: ModuleType) -> DestinationConformance:
    (connector,) = module.dealersync_register_destinations()
    kit = type(f"{connector.__name__}Kit", (AcmeKit,), {"connector": connector, "plugin": module})
    return kit()


Run = Callable[[ModuleType, str], None]


@pytest.fixture
def run_check(dealersync_context: ConnectorContext, dealersync_waits: list[float]) -> Run:
    """Run one check of the kit on a fixture plugin, in this process, retries without waiting."""

    def run(module: ModuleType, check: str) -> None:
        getattr(kit_for(module), check)(dealersync_context)

    return run


BYTES = "test_large_members_fit_the_byte_limits"
LOGS = "test_no_secret_or_pii_in_logs"
ERRORS = "test_no_secret_or_pii_in_errors"
SCALE = "test_removals_at_scale"

CAUGHT = [
    pytest.param(acme_bloated, BYTES, "request-bytes",
                 r"request 2 on path 'add' \(POST https://api\.acme-ads\.test/v1/audiences/list-1/members\) carried"
                 r" a [\d,]+-byte body; the platform takes 131,072 \(FakeAcme\.max_body_bytes\)",
                 id="over the byte limit with large members"),
    pytest.param(acme_chatty, LOGS, "log-leaks",
                 r"the secret config field 'access_token' was written to the log by 'acme_ads' \(DEBUG\) on path"
                 r" 'add, one member refused': .*Bearer acme-kit-token",
                 id="logs a secret"),
    pytest.param(acme_nosy, LOGS, "log-leaks",
                 r"customers\.email of KIT00000\d was written to the log by 'acme_ads' \(WARNING\) on path"
                 r" 'add, one member refused': 'Acme refused kit\.person\d@example\.org",
                 id="logs an email"),
    pytest.param(acme_greedy, SCALE, "remove-chunking",
                 r"request 1 on path 'remove' removed 30,000 members, the declared max is 500"
                 r" \(BatchLimits\.rows=500, FakeAcme\.max_rows=500\)",
                 id="removes in oversized chunks"),
    pytest.param(acme_wrapping, ERRORS, "error-leaks",
                 r"the secret config field 'access_token' was carried in the FatalError\.__cause__"
                 r" \(AcmeRequestFailed\) raised on path 'add, every request answered HTTP 400'",
                 id="wraps a secret in a FatalError"),
]


@pytest.mark.parametrize(("module", "check", "name", "message"), CAUGHT)
def test_each_broken_fixture_fails_its_named_check(run_check: Run, module: ModuleType, check: str, name: str,
                                                    message: str) -> None:
    with pytest.raises(KitCheckFailed) as caught:
        run_check(module, check)
    assert caught.value.check == name
    assert str(caught.value).startswith(f"kit check '{name}' failed: ")
    assert re.search(message, str(caught.value)), str(caught.value)
    run_check(acme, check)  # the plugin it was copied from passes the same check


OTHER_CHECKS = [BYTES, LOGS, ERRORS, SCALE]
#: Checks a fixture fails besides its own: the greedy one's single removal request is too big
#: for Acme's bytes as well as its rows.
ALSO_FAILS = {("acme_greedy", BYTES)}


@pytest.mark.slow
@pytest.mark.parametrize("module", [acme_bloated, acme_chatty, acme_nosy, acme_greedy, acme_wrapping],
                         ids=lambda m: m.__name__)
def test_each_broken_fixture_passes_the_checks_of_other_mistakes(run_check: Run, module: ModuleType) -> None:
    own = {p.values[1] for p in CAUGHT if p.values[0] is module}
    for check in OTHER_CHECKS:
        if check in own or (module.__name__, check) in ALSO_FAILS:
            continue
        run_check(module, check)
