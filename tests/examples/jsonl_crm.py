"""A JSON-lines CRM source: the example of a record source that quarantines at file and line.

The CRM exports one customer per line as a JSON object (JSON Lines, https://jsonlines.org/:
UTF-8, each line one JSON value, lines separated by ``\\n``) into files named
``customers*.jsonl``. Each record is yielded as ``Located(record, file, line)`` and each line
that is not a JSON object as ``Unparsable(file, line, reason)``, so the dealer finds a bad line
in the quarantine at the line their editor shows; a record that parses but is invalid (a missing
``id``, ``"perhaps"`` for a boolean) is quarantined by core at its line too.

How lines are counted and read (what a vendor gets wrong):

- Physical lines are split on ``\\n`` only, reading bytes. ``str.splitlines()`` also breaks on
  ``\\x85``, U+2028 and U+2029 (Python's docs, "str.splitlines"), which RFC 8259 (section 7)
  allows unescaped inside a JSON string, and on ``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``, control
  characters a broken line may hold: either way every later line number would shift.
  ``\\r\\n`` line ends work: the ``\\r`` is JSON whitespace (RFC 8259, section 2).
- A line that is not UTF-8 is that line's problem, not the file's (JSON Lines requires UTF-8).
  A byte order mark at the start is skipped (RFC 8259, section 8.1: parsers MAY ignore one).
- Blank lines hold no record and are skipped (the JSON Lines text does not allow them; a trailing
  newline at the end is allowed): they are counted, so later line numbers stay right.
- A record written over several lines (a pretty-printed object) is read as one record located
  at its first line: a line whose JSON runs out of text before the value ends is continued by
  the next ones, at most ``MAX_RECORD_LINES``. Continuing is kept only if it ends in a complete
  object; otherwise the first line alone is reported unparsable and reading resumes on the very
  next line, so a broken line never swallows the good lines after it.
- Reasons use ``json.JSONDecodeError.msg`` ("Expecting ',' delimiter") and the character
  position, never the text: CPython's ``json.decoder`` messages name the expected token only.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from dealersync import (
    ConfigError,
    ConnectorConfig,
    Located,
    RecordBatch,
    RecordItem,
    Source,
    Unparsable,
    hookimpl,
)

#: The plugin API versions this plugin is written for (checked when dealersync loads it).
DEALERSYNC_API = ">=1.0,<2"

#: The CRM's field names -> canonical customers columns; other fields are not loaded.
FIELDS: Mapping[str, str] = {
    "id": "customer_id",
    "first": "first_name",
    "last": "last_name",
    "email": "email",
    "mobile": "phone_mobile",
    "zip": "postal_code",
    "email_opt_in": "email_opt_in",
    "sms_opt_in": "sms_opt_in",
    "created": "created_at",
    "updated": "updated_at",
}
#: The most physical lines one record may span (a pretty-printed object).
MAX_RECORD_LINES = 200
BOM = b"\xef\xbb\xbf"

#: A physical line: its 1-based number and its text (None when it is not UTF-8).
Line = tuple[int, str | None]


class JsonlCrmConfig(ConnectorConfig):
    dir: str = Field(description="folder of the CRM's customers*.jsonl exports, relative to connectors.toml")
    page_size: int = Field(5000, ge=1, description="records per batch handed to core")


class JsonlCrm(Source):
    """Customers from a CRM's JSON-lines export."""

    name = "jsonl-crm"
    Config = JsonlCrmConfig
    config: JsonlCrmConfig

    def files(self) -> list[Path]:
        return sorted(self.context.resolve(self.config.dir).glob("customers*.jsonl"))

    def check(self) -> None:
        folder = self.context.resolve(self.config.dir)
        if not folder.is_dir():
            raise ConfigError(f"sources.{self.context.instance}.dir: {folder} is not a folder")
        if not self.files():
            raise ConfigError(f"sources.{self.context.instance}.dir: no customers*.jsonl in {folder}")

    def streams(self) -> list[str]:
        return ["customers"]

    def read(self, stream: str, state: dict[str, Any] | None) -> Iterator[RecordBatch]:
        for path in self.files():
            page: list[RecordItem] = []
            for item in self.items(path):
                page.append(item)
                if len(page) == self.config.page_size:
                    yield RecordBatch(stream, page)
                    page = []
            if page:
                yield RecordBatch(stream, page)

    def items(self, path: Path) -> Iterator[RecordItem]:
        """Each record of the file located at its first line, each bad line as unparsable."""
        for line, parsed, problem in json_values(physical_lines(path)):
            if problem is not None:
                yield Unparsable(path, line, problem)
            elif not isinstance(parsed, dict):
                yield Unparsable(path, line, "not a JSON object (expected one customer per line)")
            else:
                yield Located(canonical(parsed), path, line)


def canonical(crm: Mapping[str, Any]) -> dict[str, Any]:
    """The CRM's record under canonical column names (core validates the values)."""
    return {column: crm[field] for field, column in FIELDS.items() if field in crm}


def physical_lines(path: Path) -> Iterator[Line]:
    """The file's physical lines, numbered from 1: split on ``\\n`` only (binary reading does)."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            raw = raw.removesuffix(b"\n").removesuffix(b"\r")
            if number == 1:
                raw = raw.removeprefix(BOM)
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None


def json_values(lines: Iterable[Line]) -> Iterator[tuple[int, Any, str | None]]:
    """(first line, parsed value, None) per JSON value, (line, None, reason) per line that is not
    JSON (a value may be a string itself: it never stands for the reason)."""
    ahead: deque[Line] = deque()  # lines read to try continuing a record, not consumed yet
    source = iter(lines)
    while ahead or pull(source, ahead):
        number, text = ahead.popleft()
        if text is None:
            yield number, None, "invalid UTF-8 (JSON Lines files are UTF-8)"
            continue
        if not text.strip():
            continue
        value, error = decode(text)
        if error is None:
            yield number, value, None
            continue
        finished = continued(text, error, ahead, source)
        if finished is None:
            yield number, None, f"not valid JSON: {error.msg} (character {error.colno})"
            continue
        value, used = finished
        for _ in range(used):
            ahead.popleft()
        yield number, value, None


def continued(
    text: str, error: json.JSONDecodeError, ahead: deque[Line], source: Iterator[Line]
) -> tuple[Any, int] | None:
    """The value when the next lines finish the one ``text`` starts, with how many lines they
    are; None when they do not (the lines stay in ``ahead``, to be read on their own)."""
    taken = 0
    while needs_more(text, error) and taken < MAX_RECORD_LINES - 1:
        if taken == len(ahead) and not pull(source, ahead):
            return None
        more = ahead[taken][1]
        if more is None:
            return None
        text, taken = f"{text}\n{more}", taken + 1
        value, next_error = decode(text)
        if next_error is None:
            return value, taken
        error = next_error
    return None


def pull(source: Iterator[Line], ahead: deque[Line]) -> bool:
    """Read one more line into ``ahead``; False at the end of the file."""
    line = next(source, None)
    if line is None:
        return False
    ahead.append(line)
    return True


def decode(text: str) -> tuple[Any, json.JSONDecodeError | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        return None, e


def needs_more(text: str, error: json.JSONDecodeError) -> bool:
    """The text ended before the value did: only more lines can finish it."""
    return error.pos >= len(text.rstrip())


@hookimpl
def dealersync_register_sources() -> list[type[Source]]:
    return [JsonlCrm]
