"""Compile a segment into one SQL query over ``customer_facts``, through sqlglot.

The query is built as a sqlglot expression tree, so it renders for DuckDB (the warehouse) or any
dialect sqlglot writes (Postgres, BigQuery, Snowflake). Every value from a config, and every date
derived from ``as_of``, is a bound parameter: the SQL text holds only placeholders, identifiers
the fact registry vouches for, and constants of the compiler. Values are type-checked against the
fact registry first; every error names the segment (``segments.NAME: ...``). A ``count`` rule
becomes a semi-join on the related-record table (an anti-join when zero records satisfy it), a
``segment`` reference an ``IN`` over that segment's query.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from dealersync.errors import ConfigError
from dealersync.facts import FACT_TYPES, FACTS_TABLE, Fact, FactRegistry
from dealersync.facts.registry import Relation
from dealersync.segments.rules import (
    AllRule,
    AnyRule,
    Condition,
    Count,
    NotRule,
    SegmentDef,
    SegmentRef,
)
from dealersync.segments.templates import TemplateRegistry, core_templates

_DATE_TYPES = ("date", "timestamp")
_NUMBER_TYPES = ("integer", "decimal")
_ORDERED_TYPES = ("text", "integer", "decimal", "date", "timestamp")

#: Which fact types each op applies to.
OP_TYPES: dict[str, tuple[str, ...]] = {
    "=": ("text", "integer", "decimal", "date", "timestamp", "boolean"),
    "!=": ("text", "integer", "decimal", "date", "timestamp", "boolean"),
    "<": _ORDERED_TYPES,
    "<=": _ORDERED_TYPES,
    ">": _ORDERED_TYPES,
    ">=": _ORDERED_TYPES,
    "in": ("text", "integer", "decimal", "date", "timestamp"),
    "not_in": ("text", "integer", "decimal", "date", "timestamp"),
    "is_null": tuple(FACT_TYPES),
    "within_days": _DATE_TYPES,
    "before_days": _DATE_TYPES,
    "between_days": _DATE_TYPES,
    "next_days": _DATE_TYPES,
    "contains": ("text_list",),
}


@dataclass(frozen=True)
class CompiledSQL:
    """A segment's membership query: ``SELECT customer_id`` with positional ``?`` parameters.

    Run it as ``con.execute(compiled.sql, compiled.params)``. For dialects whose drivers use
    another positional marker (Postgres: ``%s``), ``sql`` carries that marker instead.
    """

    sql: str
    params: list[Any]
    dialect: str = "duckdb"
    #: The segments this one is built from (itself first, then includes/excludes, recursively).
    segments: tuple[str, ...] = field(default=())


class _Params:
    """Collects bound values; each gets a uniquely named placeholder until rendering."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._ids = itertools.count()

    def bind(self, value: Any) -> exp.Placeholder:
        name = f"dsparam{next(self._ids):06d}x"
        self.values[name] = value
        return exp.Placeholder(this=name)


_PARAM_RE = re.compile(r"dsparam\d{6}x")

