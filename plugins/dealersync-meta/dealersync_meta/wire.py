"""How a Marketing API request carries its parameters: the official Python SDK's shape.

Meta's reference lists each edge's parameters but not where a ``DELETE`` carries them; the
official SDK decides (facebook/facebook-python-business-sdk, ``facebook_business/api.py``,
``FacebookAdsApi.call`` and ``_top_level_param_json_encode``):

* every top-level parameter that is a dict, list or bool is JSON-encoded
  (``json.dumps(value, sort_keys=True, separators=(',', ':'))``), strings and numbers as they are;
* ``GET`` and ``DELETE`` send the parameters in the URL query string (``params=``), every other
  method as a form body (``data=``). ``CustomAudienceMixin.remove_users``
  (``adobjects/helpers/customaudiencemixin.py``) therefore puts the whole removal payload in the
  URL.

So a removal's size is bounded by the URL, not by Meta's 10,000 rows. Meta documents no URL
limit; users report removals through the SDK failing once the URL grows past roughly 150-180 KB
(facebook/facebook-python-business-sdk#367: single-key rows fail near 2,500 and pass under 2,000;
#717: fail at 300 multi-key rows, pass at 250; facebook/facebook-java-business-sdk#179: Meta
support confirmed a DELETE's payload is in the URL and too long a URL fails). :data:`DELETE_URL_BYTES`
keeps every removal URL well under that, and under 64 KiB, a common request-line cap (Python's
``http.server`` refuses a longer one with 414).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

#: Longest removal URL sent (bytes, scheme to last query byte): ~100 rows of 8 hashed keys.
DELETE_URL_BYTES = 60_000


def encode_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level parameters as the SDK sends them: dicts, lists and bools JSON-encoded."""
    return {
        key: json.dumps(value, sort_keys=True, separators=(",", ":"))
        if isinstance(value, dict | list | tuple | bool)
        else value
        for key, value in params.items()
    }


#: What ``quote_plus`` leaves as it is (``urllib.parse``: letters, digits, ``_.-~``); a space
#: becomes ``+``, every other byte ``%XX``.
_UNQUOTED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_UNQUOTED_CHARS = frozenset(_UNQUOTED.decode())


def quoted_length(text: str) -> int:
    """``len(quote_plus(text))`` without building it (quoting is slow, per character, in Python:
    sizing 30,000 removal rows that way took seconds)."""
    raw = text.encode()
    quoted = raw.translate(None, _UNQUOTED)  # the bytes that are not left as they are
    return len(raw) + 2 * (len(quoted) - quoted.count(b" "))


def query_string(params: Mapping[str, Any]) -> str:
    """``urlencode(encode_params(params))``, the query string ``requests`` would build, at C speed
    for ASCII values (a removal's JSON of hex digests): ``quote_plus`` runs per character in
    Python, seconds for the URLs of 30,000 removals."""
    return "&".join(f"{_quote_plus(str(k))}={_quote_plus(str(v))}" for k, v in encode_params(params).items())


def _quote_plus(text: str) -> str:
    """``quote_plus(text)``: for ASCII, one ``str.replace`` per distinct character to quote
    (a few in JSON: ``[]",:{}``), ``%`` first and the space (``+``) last."""
    if not text.isascii():
        return quote_plus(text)
    quoted = set(text) - _UNQUOTED_CHARS
    for ch in sorted(quoted, key=lambda c: (c != "%", c == " ")):
        text = text.replace(ch, "+" if ch == " " else f"%{ord(ch):02X}")
    return text


def url_length(url: str, params: Mapping[str, Any]) -> int:
    """Bytes of ``url`` with ``params`` in its query string, as ``requests`` builds it."""
    return len(url) + 1 + len(query_string(params))


def split_rows_for_url(
    url: str, params_for: Any, rows: Sequence[Sequence[str]], limit: int = DELETE_URL_BYTES
) -> list[tuple[int, int]]:
    """``(start, end)`` slices of ``rows`` whose request URL stays within ``limit`` bytes.

    ``params_for(rows)`` builds the request's parameters around a slice of rows. A row adds its
    URL-encoded JSON plus an encoded comma; the fixed part is measured with no rows, then each
    slice is measured exactly before it is returned.
    """
    fixed = url_length(url, params_for([]))
    sizes = [quoted_length(json.dumps(list(r), separators=(",", ":"))) + 3 for r in rows]
    slices: list[tuple[int, int]] = []
    start, used = 0, fixed
    for i, size in enumerate(sizes):
        if i > start and used + size > limit:
            slices.append((start, i))
            start, used = i, fixed
        used += size
    if start < len(rows):
        slices.append((start, len(rows)))
    for s, e in slices:
        length = url_length(url, params_for(rows[s:e]))
        if length > limit:
            raise ValueError(f"one row alone makes a {length}-byte URL; the limit is {limit}")
    return slices


__all__ = ["DELETE_URL_BYTES", "encode_params", "query_string", "quoted_length", "split_rows_for_url", "url_length"]
