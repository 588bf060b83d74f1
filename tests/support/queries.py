"""What a test reads back from a warehouse after a load."""

from __future__ import annotations

from dealersync.store import Warehouse

QUARANTINE_COLUMNS = ("line", "column", "reason")


def quarantine(
    wh: Warehouse,
    columns: tuple[str, ...] = QUARANTINE_COLUMNS,
    *,
    order: tuple[str, ...] = ("line", "column"),
    source: str | None = None,
) -> list[tuple]:
    """Rows of ``_quarantine`` (only ``source``'s when given): ``columns``, sorted by ``order``."""
    sql = f"SELECT {_names(columns)} FROM _quarantine"
    params: list[str] = []
    if source is not None:
        sql += " WHERE source = ?"
        params.append(source)
    return wh.con.execute(f"{sql} ORDER BY {_names(order)}", params).fetchall()


def _names(columns: tuple[str, ...]) -> str:
    return ", ".join(f'"{c}"' for c in columns)
