"""Numbers as DMS report writers write them, converted in SQL.

A decimal column accepts a plain number (``1234.56``, ``-5``, ``1e3``) and money as report
writers print it: a currency sign before or after the number (``$``, ``€``, ``£``),
thousands separators in groups of three (``1,234.56``), and a negative amount as ``-5``,
``-$5``, ``$-5``, ``(12.00)``, ``($12.00)`` or with a trailing minus (``12.00-``), with spaces
between the parts. Report writers offer all three negative styles: Crystal Reports' number
format has "-1.23", "1.23-" and "(1.23)" (SAP Crystal Reports Designer Guide, *Negatives*);
Infor's report formats list "(1000.00), -1000, 1000-". Whether a given Reynolds or CDK report
uses the trailing minus depends on the report; no vendor documentation was found, so all
three are accepted everywhere.

With ``decimal_separator = ","`` (an option of the extract) the roles swap: ``1.234,56`` and
``12,50 €``. The separators are never guessed from the values: ``1,234`` is one thousand two
hundred thirty-four unless the option says the comma is the decimal separator.

Plain numbers take a fast path (one cast); only values that are not plain numbers go through
the pattern. A whole-number column also accepts thousands separators (``45,123`` miles) but
no currency sign.
"""

from __future__ import annotations

from dealersync.loading.sql import literal

_CURRENCY = "[$€£]"


def _pattern(separator: str) -> str:
    """RE2 pattern of a money value whose decimal separator is ``separator``."""
    thousands = "," if separator == "." else r"\."
    dec = r"\." if separator == "." else ","
    n = f"(?:[0-9]{{1,3}}(?:{thousands}[0-9]{{3}})+|[0-9]+)(?:{dec}[0-9]*)?|{dec}[0-9]+"
    n = f"(?:{n})"
    c = f"{_CURRENCY}?"
    forms = [
        rf"\( *{c} *{n} *{c} *\)",  # (12.00)  ($12.00)
        rf"[-+]? *{c} *{n} *{c}",  # -12  -$12  $12  12 €
        rf"{_CURRENCY} *[-+] *{n}",  # $-12
        rf"{c} *{n} *{c} *-",  # 12.00-  $12.00-
    ]
    return "|".join(forms)


def decimal_sql(t: str, separator: str = ".") -> str:
    """SQL converting the trimmed text ``t`` to a DOUBLE (NULL when it is not a number)."""
    if separator == ".":
        plain = f"TRY_CAST({t} AS DOUBLE)"
    else:
        plain = (
            f"CASE WHEN NOT contains({t}, '.')"
            f" THEN TRY_CAST(replace({t}, ',', '.') AS DOUBLE) END"
        )
    # The usual money value ($1,234.56) loses its $ by replace(); the rest (signs, other
    # currencies, spaces, parentheses) by a regexp_replace, which costs more (measured on
    # 5M "$" values, 2 threads: 1.4 s, against 3.2 s when every value took the regexp;
    # plain numbers stop at the cast: 0.25 s, as before).
    dollars = _number(f"replace({t}, '$', '')", separator)
    others = _number(f"regexp_replace({t}, '[^0-9.,]', '', 'g')", separator)
    negative = f"(contains({t}, '-') OR contains({t}, '('))"
    money = (
        f"CASE WHEN regexp_full_match({t}, {literal(_pattern(separator))})"
        f" THEN CASE WHEN regexp_full_match({t}, '[$0-9.,]+') THEN {dollars}"
        f" ELSE CASE WHEN {negative} THEN -1 ELSE 1 END * {others} END END"
    )
    # coalesce evaluates the money pattern only for the values the cast did not take
    return f"coalesce({plain}, {money})"


def _number(text: str, separator: str) -> str:
    """SQL: ``text`` (digits and separators only, as the pattern checked them) as a DOUBLE."""
    if separator == ".":
        return f"TRY_CAST(replace({text}, ',', '') AS DOUBLE)"
    return f"TRY_CAST(replace(replace({text}, '.', ''), ',', '.') AS DOUBLE)"


def integer_sql(t: str, separator: str = ".") -> str:
    """SQL converting the trimmed text ``t`` to a BIGINT (NULL when it is not a whole number):
    digits with an optional sign, a zero fraction (``12.0``), or thousands separators."""
    thousands, group = (",", ",") if separator == "." else (".", r"\.")
    fraction = r"\.0*" if separator == "." else ",0*"
    grouped = f"[+-]?[0-9]{{1,3}}(?:{group}[0-9]{{3}})+"
    return (
        f"CASE WHEN regexp_full_match({t}, '[+-]?[0-9]+') THEN TRY_CAST({t} AS BIGINT)"
        f" WHEN regexp_full_match({t}, {literal('[+-]?[0-9]+' + fraction)})"
        f" THEN TRY_CAST(split_part({t}, {literal(separator)}, 1) AS BIGINT)"
        f" WHEN regexp_full_match({t}, {literal(grouped)})"
        f" THEN TRY_CAST(replace({t}, {literal(thousands)}, '') AS BIGINT) END"
    )
