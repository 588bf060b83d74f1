"""Phone numbers: a SQL fast path for North American numbers, phonenumbers for the rest.

The canonical form every phone profile starts from is the E.164 number without its ``+``
(``18005550100``, ``442079460958``): country code then national number, digits only, never a
leading zero. Meta sends exactly that; Google puts a ``+`` in front.

With a North American default country (US, CA, PR, ...) the engine handles, in SQL:

* an extension at the end (``x123``, ``ext. 12``, ``extension 5``, ``#12``, ``;ext=12``) is dropped;
* everything but digits is dropped (symbols, spaces, letters);
* an international prefix is read: a leading ``+``, or ``011`` / ``00`` before the digits;
* with country code 1 (or no international prefix), an optional leading ``1`` is dropped and
  the remaining 10 digits must have the NANP shape ``[2-9]XX [2-9]XX XXXX`` (555 numbers have
  it: they are *possible*, which is the rule; ``123-456-7890`` does not, and 7-digit local
  numbers are refused too: without an area code a platform cannot match them).

Only numbers written with an international prefix and a country code other than 1 leave SQL:
their distinct digit strings are parsed by :func:`e164_digits` in Python (phonenumbers: kept
when *possible*, not necessarily *valid*). With a default country outside North America every
non-empty number takes the Python path, parsed in that country.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

#: An extension written at the end of a phone number (RE2, case-insensitive).
EXTENSION_RE = r"(?i)[\s,;]*(?:;?\s*ext\s*=|ext(?:ension)?\.?|x|#)\s*\d+\s*$"
#: The national number of a North American number: area code, exchange, line.
NANP_RE = r"[2-9][0-9]{2}[2-9][0-9]{6}"
_NANP = re.compile(NANP_RE)


def prepare_sql(col: str) -> str:
    """Select-list fragment for one phone column ``col`` (a trimmed VARCHAR, NULL when blank):
    the helper columns ``<col>__d`` (digits, extension dropped) and ``<col>__plus`` (written
    with a leading ``+``). Materialize it: :func:`stage_sql` reads each helper several times."""
    x = _q(col)
    # the extension regex only runs where an extension can be (a letter, # or ;)
    no_ext = f"(CASE WHEN regexp_matches({x}, '[A-Za-z#;]') THEN regexp_replace({x}, '{EXTENSION_RE}', '') ELSE {x} END)"
    return (
        f"regexp_replace({no_ext}, '[^0-9]', '', 'g')"
        f" AS {_q(col + '__d')}, starts_with({x}, '+') AS {_q(col + '__plus')}"
    )


def stage_sql(col: str, *, nanp_default: bool, prefix: str = "") -> tuple[str, str]:
    """SQL over the helper columns of :func:`prepare_sql` (qualified by ``prefix``).

    Returns ``(fast, python_key)``: ``fast`` is the canonical digits or NULL; ``python_key`` is
    the string to hand to :func:`e164_digits` when SQL cannot decide, NULL otherwise.
    """
    d = prefix + _q(col + "__d")
    plus = prefix + _q(col + "__plus")
    if not nanp_default:
        key = f"CASE WHEN {d} <> '' THEN (CASE WHEN {plus} THEN '+' ELSE '' END) || {d} END"
        return "CAST(NULL AS VARCHAR)", key
    # digits after an international prefix; NULL when the number has none
    rest = (
        f"(CASE WHEN {plus} THEN {d} WHEN {d} LIKE '011%' THEN substr({d}, 4)"
        f" WHEN {d} LIKE '00%' THEN substr({d}, 3) END)"
    )
    national = (
        f"(CASE WHEN {rest} IS NOT NULL THEN (CASE WHEN {rest} LIKE '1%' THEN substr({rest}, 2) END)"
        f" WHEN length({d}) = 11 AND {d} LIKE '1%' THEN substr({d}, 2)"
        f" WHEN length({d}) = 10 THEN {d} END)"
    )
    fast = f"CASE WHEN regexp_full_match({national}, '{NANP_RE}') THEN '1' || {national} END"
    key = f"CASE WHEN {rest} <> '' AND {rest} NOT LIKE '1%' THEN '+' || {rest} END"
    return fast, key


def e164_digits(key: str, region: str) -> str | None:
    """The canonical digits (E.164 without ``+``) of one number, or None when not *possible*.

    ``key`` is digits, with a leading ``+`` when the number was written internationally.
    Numbers possible only locally (no area code) are refused: a platform cannot match them.
    """
    try:
        number = phonenumbers.parse(key, region)
    except NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
        return None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
    if number.country_code == 1 and not _NANP.fullmatch(e164[1:]):
        return None  # same rule as the SQL fast path
    return e164


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