_PY_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class _Compiler:
    def __init__(
        self,
        segments: Mapping[str, SegmentDef],
        registry: FactRegistry,
        as_of: dt.date,
        templates: TemplateRegistry,
    ) -> None:
        self.segments = segments
        self.registry = registry
        self.as_of = as_of
        self.templates = templates
        self.params = _Params()
        self.used: list[str] = []

    # -- segments -----------------------------------------------------------------------------

    def segment(self, name: str, stack: tuple[str, ...]) -> exp.Query:
        if name in stack:
            cycle = [*stack[stack.index(name) :], name]
            raise ConfigError(
                f"segments.{name}: include/exclude cycle: "
                + " -> ".join(f"segments.{s}" for s in cycle)
            )
        seg = self.segments[name]
        if isinstance(seg, Mapping):
            seg = SegmentDef.model_validate(seg)
        if name not in self.used:
            self.used.append(name)
        stack = (*stack, name)
        rule = self.definition_rule(name, seg)
        if rule is None and not seg.include:
            raise ConfigError(
                f"segments.{name}: nothing selects members; expected a 'rule', a 'template' or an"
                " 'include' list, found none"
            )
        parts: list[exp.Query] = []
        if rule is not None:
            where = self.rule(name, rule, negated=False, stack=stack)
            parts.append(
                exp.select(exp.column("customer_id")).from_(exp.to_table(FACTS_TABLE)).where(where)
            )
        parts += [self.segment(self._ref(name, "include", r), stack) for r in seg.include]
        query = _setop(exp.union, parts)
        excluded = [self.segment(self._ref(name, "exclude", r), stack) for r in seg.exclude]
        if excluded:
            query = exp.except_(
                _operand(query), _operand(_setop(exp.union, excluded)), distinct=True
            )
        return query

    def definition_rule(self, name: str, seg: SegmentDef) -> Any:
        """The segment's rule: its own, or the one its template builds from its params."""
        if seg.template is None:
            return seg.rule
        try:
            template = self.templates.get(seg.template)
        except ConfigError as exc:
            raise ConfigError(f"segments.{name}.template: {exc.message}") from None
        return template.rule(seg.params, f"segments.{name}")

    def _ref(self, name: str, key: str, ref: Any) -> str:
        if not isinstance(ref, str) or ref not in self.segments:
            known = ", ".join(sorted(self.segments)) or "none"
            raise ConfigError(f"segments.{name}.{key}: unknown segment {ref!r} (known: {known})")
        return ref

    # -- rules ------------------------------------------------------------------------------

    def rule(
        self, seg: str, rule: Any, *, negated: bool, stack: tuple[str, ...]
    ) -> exp.Expression:
        if isinstance(rule, AllRule):
            parts = [self.rule(seg, r, negated=negated, stack=stack) for r in rule.all]
            return _conj(exp.and_, parts)
        if isinstance(rule, AnyRule):
            parts = [self.rule(seg, r, negated=negated, stack=stack) for r in rule.any]
            return _conj(exp.or_, parts)
        if isinstance(rule, NotRule):
            inner = self.rule(seg, rule.not_, negated=True, stack=stack)
            return exp.Not(this=exp.Paren(this=inner))
        if isinstance(rule, Condition):
            return self.condition(seg, rule, negated=negated)
        if isinstance(rule, Count):
            return self.count(seg, rule)
        if isinstance(rule, SegmentRef):
            query = self.segment(self._ref(seg, "rule.segment", rule.segment), stack)
            return exp.In(this=exp.column("customer_id"), query=query.subquery())
        raise ConfigError(f"segments.{seg}: unsupported rule {type(rule).__name__}")

    def count(self, seg: str, rule: Count) -> exp.Expression:
        """``customer_id IN (SELECT customer_id ... GROUP BY ... HAVING count(*) op n)``.

        When zero records satisfy the comparison (``= 0``, ``< 2``), customers without any
        record belong too, so it is the complement: ``NOT IN`` those whose count fails it.
        """
        try:
            rel = self.registry.relation(rule.count)
        except ConfigError as exc:
            raise ConfigError(f"segments.{seg}: {exc.message}") from None
        where = f"segments.{seg}: count {rel.name!r}"
        conds: list[exp.Expression] = [exp.column("customer_id").is_(exp.null()).not_()]
        for key, value in rule.where.items():
            conds.append(self.record_condition(f"{where} where {key!r}", rel, key, value))
        date = exp.column(rel.date_field, quoted=True)
        if rule.within_days is not None:
            conds.append(self.window(date, self.as_of - dt.timedelta(days=rule.within_days),
                                     self.as_of))
        if rule.between_days is not None:
            first, last = _span(f"{where} between_days", rule.between_days)
            conds.append(self.window(date, self.as_of - dt.timedelta(days=last),
                                     self.as_of - dt.timedelta(days=first)))
        compare = _COMPARISONS.get(rule.op, exp.NEQ)
        passes = compare(this=exp.Count(this=exp.Star()), expression=self.params.bind(rule.value))
        zero_passes = _PY_COMPARE[rule.op](0, rule.value)
        having = exp.Not(this=exp.Paren(this=passes)) if zero_passes else passes
        query = (
            exp.select(exp.column("customer_id"))
            .from_(exp.to_table(rel.table))
            .where(exp.and_(*conds))
            .group_by(exp.column("customer_id"))
            .having(having)
        )
        member = exp.In(this=exp.column("customer_id"), query=query.subquery())
        return exp.Not(this=member) if zero_passes else member

    def record_condition(self, where: str, rel: Relation, key: str, value: Any) -> exp.Expression:
        """``field = value`` (a list: ``field IN (...)``) on a related record's field; on a list
        field (a line's categories), the field holds the value (a list: any of them)."""
        if key not in rel.fields:
            known = ", ".join(sorted(rel.fields))
            raise ConfigError(f"{where}: unknown field (known: {known})")
        fact = Fact(key, rel.fields[key], key, "")
        col = exp.column(key, quoted=True)
        if fact.type == "text_list":
            fact = Fact(key, "text", key, "")
            values = _list(where, value) if isinstance(value, list) else [value]
            items = exp.Array(expressions=[self.scalar(where, fact, v) for v in values])
            return exp.func("list_has_any", col, items)
        if isinstance(value, list):
            items = [self.scalar(where, fact, v) for v in _list(where, value)]
            return exp.In(this=col, expressions=items)
        return exp.EQ(this=col, expression=self.scalar(where, fact, value))

    def window(self, col: exp.Expression, low: dt.date, high: dt.date) -> exp.Expression:
        """``low <= col <= high``, as bound dates."""
        return exp.Between(
            this=col,
            low=exp.cast(self.params.bind(low), "DATE"),
            high=exp.cast(self.params.bind(high), "DATE"),
        )

    def condition(self, seg: str, cond: Condition, *, negated: bool) -> exp.Expression:
        try:
            fact = self.registry.get(cond.fact)
        except ConfigError as exc:
            raise ConfigError(f"segments.{seg}: {exc.message}") from None
        where = f"segments.{seg}: fact {fact.name!r} ({fact.type}) with op {cond.op!r}"
        if fact.type not in OP_TYPES[cond.op]:
            raise ConfigError(
                f"{where}: op not available for {fact.type} facts;"
                f" expected one of {', '.join(op for op, t in OP_TYPES.items() if fact.type in t)}"
            )
        build = _OPS[cond.op]
        return build(self, where, fact, cond.value, negated)

    # -- values -----------------------------------------------------------------------------

    def scalar(self, where: str, fact: Fact, value: Any) -> exp.Expression:
        """A bound placeholder for ``value`` after checking it suits ``fact``'s type."""
        checked = _coerce(where, fact, value)
        ph = self.params.bind(checked)
        if fact.type in _DATE_TYPES:
            return exp.cast(ph, "DATE" if fact.type == "date" else "TIMESTAMP")
        return ph

    def day_bound(self, fact: Fact, day: dt.date) -> exp.Expression:
        """``day`` as a bound value comparable with ``fact`` (a date or timestamp)."""
        if fact.type == "timestamp":
            return exp.cast(self.params.bind(dt.datetime.combine(day, dt.time())), "TIMESTAMP")
        return exp.cast(self.params.bind(day), "DATE")


