"""Segment definitions as they appear in ``connectors.toml``.

A rule is a tree. Each node is a table with exactly one shape, told apart by its keys:

``{ all = [rule, ...] }``
    every sub-rule holds (AND).
``{ any = [rule, ...] }``
    at least one sub-rule holds (OR).
``{ not = rule }``
    the sub-rule does not hold: the exact complement, customers with a NULL fact included.
``{ fact = "name", op = "...", value = ... }``
    a condition on one column of ``customer_facts``.

Ops (:data:`OPS`): ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in`` (a list), ``not_in``,
``is_null`` (true/false), ``within_days`` (``as_of - N <= fact <= as_of``), ``before_days``
(``fact < as_of - N``). A condition on a NULL fact is false, except that ``!=`` and ``not_in`` are
the complements of ``=`` and ``in`` (``{op = "!="}`` is ``{not = {op = "="}}``), so a customer
with no preferred channel *is* ``!= "email"``.

Room to grow without breaking configs: a new node shape is a new key (``segment = "name"``,
``count = {...}``) added to :func:`_rule_tag`; a new op (``between_days``, ``contains``) is one
more name in :data:`OPS` plus one compiler function. Values are checked against the fact's type
when the segment is compiled, where the fact registry is known.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

#: Every condition operator, in documentation order.
OPS: tuple[str, ...] = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not_in",
    "is_null",
    "within_days",
    "before_days",
)

Op = Literal[
    "=", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "within_days", "before_days"
]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Condition(_Node):
    """``{ fact, op, value }``: one test on one fact."""

    fact: str = Field(description="Name of a column of customer_facts.")
    op: Op = Field(description="Operator; see dealersync.segments.rules.OPS.")
    value: Any = Field(default=None, description="Operand; its type must suit the fact and op.")


class AllRule(_Node):
    """``{ all = [...] }``: every sub-rule holds."""

    all: list[Rule] = Field(min_length=1, description="Sub-rules that must all hold.")


class AnyRule(_Node):
    """``{ any = [...] }``: at least one sub-rule holds."""

    any: list[Rule] = Field(min_length=1, description="Sub-rules of which one must hold.")


class NotRule(_Node):
    """``{ not = rule }``: the complement of the sub-rule."""

    not_: Rule = Field(alias="not", description="The rule that must not hold.")


def _rule_tag(value: Any) -> str | None:
    """Which node shape ``value`` is, by its keys (an already-built node by its class)."""
    if isinstance(value, BaseModel):
        return _TAG_BY_CLASS.get(type(value))
    if isinstance(value, dict):
        for key in ("all", "any", "not", "fact"):
            if key in value:
                return key
        if "not_" in value:
            return "not"
    return None


Rule = Annotated[
    Annotated[AllRule, Tag("all")]
    | Annotated[AnyRule, Tag("any")]
    | Annotated[NotRule, Tag("not")]
    | Annotated[Condition, Tag("fact")],
    Discriminator(
        _rule_tag,
        custom_error_type="invalid_rule",
        custom_error_message="a rule is a table with 'all', 'any', 'not' or 'fact' (+ 'op', 'value')",
    ),
]

_TAG_BY_CLASS: dict[type, str] = {AllRule: "all", AnyRule: "any", NotRule: "not", Condition: "fact"}

AllRule.model_rebuild()
AnyRule.model_rebuild()
NotRule.model_rebuild()


class SegmentDef(BaseModel):
    """``[segments.NAME]``: who is in the segment.

    Members are (customers matching ``rule``) ∪ (members of each ``include``d segment), minus the
    members of each ``exclude``d segment. A segment needs a ``rule`` or an ``include``; that is
    checked when it is compiled (the error names the segment).
    """

    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", description="What the segment is for; shown in lists.")
    rule: Rule | None = Field(default=None, description="The rule tree customers must match.")
    include: list[str] = Field(
        default_factory=list, description="Segments whose members are added."
    )
    exclude: list[str] = Field(
        default_factory=list, description="Segments whose members are removed."
    )
