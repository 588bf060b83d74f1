"""Core batching: rows, bytes of the JSON-encoded members, identifiers per member."""

from __future__ import annotations

import json

import pytest
from dealersync import BatchLimits
from dealersync.batching import encoded_size, split_batches, trim_identifiers


def members(n: int) -> list[dict[str, object]]:
    return [{"member_key": f"k{i}", "email": f"{i:064x}", "phone": None} for i in range(n)]


def test_rows() -> None:
    batches = list(split_batches(members(25), BatchLimits(rows=10)))
    assert [len(b.members) for b in batches] == [10, 10, 5]
    assert [m["member_key"] for b in batches for m in b.members] == [f"k{i}" for i in range(25)]


def test_bytes_of_the_json_array() -> None:
    one = encoded_size(members(1)[0])
    limit = 2 + 3 * one + 2  # exactly three members and their commas
    batches = list(split_batches(members(7), BatchLimits(rows=100, bytes=limit)))
    assert [len(b.members) for b in batches] == [3, 3, 1]
    for b in batches:
        encoded = json.dumps(b.members, separators=(",", ":"), ensure_ascii=False).encode()
        assert len(encoded) == b.size_bytes <= limit


def test_bytes_count_utf8_not_characters() -> None:
    m = {"member_key": "k", "fn": "é" * 10}
    assert encoded_size(m) == len('{"member_key":"k","fn":""}') + 20


def test_member_too_large_alone_is_rejected_not_sent() -> None:
    big = {"member_key": "big", "email": "x" * 500}
    batches = list(split_batches([*members(2), big], BatchLimits(rows=10, bytes=300)))
    assert [m["member_key"] for b in batches for m in b.members] == ["k0", "k1"]
    (rejected,) = [r for b in batches for r in b.rejected]
    assert (rejected.member_key, rejected.accepted, rejected.code) == ("big", False, "too_large")


def test_extra_identifiers_are_trimmed_in_field_order() -> None:
    m = {"member_key": "k", "email": "e", "phone": None, "fn": "f", "ln": "l", "zip": ""}
    assert trim_identifiers(m, 2) == {"member_key": "k", "email": "e", "phone": None, "fn": "f", "ln": None, "zip": ""}
    (batch,) = split_batches([m], BatchLimits(identifiers_per_member=1))
    assert batch.members == [{"member_key": "k", "email": "e", "phone": None, "fn": None, "ln": None, "zip": ""}]
    assert trim_identifiers(m, None) == m


def test_empty_input_and_bad_limits() -> None:
    assert list(split_batches([], BatchLimits())) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(split_batches(members(1), BatchLimits(rows=0)))