def _col(fact: Fact) -> exp.Column:
    return exp.column(fact.name, quoted=True)


def _two_valued(pred: exp.Expression, negated: bool) -> exp.Expression:
    """Under a NOT, a NULL comparison must count as false so that NOT is a true complement."""
    if negated:
        return exp.func("COALESCE", pred, exp.false())
    return pred


def _conj(fn: Callable[..., exp.Expression], parts: Sequence[exp.Expression]) -> exp.Expression:
    if len(parts) == 1:
        return parts[0]
    return exp.Paren(this=fn(*parts))


def _operand(query: exp.Query) -> exp.Query:
    """Parenthesize a compound operand: UNION and EXCEPT share one precedence level, so
    ``a UNION (p EXCEPT q)`` must not render as ``a UNION p EXCEPT q``."""
    if isinstance(query, exp.SetOperation):
        return query.subquery()  # type: ignore[return-value]
    return query


def _setop(fn: Callable[..., exp.Query], parts: Sequence[exp.Query]) -> exp.Query:
    query = parts[0]
    for part in parts[1:]:
        query = fn(_operand(query), _operand(part), distinct=True)
    return query


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


_EXPECTED = {
    "text": "a string",
    "integer": "a number",
    "decimal": "a number",
    "date": "a date (YYYY-MM-DD)",
    "timestamp": "a timestamp (YYYY-MM-DDTHH:MM:SS) or date",
    "boolean": "true or false",
}


