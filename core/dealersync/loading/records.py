"""Staging a record batch (a source's records), validated per record in Python.

Each record is validated against the table's pydantic model (the API edge); invalid records go
to quarantine. Where: a :class:`~dealersync.Located` record at its file and physical line (and
a loaded one keeps the line as ``_line``); a bare record at ``file = "<source>:<table>:records"``
and ``line`` = its 1-based index among that table's records in this load. An
:class:`~dealersync.Unparsable` line goes to quarantine as the source reported it, its reason
cut to one line without quoted text (:func:`reported_reason`). Valid records are appended in
one bulk insert (DuckDB's appender), never a statement per row. Enumerated columns are mapped
onto their canonical values by the same vocabularies as extract files (the built-in spellings
and the batch's ``values``); an unknown value is quarantined, except in a column that declares a
fallback (``suppressions.scope``): the record is loaded with it and the cell reported as a
quarantine entry marked ``row_loaded``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from os import fspath
from typing import Any

from pydantic import ValidationError

from dealersync.connectors import Located, RecordBatch, Unparsable
from dealersync.errors import ConfigError
from dealersync.loading.checks import type_reason
from dealersync.loading.reports import FileReport
from dealersync.loading.sql import append_rows, ident
from dealersync.loading.staging import Scratch, Staged, target_table
from dealersync.model import DUCKDB_TYPES, Table
from dealersync.vocabularies import (
    fallback_reason,
    fold,
    unknown_value_reason,
    value_map_problems,
    vocabulary,
)

BLANKS = " "  # what DuckDB's trim() removes; records are trimmed alike
#: The longest reason kept from an :class:`~dealersync.Unparsable` line.
REASON_MAX = 200
#: Quoted text in a source's reason, two characters or more ("Expecting ',' delimiter" keeps
#: its delimiter) between quotes that open and close a word (an apostrophe in "can't" does
#: not): most likely a value, so it never reaches the quarantine.
QUOTED = re.compile(r"(?<!\w)(?:'[^'\n]{2,}'|\"[^\"\n]{2,}\")(?!\w)")


def stage_records(
    scratch: Scratch, source: str, batch: RecordBatch, first_index: int
) -> Staged:
    """Validate a batch into temp tables; its records are numbered from ``first_index + 1``
    (record numbers run across a table's batches)."""
    con = scratch.con
    table = target_table(batch.table)
    n = scratch.number()
    file = f"{source}:{table.name}:records"
    model = table.record_model()
    names = table.column_names
    problems = value_map_problems(table, batch.values)
    if problems:
        raise ConfigError(f"{file}: the `values` option: {'; '.join(problems)}")
    vocabularies = {
        c.name: vocabulary(table.name, c.name, batch.values.get(c.name))
        for c in table.columns
        if c.choices
    }
    types = {c.name: c.type for c in table.columns}
    good: list[tuple[Any, ...]] = []
    bad: list[tuple[Any, ...]] = []
    loaded_cells: list[tuple[Any, ...]] = []  # cells of good records loaded with a fallback
    files: set[str] = set()  # where the items were read from (the batch's report file)
    for offset, item in enumerate(batch.records):
        index = first_index + offset + 1
        if isinstance(item, Unparsable):
            files.add(fspath(item.file))
            bad.append((fspath(item.file), item.line, item.column, reported_reason(item.reason)))
            continue
        if isinstance(item, Located):
            record, where, line = item.record, fspath(item.file), item.line
        else:
            record, where, line = item, file, None
        files.add(where)
        fell_back: list[tuple[str, str]] = []
        checked = validate_record(record, table, model, vocabularies, types, fell_back)
        at = index if line is None else line
        if isinstance(checked, list):
            bad.extend((where, at, col, reason) for col, reason in checked)
            continue
        loaded_cells.extend((where, at, col, reason) for col, reason in fell_back)
        sid = (
            ":".join("" if checked[k] is None else str(checked[k]) for k in table.key)
            if table.key
            else None
        )
        good.append((*map(checked.__getitem__, names), sid, line, index, n, where))

    rec = scratch.name("TABLE", f"{n}_rec")
    cols = [f"{ident(c.name)} {DUCKDB_TYPES[c.type]}" for c in table.columns]
    cols += [
        "_source_id VARCHAR",
        "_line BIGINT",
        "_ord BIGINT",
        "_batch BIGINT",
        "_file VARCHAR",
    ]
    con.execute(f"CREATE TEMP TABLE {ident(rec)} ({', '.join(cols)})")
    if good:
        append_rows(con, rec, good)
    qt = scratch.new_quarantine_table(n, bad, loaded_cells)
    report = FileReport(source=source, table=table.name, file=batch_file(files, file), loaded=0)
    good_sql = (
        f"SELECT {', '.join(ident(c) for c in names)}, _source_id, _line, _ord, _batch, _file"
        f" FROM {ident(rec)}"
    )
    return Staged(n, table.name, report.file, good_sql, qt, report)


def batch_file(files: set[str], stream: str) -> str:
    """What the batch is reported as: the one file all its items were read from (``files``,
    the ``stream`` label for a bare record), else ``stream`` (items of several files)."""
    return next(iter(files)) if len(files) == 1 else stream


def reported_reason(reason: str) -> str:
    """A source's reason for an unparsable line as the quarantine keeps it: the first line,
    quoted text replaced by ``'...'``, at most :data:`REASON_MAX` characters (a slip that
    quotes the line's text does not put a value in the quarantine)."""
    first = reason.strip().splitlines()[0] if reason.strip() else "unparsable line"
    return QUOTED.sub("'...'", first)[:REASON_MAX]


def validate_record(
    record: Mapping[str, Any],
    table: Table,
    model: Any,
    vocabularies: Mapping[str, Mapping[str, str]],
    types: Mapping[str, str],
    fell_back: list[tuple[str, str]] | None = None,
) -> dict[str, Any] | list[tuple[str | None, str]]:
    """The record's canonical values, or its problems as (column, reason) without values.
    ``vocabularies`` maps each enumerated column's folded spellings to canonical values;
    ``types`` each column name to its type (looked up once per batch, not per value). An
    unknown value of a column with a fallback takes the fallback; (column, reason) of each
    such cell is appended to ``fell_back`` when the record is valid (else it is a problem)."""
    if not isinstance(record, Mapping):
        return [(None, "not a record (expected a mapping of column to value)")]
    clean: dict[str, Any] = {}
    problems: list[tuple[str | None, str]] = []
    noted: list[tuple[str, str]] = []  # cells that took their column's fallback
    for name, value in record.items():
        if isinstance(value, str):
            value = value.strip(BLANKS)
            if value == "":
                value = None
        if name not in types:
            problems.append((str(name), "unknown column"))
            continue
        if value is None and name in table.key:
            continue  # reported as missing below
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and types[name] == "text"
        ):
            value = str(value)  # an API's numeric id is text in the model
        if name in vocabularies and value is not None:
            canonical = vocabularies[name].get(fold(str(value)))
            if canonical is None:
                canonical = table.column(name).fallback
                if canonical is None:
                    problems.append((name, unknown_value_reason(table.name, name)))
                    continue
                noted.append((name, fallback_reason(table.name, name)))
            value = canonical
        clean[name] = value
    for key in table.key:
        if clean.get(key) is None:
            problems.append((key, f"missing key {key}"))
    held_back = [(col, unknown_value_reason(table.name, col)) for col, _ in noted]
    if problems:
        return problems + held_back
    try:
        obj = model.model_validate(clean)
    except ValidationError as e:
        seen: set[str | None] = set()
        for err in e.errors(include_url=False, include_input=False):
            loc = err.get("loc") or ()
            col = str(loc[0]) if loc else None
            if col in seen:
                continue
            seen.add(col)
            if col in types:
                if err.get("type") == "missing":
                    problems.append((col, f"missing key {col}"))
                else:
                    problems.append((col, type_reason(table.column(col))))
            else:
                problems.append((col, "unknown column"))
        return problems + held_back
    if fell_back is not None:
        fell_back.extend(noted)
    return obj.model_dump()
