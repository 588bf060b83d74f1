"""Free text of the history (errors, warnings, rejection codes) with customer values taken out.

The engine writes no identifier into the run history, but a plugin's or a platform's message
might (a platform echoing the email it refused, a name in a vendor's error). The report may
leave the dealership by email, so before any free text reaches it:

* anything shaped like an email becomes ``[email]``;
* a run of 7 or more digits (spaces, dots, dashes, parentheses and ``+`` between them allowed),
  the shape of a phone number, becomes ``[number]``;
* a word (3 characters or more, not all digits) that is a word of any customer's first or last
  name, street address or city becomes ``[redacted]``: names have no shape to match, so the
  warehouse itself is the list of what must not appear;
* a campaign name of the customers' events found in the text becomes ``[redacted]`` (whole: its
  words alone, "service" or "offer", are ordinary words).

All texts of a report are checked in one set-oriented query per source.
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
#: Columns whose words must not appear in the report.
WORD_COLUMNS = ("first_name", "last_name", "address_line1", "city")
NOT_WORD = r"[^\pL\pN]"
REDACTED = "[redacted]"


def _shapes(text: str) -> str:
    return DIGITS.sub("[number]", EMAIL.sub("[email]", text))


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()
    return {r[0] for r in rows}


def customer_words(con: duckdb.DuckDBPyConnection, words: Iterable[str]) -> set[str]:
    """Which of ``words`` (lower case) are words of a customer's name, address or city."""
    wanted = sorted(set(words))
    columns = [c for c in WORD_COLUMNS if c in _columns(con, "customers")]
    if not wanted or not columns:
        return set()
    text = f"lower(concat_ws(' ', {', '.join(quote_ident(c) for c in columns)}))"
    rows = con.execute(
        f"""WITH wanted AS (SELECT unnest($wanted::VARCHAR[]) AS w),
                 hits AS (SELECT {text} AS t FROM customers WHERE regexp_matches({text}, $pattern))
            SELECT DISTINCT w FROM wanted WHERE w IN (SELECT unnest(regexp_split_to_array(t, $split)) FROM hits)""",
        {"wanted": wanted, "pattern": f"(^|{NOT_WORD})({'|'.join(wanted)})($|{NOT_WORD})", "split": f"{NOT_WORD}+"},
    ).fetchall()
    return {r[0] for r in rows}


def campaigns_in(con: duckdb.DuckDBPyConnection, texts: Iterable[str]) -> list[str]:
    """The events' campaign names (lower case) found in any of ``texts``, longest first."""
    texts = sorted({t.lower() for t in texts})
    if not texts or "campaign" not in _columns(con, "events"):
        return []
    rows = con.execute(
        "SELECT DISTINCT lower(e.campaign) FROM (SELECT DISTINCT campaign FROM events WHERE length(campaign) >= 3) AS e,"
        " (SELECT unnest(?::VARCHAR[]) AS t) AS x WHERE contains(x.t, lower(e.campaign))",
        [texts],
    ).fetchall()
    return sorted((r[0] for r in rows), key=len, reverse=True)


class Scrubber:
    """Cleans texts against one warehouse; give it every text first (:meth:`add`), then ask."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._texts: set[str] = set()
        self._found: tuple[set[str], re.Pattern[str] | None] | None = None

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
            shaped = [_shapes(t) for t in self._texts]
            words = customer_words(self._con, {w.lower() for t in shaped for w in WORD.findall(t)})
            campaigns = campaigns_in(self._con, shaped)
            phrases = re.compile("|".join(map(re.escape, campaigns)), re.IGNORECASE) if campaigns else None
            self._found = (words, phrases)
        words, phrases = self._found
        out = _shapes(text)
        if phrases is not None:
            out = phrases.sub(REDACTED, out)
        return WORD.sub(lambda m: REDACTED if m.group(0).lower() in words else m.group(0), out)
