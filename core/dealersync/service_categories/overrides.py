"""The op-code file: written by ``dealersync opcodes --csv``, edited by the dealer, read back.

One row per op code with what the warehouse holds about it (lines, customers, revenue, the lines
no rule categorizes, last seen, the categories the rules give and the rule that decided each) and
an empty ``set_category`` column. The dealer fills ``set_category`` (``tires``, ``oil; rotation``, or ``none`` for no
category) where the rules are wrong or silent, and names the file in ``connectors.toml``::

    [service_categories]
    opcodes_file = "opcodes.csv"

Its filled rows are then exact op-code overrides (the first layer). Rows with an empty
``set_category`` change nothing; the other columns are for reading only. Writing the file again
keeps the ``set_category`` values the file already has (and their rows, even for op codes no
longer seen), so the dealer's edits survive a rerun.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dealersync.errors import ConfigError

#: The column the dealer fills.
SET_COLUMN = "set_category"
#: The columns of the file, in order.
COLUMNS: tuple[str, ...] = (
    "op_code",
    "description",
    "lines",
    "customers",
    "revenue",
    "uncategorized_lines",
    "last_seen",
    "categories",
    "decided_by",
    SET_COLUMN,
)


def read_overrides(path: Path) -> dict[str, tuple[str, ...]]:
    """The filled ``set_category`` rows of the file: op code (upper case) -> categories."""
    from dealersync.service_categories.rules import parse_categories

    where = f"service_categories.opcodes_file ({path})"
    rows = _read_rows(path, where)
    found: dict[str, tuple[str, ...]] = {}
    for line, row in rows:
        value = (row.get(SET_COLUMN) or "").strip()
        if not value:
            continue
        code = (row.get("op_code") or "").strip().upper()
        if not code:
            raise ConfigError(f"{where} line {line}, column op_code: empty, expected the op code")
        found[code] = parse_categories(f"{where} line {line}, column {SET_COLUMN}", value)
    return found


def _read_rows(path: Path, where: str) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file (write one with 'dealersync opcodes --csv FILE')") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8; save it as 'CSV UTF-8'") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    for needed in ("op_code", SET_COLUMN):
        if needed not in header:
            raise ConfigError(f"{where}: no column {needed!r} in the header line (found: {', '.join(header)})")
    return [(reader.line_num, row) for row in reader]


def write_overrides_file(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write ``rows`` (keys: :data:`COLUMNS` but ``set_category``) to ``path``, keeping the
    ``set_category`` values (and rows) the file at ``path`` already has. Returns rows written."""
    kept = _kept_settings(path)
    out: list[Sequence[Any]] = []
    for row in rows:
        code = str(row["op_code"])
        out.append([row.get(c, "") for c in COLUMNS[:-1]] + [kept.pop(code.upper(), "")])
    for code, value in kept.items():  # overrides of op codes no longer seen
        out.append([code] + [""] * (len(COLUMNS) - 2) + [value])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows(out)
    return len(out)


def _kept_settings(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    rows = _read_rows(path, str(path))
    return {
        (r.get("op_code") or "").strip().upper(): (r.get(SET_COLUMN) or "").strip()
        for _, r in rows
        if (r.get(SET_COLUMN) or "").strip() and (r.get("op_code") or "").strip()
    }
