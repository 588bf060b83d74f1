"""Segment definitions as they appear in ``connectors.toml``.

A segment is a ``rule`` or a ``template`` with ``params`` (see
:mod:`dealersync.segments.templates`), plus ``include`` / ``exclude`` lists of other segments.

A rule is a tree. Each node is a table with exactly one shape, told apart by its keys:

``{ all = [rule, ...] }``
    every sub-rule holds (AND).
``{ any = [rule, ...] }``
    at least one sub-rule holds (OR).
``{ not = rule }``
    the sub-rule does not hold: the exact complement, customers with a NULL fact included.
``{ fact = "name", op = "...", value = ... }``
    a condition on one column of ``customer_facts``.
``{ count = "records", where = {...}, within_days = N, op = ">=", value = 1 }``
    a condition on how many related records (``service_lines``, ``events``...; see
    :meth:`dealersync.facts.FactRegistry.relations`) match ``where`` in a window.
``{ segment = "name" }``
    the customer is a member of another segment.

Ops (:data:`OPS`): ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in`` (a list), ``not_in``,
``is_null`` (true/false), ``within_days`` (``as_of - N <= fact <= as_of``), ``before_days``
(``fact < as_of - N``), ``between_days`` (``[a, b]``: ``as_of - b <= fact <= as_of - a``; negative
days are ahead of ``as_of``), ``next_days`` (``as_of <= fact <= as_of + N``) and ``contains``
(a list fact holds the value). A condition on a NULL fact is false, except that ``!=`` and
``not_in`` are the complements of ``=`` and ``in`` (``{op = "!="}`` is ``{not = {op = "="}}``), so
a customer with no preferred channel *is* ``!= "email"``.

Values are checked against the fact's type when the segment is compiled, where the fact registry
is known.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Op = Literal[
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
    "between_days",
    "next_days",
    "contains",
]
#: Every condition operator, in documentation order.
OPS: tuple[str, ...] = get_args(Op)
#: Comparison ops, also those a ``count`` rule compares its count with.
CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Condition(_Node):
    """``{ fact, op, value }``: one test on one fact."""

    fact: str = Field(description="Name of a column of customer_facts.")
    op: Op = Field(description="Operator; see dealersync.segments.rules.OPS.")
    value: Any = Field(default=None, description="Operand; its type must suit the fact and op.")


class Count(_Node):
    """``{ count = "records", where = {...}, within_days = N, op = ">=", value = 1 }``.

    How many of the customer's related records match ``where`` (every ``field = value``; a list
    value means any of them) inside the window (``within_days`` or ``between_days``, on the
    records' date; none: all records up to as_of), compared with ``value``.
    """

    count: str = Field(description="Related records: service_visits, service_lines, ...")
    where: dict[str, Any] = Field(
        default_factory=dict, description="field = value (a list: any of them); all must hold."
    )
    within_days: int | None = Field(default=None, ge=0, description="Records of the last N days.")
    between_days: tuple[int, int] | None = Field(
        default=None, description="[a, b]: records dated a to b days before as_of."
    )
    op: CompareOp = Field(default=">=", description="How the count compares with value.")
    value: int = Field(default=1, ge=0, description="The number the count is compared with.")

    @model_validator(mode="after")
    def _one_window(self) -> Count:
        if self.within_days is not None and self.between_days is not None:
            raise ValueError("give within_days or between_days, not both")
        return self


class SegmentRef(_Node):
    """``{ segment = "name" }``: a member of another segment."""

    segment: str = Field(description="Name of a segment in the config.")


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
        for key in _TAGS:
            if key in value:
                return key
        if "not_" in value:
            return "not"
    return None


Rule = Annotated[
    Annotated[AllRule, Tag("all")]
    | Annotated[AnyRule, Tag("any")]
    | Annotated[NotRule, Tag("not")]
    | Annotated[Condition, Tag("fact")]
    | Annotated[Count, Tag("count")]
    | Annotated[SegmentRef, Tag("segment")],
    Discriminator(
        _rule_tag,
        custom_error_type="invalid_rule",
        custom_error_message=(
            "a rule is a table with 'all', 'any', 'not', 'fact' (+ 'op', 'value'), 'count'"
            " or 'segment'"
        ),
    ),
]

_TAG_BY_CLASS: dict[type, str] = {
    AllRule: "all",
    AnyRule: "any",
    NotRule: "not",
    Condition: "fact",
    Count: "count",
    SegmentRef: "segment",
}
_TAGS: tuple[str, ...] = tuple(_TAG_BY_CLASS.values())

AllRule.model_rebuild()
AnyRule.model_rebuild()
NotRule.model_rebuild()


class SegmentDef(BaseModel):
    """``[segments.NAME]``: who is in the segment.

    Members are (customers matching ``rule``, or the rule ``template`` builds from ``params``) ∪
    (members of each ``include``d segment), minus the members of each ``exclude``d segment. A
    segment needs a rule, a template or an include; that is checked when it is compiled (the
    error names the segment), as are the template's name and params.
    """

    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", description="What the segment is for; shown in lists.")
    rule: Rule | None = Field(default=None, description="The rule tree customers must match.")
    template: str | None = Field(
        default=None, description="A segment template (instead of a rule), e.g. service_status."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="The template's parameters."
    )
    include: list[str] = Field(
        default_factory=list, description="Segments whose members are added."
    )
    exclude: list[str] = Field(
        default_factory=list, description="Segments whose members are removed."
    )

    @model_validator(mode="after")
    def _rule_or_template(self) -> SegmentDef:
        if self.rule is not None and self.template is not None:
            raise ValueError("give 'rule' or 'template', not both")
        if self.params and self.template is None:
            raise ValueError("'params' needs a 'template'")
        return self
