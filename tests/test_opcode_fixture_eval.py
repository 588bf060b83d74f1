"""How the built-in service categories do on the public op-code fixture, per half.

``tests/fixtures/opcodes/public_opcodes.csv`` holds real RO line texts from public sources with a
category label each, split into a ``tune`` half (the built-in keyword rules were tuned on it) and
a ``holdout`` half (never read while tuning). Run with ``-s`` to see, for each half, the share of
each category's lines labelled right and every miss.

The floors: on the tuning half every category with 5 or more lines is found at 0.8 or better and
what is given is right at 0.8 or better; on the held-out half (floors set before it was first
run) 0.6. ``recall`` is the exception on both: the fixture's recall rows are OEM campaign texts
that mostly do not say "recall" (its README, "Gaps"); a dealer maps recall op codes in layer 1 or
2. On both halves, no line labelled a non-purchase is counted as a tire or brake purchase, recall
repairs aside (their text is a brake job; only the op code says recall).

The first held-out run counted 7 non-purchase lines as tire or brake purchases (and 1 more
labelled recall); the exclude phrases were then made general enough for them (a symptom anywhere
in the line, the words after an inspection request, recall lines, protection plans, brake system
flushes). Those rows, :data:`SEEN_HOLDOUT`, are no longer held out: the report prints the held-out
half's score without them too.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from dealersync.service_categories import categorize_lines

FIXTURE = Path(__file__).parent / "fixtures" / "opcodes" / "public_opcodes.csv"
CATEGORIES = ("tires", "brakes", "oil", "battery", "alignment", "rotation", "wipers", "filters",
              "fluids", "inspection", "recall", "diagnosis")
PURCHASE = {"tires", "brakes"}
FLOORS = {"tune": 0.8, "holdout": 0.6}
#: Categories measured against a floor: enough lines to mean something, and not recall (above).
MIN_LINES = 5
#: Held-out rows whose misses were looked at and fixed after the first held-out run.
SEEN_HOLDOUT = frozenset(
    {"pub-057", "pub-061", "pub-065", "pub-071", "pub-085", "pub-090", "pub-124", "pub-290"}
)


@dataclass(frozen=True)
class Line:
    id: str
    op_code: str
    description: str
    labelled: frozenset[str]
    purchase: str
    split: str
    found: frozenset[str]


@pytest.fixture(scope="module")
def lines() -> list[Line]:
    with FIXTURE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    got = categorize_lines([(r["op_code"] or None, r["description"]) for r in rows])
    return [
        Line(r["id"], r["op_code"], r["description"], frozenset(filter(None, r["categories"].split(";"))),
             r["purchase"], r["split"], frozenset(c for c, _ in g))
        for r, g in zip(rows, got, strict=True)
    ]


@dataclass(frozen=True)
class Score:
    labelled: int  # lines labelled with the category
    found: int  # of those, given the category
    given: int  # lines given the category
    right: int  # of those, labelled with it

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.right / self.given if self.given else 1.0


def score(lines: list[Line], category: str | None) -> Score:
    """Per category; ``None``: the lines labelled with no category (left uncategorized or not)."""
    def has(cats: frozenset[str]) -> bool:
        return category in cats if category else not cats

    labelled = [x for x in lines if has(x.labelled)]
    given = [x for x in lines if has(x.found)]
    return Score(len(labelled), sum(has(x.found) for x in labelled), len(given),
                 sum(has(x.labelled) for x in given))


def half(lines: list[Line], split: str) -> list[Line]:
    return [x for x in lines if x.split == split]


def report(lines: list[Line]) -> str:
    out = ["category       tune: labelled found  right | holdout: labelled found  right"]
    for cat in (*CATEGORIES, None):
        cells = []
        for split in FLOORS:
            s = score(half(lines, split), cat)
            cells.append(f"{s.labelled:>8} {s.recall:>6.0%} {s.precision:>6.0%}")
        out.append(f"{cat or '(none)':<14} {cells[0]}     | {cells[1]}")
    unseen = [x for x in half(lines, "holdout") if x.id not in SEEN_HOLDOUT]
    for name, part in (*((s, half(lines, s)) for s in FLOORS), ("holdout never looked at", unseen)):
        exact = sum(x.labelled == x.found for x in part)
        out.append(f"{name}: {exact} of {len(part)} lines with exactly the labelled categories")
    for split in FLOORS:
        out.append(f"misses, {split}:")
        out += [f"  {x.id} {x.op_code!r} {x.description[:80]!r}: labelled {sorted(x.labelled)},"
                f" found {sorted(x.found)}" for x in half(lines, split) if x.labelled != x.found]
    out.append(f"held-out rows fixed after being looked at: {', '.join(sorted(SEEN_HOLDOUT))}")
    return "\n".join(out)


def test_report(lines: list[Line]) -> None:
    text = report(lines)
    print("\n" + text)
    assert f"{len(half(lines, 'tune'))} lines" in text and len(half(lines, "holdout")) > 100


@pytest.mark.parametrize("split", list(FLOORS))
def test_each_category_is_found_and_right(lines: list[Line], split: str) -> None:
    part = half(lines, split)
    low = {}
    for cat in (*CATEGORIES, None):
        s = score(part, cat)
        if cat == "recall" or s.labelled < MIN_LINES:
            continue
        if s.recall < FLOORS[split] or s.precision < FLOORS[split]:
            low[cat or "(none)"] = (round(s.recall, 2), round(s.precision, 2))
    assert low == {}, f"{split}: categories under {FLOORS[split]} (found, right): {low}"


@pytest.mark.parametrize("split", list(FLOORS))
def test_no_non_purchase_is_counted_as_a_tire_or_brake_purchase(lines: list[Line], split: str) -> None:
    counted = [
        (x.id, x.description, sorted(PURCHASE & x.found))
        for x in half(lines, split)
        if x.purchase == "no" and PURCHASE & x.found and "recall" not in x.labelled
    ]
    assert counted == []


@pytest.mark.parametrize("split", list(FLOORS))
def test_purchases_are_found(lines: list[Line], split: str) -> None:
    bought = [x for x in half(lines, split) if x.purchase == "yes"]
    found = [x for x in bought if PURCHASE & x.labelled <= x.found]
    assert len(found) >= FLOORS[split] * len(bought)
