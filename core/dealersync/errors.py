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