def _coerce(where: str, fact: Fact, value: Any) -> Any:
    """Check ``value`` against ``fact.type``; return what to bind."""
    t = fact.type
    bad = ConfigError(f"{where}: expected {_EXPECTED.get(t, t)}, found {_describe(value)}")
    if t == "text":
        if isinstance(value, str):
            return value
    elif t in _NUMBER_TYPES:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    elif t == "boolean":
        if isinstance(value, bool):
            return value
    elif t == "date":
        if isinstance(value, dt.datetime):
            raise bad
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise bad from None
    elif t == "timestamp":
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time())
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                raise bad from None
    raise bad


def _days(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"{where}: expected a whole number of days >= 0, found {_describe(value)}"
        )
    return value


def _span(where: str, value: Any) -> tuple[int, int]:
    """``[a, b]`` days before as_of (negative: after), ``a <= b``."""
    ok = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and value[0] <= value[1]
    )
    if not ok:
        raise ConfigError(
            f"{where}: expected [a, b], whole numbers of days with a <= b, found {_describe(value)}"
        )
    return value[0], value[1]


def _list(where: str, value: Any) -> list[Any]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{where}: expected a non-empty list, found {_describe(value)}")
    return list(value)


# -- one function per op: (compiler, where, fact, value, negated) -> predicate ---------------

_COMPARISONS: dict[str, type[exp.Expression]] = {
    "=": exp.EQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}


def _comparison(op: str) -> Callable[..., exp.Expression]:
    node = _COMPARISONS[op]

    def build(c: _Compiler, where: str, fact: Fact, value: Any, negated: bool) -> exp.Expression:
        pred = node(this=_col(fact), expression=c.scalar(where, fact, value))
        return _two_valued(pred, negated)

    return build


def _not_equal(c: _Compiler, where: str, fact: Fact, value: Any, negated: bool) -> exp.Expression:
    eq = exp.EQ(this=_col(fact), expression=c.scalar(where, fact, value))
    return exp.Not(this=exp.func("COALESCE", eq, exp.false()))


def _in(c: _Compiler, where: str, fact: Fact, value: Any, negated: bool) -> exp.Expression:
    items = [c.scalar(where, fact, v) for v in _list(where, value)]
    return _two_valued(exp.In(this=_col(fact), expressions=items), negated)


def _not_in(c: _Compiler, where: str, fact: Fact, value: Any, negated: bool) -> exp.Expression:
    items = [c.scalar(where, fact, v) for v in _list(where, value)]
    return exp.Not(
        this=exp.func("COALESCE", exp.In(this=_col(fact), expressions=items), exp.false())
    )


def _is_null(c: _Compiler, where: str, fact: Fact, value: Any, negated: bool) -> exp.Expression:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, found {_describe(value)}")
    pred = exp.Is(this=_col(fact), expression=exp.Null())
    return pred if value else exp.Not(this=pred)


def _within_days(c: _Compiler, where: str, fact: Fact, value: Any, negated: bool) -> exp.Expression:
    days = _days(where, value)
    return _day_range(c, fact, c.as_of - dt.timedelta(days=days), c.as_of, negated)


def _before_days(c: _Compiler, where: str, fact: Fact, value: Any, negated: bool) -> exp.Expression:
    days = _days(where, value)
    bound = c.day_bound(fact, c.as_of - dt.timedelta(days=days))
    return _two_valued(exp.LT(this=_col(fact), expression=bound), negated)


def _between_days(
    c: _Compiler, where: str, fact: Fact, value: Any, negated: bool
) -> exp.Expression:
    first, last = _span(where, value)
    return _day_range(c, fact, c.as_of - dt.timedelta(days=last),
                      c.as_of - dt.timedelta(days=first), negated)


