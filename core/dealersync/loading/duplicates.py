"""Repeated keys across all the batches of one table.

The first row (in staging order, then file order) is kept; later ones are quarantined as
``duplicate of line N`` (``of <file>`` when the first came from another file; ``duplicate of
record N`` for records). Only rows that passed the per-row checks take part, so a row that is
quarantined for a bad date does not shadow a later good row with the same key.
"""

from __future__ import annotations

from dealersync.loading.sql import ident
from dealersync.loading.staging import Scratch
from dealersync.model import Table

#: SQL over a duplicates row ``d``: its quarantine reason, naming the first row's line (or
#: record number), and its file if it came from another one.
DUPLICATE_REASON = (
    "CASE WHEN d._line IS NULL OR d.first_line IS NULL"
    " THEN 'duplicate of record ' || (d.first_ord)::VARCHAR"
    " WHEN d.first_file = d._file THEN 'duplicate of line ' || d.first_line::VARCHAR"
    " ELSE 'duplicate of line ' || d.first_line::VARCHAR || ' of ' || d.first_file END"
)
#: SQL over a duplicates row ``d``: its quarantine line (for records, _ord is the 1-based
#: record number already).
DUPLICATE_LINE = "coalesce(d._line, d._ord)"


def find_duplicates(scratch: Scratch, table: Table, rows: str, n: int) -> str:
    """A temp table of the rows of view ``rows`` whose key an earlier row holds:
    ``(_batch, _ord, _file, _line, first_line, first_ord, first_file)``."""
    dups = scratch.name("TABLE", f"{n}_dups")
    if not table.key:
        scratch.con.execute(
            f"CREATE TEMP TABLE {ident(dups)} (_batch BIGINT, _ord BIGINT, _file VARCHAR,"
            " _line BIGINT, first_line BIGINT, first_ord BIGINT, first_file VARCHAR)"
        )
        return dups
    keys = ", ".join(ident(k) for k in table.key)
    scratch.con.execute(
        f"CREATE TEMP TABLE {ident(dups)} AS"
        f" WITH k AS (SELECT {keys} FROM {ident(rows)} GROUP BY ALL HAVING count(*) > 1),"
        f" d AS (SELECT a._batch, a._ord, a._file, a._line,"
        f"  row_number() OVER w AS rn,"
        f"  first_value(a._line) OVER w AS first_line,"
        f"  first_value(a._ord) OVER w AS first_ord,"
        f"  first_value(a._file) OVER w AS first_file"
        f"  FROM {ident(rows)} a SEMI JOIN k USING ({keys})"
        f"  WINDOW w AS (PARTITION BY {', '.join('a.' + ident(k) for k in table.key)}"
        f"  ORDER BY a._batch, a._ord))"
        f" SELECT * EXCLUDE (rn) FROM d WHERE rn > 1"
    )
    return dups
