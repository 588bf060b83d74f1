"""``dealersync segments``: list segments, facts and templates; show a segment's SQL; preview it."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from dealersync.cli.options import as_of_option, config_option
from dealersync.config import load_config
from dealersync.errors import ConfigError
from dealersync.facts import FactRegistry, fact_registry
from dealersync.plugins import load_plugins
from dealersync.segments import (
    CompiledSQL,
    SegmentDef,
    compile_segment,
    template_registry,
)
from dealersync.sync import Runner


def register(cli: click.Group) -> None:
    cli.add_command(segments)


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)


@click.group()
def segments() -> None:
    """Inspect segments, facts and segment templates."""


@segments.command("list")
@config_option
@click.option("--facts", "show_facts", is_flag=True, help="List the facts rules can use.")
@click.option("--templates", "show_templates", is_flag=True, help="List templates and parameters.")
def list_(config_path: Path, show_facts: bool, show_templates: bool) -> None:
    """Every segment in the config: name, template or rule, description."""
    out = _console()
    if show_facts or show_templates:
        plugins = load_plugins()
        if show_facts:
            facts = fact_registry(plugins)
            out.print(_facts_table(facts))
            out.print(_relations_table(facts))
        if show_templates:
            out.print(_templates_table(plugins))
        return
    defs = load_config(config_path).settings.segments
    t = Table(title=f"Segments ({len(defs)})", title_justify="left")
    for col in ("segment", "defined by", "description"):
        t.add_column(col)
    for name, seg in defs.items():
        t.add_row(name, _defined_by(seg), seg.description)
    out.print(t)


def _defined_by(seg: SegmentDef) -> str:
    parts = []
    if seg.template:
        params = ", ".join(f"{k} = {_toml(v)}" for k, v in seg.params.items())
        parts.append(f"template {seg.template}" + (f" ({params})" if params else ""))
    elif seg.rule is not None:
        parts.append("rule")
    parts += [f"include {', '.join(seg.include)}"] if seg.include else []
    parts += [f"exclude {', '.join(seg.exclude)}"] if seg.exclude else []
    return "; ".join(parts)


def _toml(value: Any) -> str:
    """A parameter value as it would be written in connectors.toml (unset: left out)."""
    return "(not set)" if value is None else json.dumps(value)


def _facts_table(facts: FactRegistry) -> Table:
    t = Table(title=f"Facts ({len(facts)})", title_justify="left")
    for col in ("fact", "grain", "type", "definition", "from"):
        t.add_column(col)
    for f in facts:
        t.add_row(f.name, f.grain, f.type, f.description, facts.origin(f.name))
    return t


def _relations_table(facts: FactRegistry) -> Table:
    t = Table(title="Related records (count = ...)", title_justify="left")
    for col in ("records", "date", "fields", "definition"):
        t.add_column(col)
    for rel in facts.relations().values():
        fields = "\n".join(
            f"{k} ({typ})" + (f": {rel.field_docs[k]}" if k in rel.field_docs else "")
            for k, typ in rel.fields.items()
        )
        t.add_row(rel.name, rel.date_field, fields, rel.description)
    return t


def _templates_table(plugins: Any) -> Table:
    templates = template_registry(plugins)
    t = Table(title=f"Templates ({len(templates)})", title_justify="left")
    for col in ("template", "parameters (default)", "description", "from"):
        t.add_column(col)
    for tpl in templates:
        params = "\n".join(
            f"{k} = {_toml(v)}: {tpl.params.model_fields[k].description}"
            for k, v in tpl.defaults().items()
        )
        t.add_row(tpl.name, params, tpl.description, templates.origin(tpl.name))
    return t


@segments.command()
@click.argument("name")
@config_option
@as_of_option
@click.option("--dialect", default="duckdb", show_default=True, help="SQL dialect to render.")
def show(name: str, config_path: Path, as_of: dt.date | None, dialect: str) -> None:
    """A segment's definition, the rule its template builds, and its compiled SQL."""
    runner = Runner(load_config(config_path), load_plugins(), as_of=as_of)
    seg = _segment(runner, name)
    compiled = _compile(runner, name, dialect)
    out = _console()
    out.print(f"[bold]segments.{name}[/bold] as of {runner.as_of}")
    out.print_json(seg.model_dump_json(exclude_defaults=True, by_alias=True))
    if seg.template:
        template = template_registry(runner.registry).get(seg.template)
        rule = template.rule(seg.params, f"segments.{name}")
        out.print("rule built by the template:")
        out.print_json(json.dumps(rule.model_dump(by_alias=True, exclude_none=True)))
    out.print("SQL:", style="bold")
    out.print(compiled.sql, markup=False, highlight=False)
    out.print(f"parameters: {[str(p) for p in compiled.params]}", markup=False)


def _compile(runner: Runner, name: str, dialect: str = "duckdb") -> CompiledSQL:
    """The runner's facts and as_of, with the plugins' templates as well as the core's."""
    return compile_segment(
        name,
        runner.config.settings.segments,
        runner.facts,
        as_of=runner.as_of,
        dialect=dialect,
        templates=template_registry(runner.registry),
    )


@segments.command()
@click.argument("name")
@config_option
@as_of_option
@click.option("--limit", default=10, show_default=True, help="How many customer ids to show.")
def preview(name: str, config_path: Path, as_of: dt.date | None, limit: int) -> None:
    """Load the sources, then show the segment's size and a few customer ids (writes nothing)."""
    runner = Runner(load_config(config_path), load_plugins(), as_of=as_of)
    err = Console(stderr=True)
    try:
        _segment(runner, name)
        compiled = _compile(runner, name)  # config errors before any data moves
        with err.status("loading") as status:
            runner.progress = lambda msg: status.update(msg)
            runner.load()
        con = runner.warehouse.con
        row = con.execute(f"SELECT count(*) FROM ({compiled.sql})", compiled.params).fetchone()
        ids = con.execute(
            f"SELECT customer_id FROM ({compiled.sql}) ORDER BY customer_id LIMIT {int(limit)}",
            compiled.params,
        ).fetchall()
    finally:
        runner.close()
    size = row[0] if row else 0
    out = _console()
    out.print(f"segment {name} as of {runner.as_of}: {size:,} customers")
    for (cid,) in ids:
        out.print(f"  {cid}", markup=False, highlight=False)


def _segment(runner: Runner, name: str) -> SegmentDef:
    defs = runner.config.settings.segments
    if name not in defs:
        known = ", ".join(defs) or "none"
        raise ConfigError(f"segments.{name}: unknown segment (defined: {known})")
    return defs[name]