def _next_days(c: _Compiler, where: str, fact: Fact, value: Any, negated: bool) -> exp.Expression:
    days = _days(where, value)
    return _day_range(c, fact, c.as_of, c.as_of + dt.timedelta(days=days), negated)


def _day_range(
    c: _Compiler, fact: Fact, low: dt.date, high: dt.date, negated: bool
) -> exp.Expression:
    """``low <= fact`` through the whole day ``high`` (a timestamp fact: before ``high + 1``)."""
    if fact.type == "timestamp":
        top: exp.Expression = exp.LT(
            this=_col(fact), expression=c.day_bound(fact, high + dt.timedelta(days=1))
        )
    else:
        top = exp.LTE(this=_col(fact), expression=c.day_bound(fact, high))
    pred = exp.and_(exp.GTE(this=_col(fact), expression=c.day_bound(fact, low)), top)
    return _two_valued(exp.Paren(this=pred), negated)


def _contains(c: _Compiler, where: str, fact: Fact, value: Any, negated: bool) -> exp.Expression:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, found {_describe(value)}")
    call = exp.func("list_contains", _col(fact), c.params.bind(value))
    return _two_valued(call, negated)


_OPS: dict[str, Callable[..., exp.Expression]] = {
    **{op: _comparison(op) for op in _COMPARISONS},
    "!=": _not_equal,
    "in": _in,
    "not_in": _not_in,
    "is_null": _is_null,
    "within_days": _within_days,
    "before_days": _before_days,
    "between_days": _between_days,
    "next_days": _next_days,
    "contains": _contains,
}
assert set(_OPS) == set(OP_TYPES)


# --------------------------------------------------------------------------- entry points


def _render(tree: exp.Expression, params: _Params, dialect: str) -> tuple[str, list[Any]]:
    """Render with positional placeholders; order the values as their markers appear."""
    named = tree.sql(dialect=dialect)
    order = _PARAM_RE.findall(named)
    if len(order) != len(list(tree.find_all(exp.Placeholder))):  # pragma: no cover - invariant
        raise AssertionError("placeholder count mismatch while rendering a segment")
    positional = tree.transform(
        lambda node: exp.Placeholder() if isinstance(node, exp.Placeholder) else node
    )
    return positional.sql(dialect=dialect), [params.values[n] for n in order]


def compile_segment(
    name: str,
    segments: Mapping[str, SegmentDef],
    registry: FactRegistry,
    *,
    as_of: dt.date,
    dialect: str = "duckdb",
    templates: TemplateRegistry | None = None,
) -> CompiledSQL:
    """The membership query of ``segments[name]``: one column ``customer_id``.

    Includes become ``UNION``, excludes ``EXCEPT`` (recursively); relative dates are resolved
    against ``as_of`` and bound. ``templates`` resolves ``template = ...`` segments (default: the
    core library; :func:`~dealersync.segments.template_registry` adds the plugins'). Raises
    :class:`ConfigError` for unknown facts, segments or templates, bad template params, values
    that do not suit a fact's type, and include/exclude/reference cycles.
    """
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise ConfigError(f"as_of: expected a date, found {_describe(as_of)}")
    if name not in segments:
        known = ", ".join(sorted(segments)) or "none"
        raise ConfigError(f"segments.{name}: unknown segment (known: {known})")
    c = _Compiler(segments, registry, as_of, templates or core_templates())
    tree = c.segment(name, ())
    sql, params = _render(tree, c.params, dialect)
    return CompiledSQL(sql=sql, params=params, dialect=dialect, segments=tuple(c.used))


def check_segments(
    segments: Mapping[str, SegmentDef],
    registry: FactRegistry,
    *,
    as_of: dt.date,
    templates: TemplateRegistry | None = None,
) -> None:
    """Compile every segment once so a config error surfaces at load time, not mid-run."""
    templates = templates or core_templates()
    for name in segments:
        compile_segment(name, segments, registry, as_of=as_of, templates=templates)
