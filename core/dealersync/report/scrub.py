"""Free text of the history (errors, warnings, rejection codes) with customer values taken out.

The engine writes no identifier into the run history, but a plugin's or a platform's message
might (a platform echoing the email it refused, a name in a vendor's error). The report may
leave the dealership by email, so before any free text reaches it:

* anything shaped like an email becomes ``[email]``;
* a run of 7 or more digits (spaces, dots, dashes, parentheses and ``+`` between them allowed),
  the shape of a phone number, becomes ``[number]``;
* a word (3 characters or more, not all digits) that is a word of any customer's first or last name, street
  address or city in the warehouse becomes ``[redacted]``: names have no shape to match, so the
  customers table itself is the list of what must not appear. One set-oriented query for all
  the texts of a report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import duckdb

from dealersync.store import quote_ident

EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
DIGITS = re.compile(r"\+?\(?\d(?:[\s().-]*\d){6,}\)?")
#: A word that could be part of a name: 3 or more letters and digits, at least one a letter
#: (a house number alone names nobody, and "100 people" must stay readable).
WORD = re.compile(r"(?=[^\W_]*[^\W\d_])[^\W_]{3,}")
#: The customers columns whose words must not appear in the report.
NAME_COLUMNS = ("first_name", "last_name", "address_line1", "city")


def _shapes(text: str) -> str:
    return DIGITS.sub("[number]", EMAIL.sub("[email]", text))


def customer_words(con: duckdb.DuckDBPyConnection, words: Iterable[str]) -> set[str]:
    """Which of ``words`` (lower case) are words of a customer's name, address or city."""
    wanted = sorted(set(words))
    if not wanted:
        return set()
    have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'customers'").fetchall()}
    columns = [c for c in NAME_COLUMNS if c in have]
    if not columns:
        return set()
    text = f"lower(concat_ws(' ', {', '.join(quote_ident(c) for c in columns)}))"
    not_word = r"[^\pL\pN]"
    rows = con.execute(
        f"""WITH wanted AS (SELECT unnest(?::VARCHAR[]) AS w),
                 hits AS (SELECT {text} AS t FROM customers WHERE regexp_matches({text}, ?))
            SELECT DISTINCT w FROM wanted WHERE w IN (SELECT unnest(regexp_split_to_array(t, ?)) FROM hits)""",
        [wanted, f"(^|{not_word})({'|'.join(wanted)})($|{not_word})", f"{not_word}+"],
    ).fetchall()
    return {r[0] for r in rows}


class Scrubber:
    """Cleans texts against one warehouse; give it every text first (:meth:`add`), then ask."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._texts: set[str] = set()
        self._found: set[str] | None = None

    def add(self, texts: Iterable[str | None]) -> None:
        self._texts.update(t for t in texts if t)
        self._found = None

    def clean(self, text: str | None) -> str:
        """``text`` without customer values (an empty string for None)."""
        if not text:
            return ""
        if text not in self._texts:
            self.add([text])
        if self._found is None:
            words = {w.lower() for t in self._texts for w in WORD.findall(_shapes(t))}
            self._found = customer_words(self._con, words)
        found = self._found
        return WORD.sub(lambda m: "[redacted]" if m.group(0).lower() in found else m.group(0), _shapes(text))
