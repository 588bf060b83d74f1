"""Integrity of the public op-code fixture (tests/fixtures/opcodes/public_opcodes.csv).

Only the fixture's own shape and labelling rules are checked here; how well the service
categorizer does on it is evaluated elsewhere. See tests/fixtures/opcodes/README.md.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "opcodes" / "public_opcodes.csv"
HEADER = ["id", "op_code", "description", "categories", "purchase", "split", "source", "source_note"]
VOCABULARY = {
    "tires", "brakes", "oil", "battery", "alignment", "rotation",
    "wipers", "filters", "fluids", "inspection", "recall", "diagnosis",
}
PURCHASE_CATEGORIES = {"tires", "brakes"}
#: A line whose text names tires or brakes must say whether it is a purchase of them.
MENTIONS_TIRES_OR_BRAKES = re.compile(r"tire|brake", re.IGNORECASE)
SPLITS = ("tune", "holdout")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == HEADER
        found = list(reader)
    assert len(found) >= 50, "the fixture lost its rows: every check below would pass on none"
    return found


def categories_of(row: dict[str, str]) -> list[str]:
    return row["categories"].split(";") if row["categories"] else []


def test_ids_are_unique_and_well_formed(rows):
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"pub-\d{3}", row_id) for row_id in ids)


def test_every_row_has_a_description_and_a_source(rows):
    for row in rows:
        assert row["description"].strip(), row["id"]
        assert row["source"].startswith(("https://", "code-index:")), row["id"]
        assert row["source_note"].strip(), row["id"]


def test_categories_come_from_the_vocabulary(rows):
    for row in rows:
        categories = categories_of(row)
        assert set(categories) <= VOCABULARY, (row["id"], categories)
        assert len(categories) == len(set(categories)), row["id"]


def test_purchase_is_filled_for_tire_and_brake_lines(rows):
    for row in rows:
        assert row["purchase"] in {"", "yes", "no"}, row["id"]
        if MENTIONS_TIRES_OR_BRAKES.search(row["description"]):
            assert row["purchase"], f"{row['id']} mentions tires/brakes but has no purchase label"


def test_purchase_agrees_with_the_tire_and_brake_categories(rows):
    for row in rows:
        bought = bool(PURCHASE_CATEGORIES & set(categories_of(row)))
        if bought:
            assert row["purchase"] == "yes", row["id"]
        elif row["purchase"]:
            assert row["purchase"] == "no", row["id"]


def test_splits_are_half_and_half(rows):
    counts = Counter(row["split"] for row in rows)
    assert set(counts) <= set(SPLITS)
    assert abs(counts["tune"] - counts["holdout"]) <= 1


def test_each_category_with_two_rows_is_in_both_halves(rows):
    per_category: dict[str, Counter] = {}
    for row in rows:
        labels = categories_of(row) or ["(none)"]
        if row["purchase"]:
            labels = [*labels, f"purchase={row['purchase']}"]
        for label in labels:
            per_category.setdefault(label, Counter())[row["split"]] += 1
    for label, counts in per_category.items():
        if sum(counts.values()) >= 2:
            assert counts["tune"] and counts["holdout"], (label, dict(counts))
