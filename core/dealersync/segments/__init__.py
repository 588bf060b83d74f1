"""Segments: rule trees and templates over ``customer_facts``, compiled to SQL through sqlglot.

See :mod:`dealersync.segments.rules` for the config shape, :mod:`dealersync.segments.templates`
and :mod:`dealersync.segments.library` for templates, and :mod:`dealersync.segments.compiler`
for the SQL it all becomes.
"""

from dealersync.segments.compiler import (
    OP_TYPES,
    CompiledSQL,
    check_segments,
    compile_segment,
)
from dealersync.segments.rules import (
    OPS,
    AllRule,
    AnyRule,
    Condition,
    Count,
    NotRule,
    Rule,
    SegmentDef,
    SegmentRef,
)
from dealersync.segments.templates import (
    SegmentTemplate,
    TemplateRegistry,
    core_templates,
    template_registry,
)

__all__ = [
    "OPS",
    "OP_TYPES",
    "AllRule",
    "AnyRule",
    "CompiledSQL",
    "Condition",
    "Count",
    "NotRule",
    "Rule",
    "SegmentDef",
    "SegmentRef",
    "SegmentTemplate",
    "TemplateRegistry",
    "check_segments",
    "compile_segment",
    "core_templates",
    "template_registry",
]
