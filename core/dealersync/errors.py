"""Error kinds. Each carries a message meant for the dealer, never a secret or raw PII.

The CLI prints ``error.message`` and, only with ``--debug``, the traceback. Connectors raise these
kinds; core decides what to do with each (``TransientError`` is retried, the others are not).
"""

from __future__ import annotations


class DealersyncError(Exception):
    """Base of every error dealersync reports to a user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(DealersyncError):
    """The configuration is wrong: names the table and key, what was found, what was expected."""

    exit_code = 2

    @property
    def messages(self) -> list[str]:
        """Each error as one line (several for :class:`ConfigErrors`)."""
        return [self.message]


class ConfigErrors(ConfigError):
    """Several configuration errors found in one pass (the preflight, a table with several bad
    keys), so a dealer fixes them all at once. ``messages``: one line each, naming its key."""

    def __init__(self, messages: list[str]) -> None:
        self._lines = list(dict.fromkeys(messages))  # in order, each once
        if len(self._lines) == 1:
            text = self._lines[0]
        else:
            text = f"{len(self._lines)} configuration errors:" + "".join(f"\n  {m}" for m in self._lines)
        super().__init__(text)

    @property
    def messages(self) -> list[str]:
        return list(self._lines)


class LayoutError(ConfigErrors):
    """An extract file's header does not fit how its table is configured to be read: a key
    column missing, a ``columns`` mapping naming a header the file lacks, title lines that split
    a record. Found from the file's first lines only, so the preflight can run it before any
    data moves. ``problems``: (option, reason) each, the option relative to the file's table
    (``columns.<column>``, ``skip_rows``, or None when the file itself is not what its table
    needs); ``messages`` prefix each reason with the file."""

    def __init__(self, file: str, problems: list[tuple[str | None, str]]) -> None:
        self.file = file
        self.problems = list(problems)
        super().__init__([f"{file}: {reason}" for _, reason in self.problems])


class AuthError(DealersyncError):
    """A credential is missing, expired or refused; the message says how to fix it."""


class TransientError(DealersyncError):
    """A failure worth retrying (rate limit, 5xx, timeout). ``retry_after`` in seconds if known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(DealersyncError):
    """A failure retrying will not fix; the run for this audience stops."""


class RejectedRecords(DealersyncError):
    """The platform refused some members; ``rejections`` maps member key to (code, reason)."""

    def __init__(self, message: str, rejections: dict[str, tuple[str, str]]) -> None:
        super().__init__(message)
        self.rejections = rejections


class PluginError(DealersyncError):
    """A plugin could not be used (broken import, connector-name clash)."""

    exit_code = 2
