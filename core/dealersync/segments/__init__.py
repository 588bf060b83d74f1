"""Segments: rule trees over ``customer_facts``, compiled to SQL through sqlglot.

See :mod:`dealersync.segments.rules` for the config shape and
:mod:`dealersync.segments.compiler` for the SQL it becomes.
"""

from dealersync.segments.compiler import OP_TYPES, CompiledSQL, check_segments, compile_segment
from dealersync.segments.rules import (
    OPS,
    AllRule,
    AnyRule,
    Condition,
    NotRule,
    Rule,
    SegmentDef,
)

__all__ = [
    "OPS",
    "OP_TYPES",
    "AllRule",
    "AnyRule",
    "CompiledSQL",
    "Condition",
    "NotRule",
    "Rule",
    "SegmentDef",
    "check_segments",
    "compile_segment",
]
