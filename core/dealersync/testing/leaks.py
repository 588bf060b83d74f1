"""Finding planted secrets and raw personal data where they must never be: logs and errors.

The kit plants values it knows (the sample config's secrets, the test people's emails, phones
and names) and looks for them in everything a connector leaves behind:

* :func:`capture_logs`: every record logged anywhere while a path runs (the root logger at
  DEBUG, loggers that set their own level or do not propagate included), as the text a handler
  would write: the message with its arguments, the traceback of ``exc_info``, the stack, and
  any ``extra`` attribute;
* :func:`error_texts`: an error and everything it carries: its message, ``args``, attributes
  (``rejections``, a partial failure's details), notes, and the errors in its ``__cause__`` /
  ``__context__`` chain, which a traceback or an error tracker prints even when the message is
  clean.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

#: Attributes every LogRecord has; anything else came in through ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


@dataclass(frozen=True)
class Leak:
    """A planted value found: what it is (``label``), where (``where``) and the text around it."""

    label: str
    where: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.label} {self.where}: {self.excerpt}"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class LogCapture:
    """The records logged during :func:`capture_logs`, each as ``(where, text)``."""

    def __init__(self, handler: _Collect) -> None:
        self._handler = handler

    @property
    def records(self) -> list[logging.LogRecord]:
        return list(self._handler.records)

    def __len__(self) -> int:
        return len(self._handler.records)

    def texts(self, since: int = 0) -> list[tuple[str, str]]:
        """``(where, text)`` of the records from the ``since``-th on."""
        return [(f"by '{r.name}' ({r.levelname})", record_text(r)) for r in self._handler.records[since:]]


@contextmanager
def capture_logs() -> Iterator[LogCapture]:
    """Capture every log record at DEBUG and above, from any logger, while the block runs."""
    handler = _Collect()
    root = logging.getLogger()
    loggers = [root, *(lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    levels = {lg: lg.level for lg in loggers}
    detached = [lg for lg in loggers if not lg.propagate]
    disabled = {lg: lg.disabled for lg in loggers}
    for lg in loggers:
        lg.disabled = False
        if lg.level > logging.DEBUG:
            lg.setLevel(logging.DEBUG)
    root.setLevel(logging.DEBUG)
    for lg in [root, *detached]:
        lg.addHandler(handler)
    previous_disable = logging.root.manager.disable
    logging.disable(logging.NOTSET)
    try:
        yield LogCapture(handler)
    finally:
        logging.disable(previous_disable)
        for lg in [root, *detached]:
            lg.removeHandler(handler)
        for lg, level in levels.items():
            lg.setLevel(level)
            lg.disabled = disabled[lg]


def record_text(record: logging.LogRecord) -> str:
    """What a handler could write for ``record``: message, traceback, stack, ``extra`` values."""
    try:
        parts = [record.getMessage()]
    except Exception:  # a record whose arguments do not fit its format: show both
        parts = [str(record.msg), repr(record.args)]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
        parts += [text for _, text in error_texts(record.exc_info[1])]
    if record.stack_info:
        parts.append(record.stack_info)
    parts += [f"{k}={v!r}" for k, v in vars(record).items() if k not in _RECORD_FIELDS]
    return "\n".join(parts)


def error_texts(error: BaseException) -> list[tuple[str, str]]:
    """Every text ``error`` carries, as ``(which error, text)``: itself, then the errors of its
    ``__cause__`` / ``__context__`` chain, named by the link (``its __cause__ (HTTPError)``)."""
    texts: list[tuple[str, str]] = []
    seen: set[int] = set()
    todo: list[tuple[str, BaseException]] = [(type(error).__name__, error)]
    while todo:
        name, exc = todo.pop(0)
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        own = [f"{type(exc).__name__}: {exc}", *map(repr, exc.args), *getattr(exc, "__notes__", [])]
        own += [f"{k}={v!r}" for k, v in vars(exc).items() if not k.startswith("__")]
        texts += [(name, t) for t in own]
        todo += [(f"{name}.{link} ({type(e).__name__})", e)
                 for link, e in (("__cause__", exc.__cause__), ("__context__", exc.__context__)) if e is not None]
    return texts


def find_leaks(texts: list[tuple[str, str]], secrets: Mapping[str, str], pii: Mapping[str, str]) -> list[Leak]:
    """Each planted value (value -> what it is) found in ``texts`` ((where, text) pairs).

    Secrets are matched as they are, personal data in any letter case."""
    leaks: list[Leak] = []
    for where, text in texts:
        low = text.lower()
        found = [(text.find(v), v, label) for v, label in secrets.items()]
        found += [(low.find(v.lower()), v, label) for v, label in pii.items()]
        leaks += [Leak(label, where, _excerpt(text, at, len(v))) for at, v, label in found if at >= 0]
    return leaks


def _excerpt(text: str, at: int, length: int) -> str:
    start, end = max(0, at - 60), min(len(text), at + length + 60)
    return repr(("…" if start else "") + text[start:end] + ("…" if end < len(text) else ""))


def secret_labels(secrets: Mapping[str, str]) -> dict[str, str]:
    """Secret values (config field -> value) as planted values: value -> "the secret config
    field 'x'"; the URL-encoded form too, as a secret travels in a query string."""
    from urllib.parse import quote, quote_plus

    out: dict[str, str] = {}
    for field, value in secrets.items():
        for form in {value, quote(value, safe=""), quote_plus(value)}:
            out[form] = f"the secret config field '{field}'"
    return out


__all__ = ["Leak", "LogCapture", "capture_logs", "error_texts", "find_leaks", "record_text", "secret_labels"]
