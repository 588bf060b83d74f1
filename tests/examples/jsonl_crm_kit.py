"""The source kit run on the JSON-lines CRM example (tests/examples/jsonl_crm.py), as its vendor
would, and on two deliberately broken variants, each failing the check named for its fault.
``tests/test_record_sources.py`` runs this file with pytest and asserts which checks fail; the
name does not start with ``test_``, so the main suite does not collect it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dealersync import RecordItem, Unparsable
from dealersync.testing import SourceConformance

from jsonl_crm import JsonlCrm, physical_lines

DEALERSYNC_API = ">=1.0,<2"  # the broken variants' plugin (their module) declares it too

#: The hand-written fixture: good lines, blank lines, a record over five lines and bad lines.
FIXTURE = Path(__file__).parent / "jsonl_crm"
#: Its physical lines that must be quarantined: bad JSON (4), no id (7), "perhaps" for a boolean
#: (8), not an object (16), "yesterday-ish" for a timestamp (17), not UTF-8 (18), C1 again (19).
MALFORMED = {"customers.jsonl": [4, 7, 8, 16, 17, 18, 19]}

CLEAN = """\
{"id": "K1", "first": "Ann", "email": "ann@example.com", "email_opt_in": true}

{"id": "K2", "first": "Zo\u00eb", "last": "O'Brien", "mobile": "+1 617 555 0100"}
"""


class StreamPositionJsonlCrm(JsonlCrm):
    """Fault: bare records, and bad lines numbered by their position among the records (blank
    lines and the lines a record spans are not counted)."""

    name = "jsonl-stream-crm"

    def items(self, path: Path) -> Iterator[RecordItem]:
        for position, item in enumerate(super().items(path), start=1):
            if isinstance(item, Unparsable):
                yield Unparsable(path, position, item.reason)
            else:
                yield item.record  # type: ignore[union-attr]


EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


class EmailNamingJsonlCrm(JsonlCrm):
    """Fault: "helpfully" names the customer of a bad line by the email found in it."""

    name = "jsonl-email-crm"

    def items(self, path: Path) -> Iterator[RecordItem]:
        texts = dict(physical_lines(path))
        for item in super().items(path):
            found = EMAIL.search(texts.get(item.line) or "") if isinstance(item, Unparsable) else None
            if isinstance(item, Unparsable) and found:
                yield Unparsable(path, item.line, f"{item.reason}, customer {found.group()}")
            else:
                yield item


class JsonlFixtures:
    malformed_lines = MALFORMED

    def make_config(self, base_dir: Path) -> dict[str, Any]:
        (base_dir / "crm").mkdir(exist_ok=True)
        (base_dir / "crm" / "customers.jsonl").write_text(CLEAN, encoding="utf-8")
        return {"dir": "crm"}

    def make_malformed_config(self, base_dir: Path) -> dict[str, Any]:
        return {"dir": str(FIXTURE)}


class TestJsonlCrm(JsonlFixtures, SourceConformance):
    connector = JsonlCrm


class TestStreamPositionJsonlCrm(JsonlFixtures, SourceConformance):
    connector = StreamPositionJsonlCrm


class TestEmailNamingJsonlCrm(JsonlFixtures, SourceConformance):
    connector = EmailNamingJsonlCrm
