"""The canonical model: one definition, its docs and its record models agree."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pydantic
import pytest

from dealersync.model import TABLES

DOC = (Path(__file__).parents[1] / "docs" / "data-model.md").read_text()


@pytest.mark.parametrize("table", list(TABLES.values()), ids=lambda t: t.name)
def test_data_model_doc_lists_every_column(table) -> None:  # type: ignore[no-untyped-def]
    section = DOC.split(f"### {table.name}.csv", 1)[1].split("\n### ", 1)[0]
    documented = re.findall(r"^\| `(\w+)`", section, flags=re.M)
    assert documented == table.column_names


def test_record_model_types_and_forbids_unknown_columns() -> None:
    model = TABLES["deals"].record_model()
    rec = model(deal_id="D1", deal_date="2026-01-02", apr="3.9", term_months=36)
    assert rec.deal_date == dt.date(2026, 1, 2) and rec.apr == 3.9
    with pytest.raises(pydantic.ValidationError):
        model(deal_id="D1", dealer_notes="x")
    with pytest.raises(pydantic.ValidationError):
        model(apr=1.0)  # key missing


def test_segments_doc_documents_every_default_fact() -> None:
    from dealersync.facts import default_facts

    doc = (Path(__file__).parents[1] / "docs" / "segments.md").read_text()
    documented = re.findall(r"^\| `(\w+)` \| (\w+) \|", doc, flags=re.M)
    assert documented == [(f.name, f.type) for f in default_facts()]
