"""Hand-written dealer extracts, one per difficulty of a real DMS export (issue 12).

``tests/fixtures/dealer_extracts/base`` is a small dealership written by hand (not by the sample
generator; see its README): dealer op codes known only by their descriptions, non-purchase tire
and brake lines, an internal repair order, a declined brake job done since, an opted-out customer.
Each other directory holds the same records written the way a DMS report writer writes them, one
difficulty each (``all``: every difficulty at once). Every variant must give the same two
audiences in the Meta and Google files, with no configuration beyond the extract's path: the
loader's detection and built-in vocabularies do the work.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from dealersync.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "dealer_extracts"
VARIANTS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())

# Who the hand-written history puts in each audience (see the fixture README for the why).
TIRE_OFFER = {"1002", "1003", "1004", "1005", "1008", "1009", "1012"}
DECLINED_BRAKES = {"1004", "1012"}

CONFIG = """
as_of = "2026-11-23"

[sources.store_dms]
connector = "dms-csv"
path = "dms"

[destinations.meta_upload]
connector = "meta-file"

[destinations.google_upload]
connector = "google-file"

[segments.loyal_customers]
template = "service_status"
params = { status = "loyal" }

[segments.service_defectors]
template = "service_status"
params = { status = "at_risk" }

[segments.active_customers]
include = ["loyal_customers", "service_defectors"]

[segments.recent_tire_buyers]
template = "purchased_category"
params = { category = "tires", within_days = 180 }

[segments.declined_brakes]
template = "declined_work"
params = { category = "brakes", min_age_days = 3, max_age_days = 90 }

[audiences.tire_offer]
segment = "active_customers"
exclude = ["recent_tire_buyers"]
destinations = ["meta_upload", "google_upload"]

[audiences.declined_brakes]
segment = "declined_brakes"
destinations = ["meta_upload", "google_upload"]
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def people() -> dict[str, dict[str, str]]:
    with (FIXTURES / "base" / "customers.csv").open(encoding="utf-8", newline="") as fh:
        return {r["customer_id"]: r for r in csv.DictReader(fh)}


def extract(tmp_path: Path, variant: str) -> Path:
    """The base extract with the variant's files written over it, and the config beside it."""
    dms = tmp_path / "dms"
    shutil.copytree(FIXTURES / "base", dms, ignore=shutil.ignore_patterns("*.md"))
    for f in (FIXTURES / variant).glob("*.csv"):
        shutil.copy(f, dms / f.name)
    (tmp_path / "connectors.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path / "connectors.toml"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module", params=VARIANTS)
def synced(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str]:
    tmp = tmp_path_factory.mktemp(request.param)
    config = extract(tmp, request.param)
    res = CliRunner().invoke(cli, ["sync", "--config", str(config)])
    assert res.exit_code == 0, res.output
    return request.param, tmp, res.output


@pytest.mark.parametrize("audience, expected", [("tire_offer", TIRE_OFFER), ("declined_brakes", DECLINED_BRAKES)])
def test_audiences_hold_exactly_the_expected_people(synced: tuple[str, Path, str], audience: str, expected: set[str]) -> None:
    variant, tmp, _ = synced
    everyone = people()
    emails = {sha(everyone[c]["email"].strip().lower()): c for c in everyone}
    meta = read(tmp / "out" / f"{audience}.meta_upload.csv")
    google = read(tmp / "out" / f"{audience}.google_upload.csv")
    assert {emails[r["email"]] for r in meta} == expected, variant
    assert {emails[r["Email"]] for r in google} == expected, variant
    # Accented names hash from their UTF-8 lowercase form, whatever the file's encoding.
    by_id = {emails[r["email"]]: r for r in meta}
    for cid in expected:
        first = everyone[cid]["first_name"].lower()
        assert by_id[cid]["fn"] == sha(first), (variant, cid)
    if "1002" in expected:
        assert by_id["1002"]["fn"] == sha("josé")
        google_by_id = {emails[r["Email"]]: r for r in google}
        assert google_by_id["1002"]["First Name"] == sha("josé")


def test_nothing_quarantined(synced: tuple[str, Path, str]) -> None:
    """Every difficulty is read, none is pushed into the quarantine."""
    variant, tmp, _ = synced
    con = duckdb.connect(str(tmp / ".dealersync" / "warehouse.duckdb"), read_only=True)
    try:
        quarantined = con.execute("SELECT file, line, \"column\", reason FROM _quarantine").fetchall()
        loaded = dict(con.execute("SELECT 'customers', count(*) FROM customers UNION ALL SELECT 'ro_lines', count(*) FROM ro_lines").fetchall())
    finally:
        con.close()
    assert quarantined == [], variant
    assert loaded["customers"] == len(people())


def test_the_summary_names_what_detection_did(synced: tuple[str, Path, str]) -> None:
    """What the loader guessed is said, with the option that pins it."""
    variant, _, output = synced
    said = " ".join(output.split())  # the summary wraps long lines
    windows_1252 = variant in ("cp1252_crlf", "all")
    assert ('loaded as Windows-1252: set encoding = "cp1252"' in said) == windows_1252
    assert ("skipped 2 title lines" in said) == (variant in ("title_total", "all"))
