"""Secrets live in the OS keyring (or the environment), never in ``connectors.toml``.

A connector setting written ``{ keyring = "meta_main" }`` or ``{ env = "META_TOKEN" }`` is
resolved here, when the connector is built, into the plain value its ``SecretStr`` field takes.
"""

from __future__ import annotations

import os
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, SecretStr

from dealersync.errors import ConfigError

KEYRING_SERVICE = "dealersync"


#: What may be a credential or raw PII inside a message: an e-mail address, a long run of digits
#: (a phone or card number), or a long token mixing letters and digits (an access token, an API
#: key). Masked by :func:`redact` before any error is printed or recorded.
_CREDENTIALISH = re.compile(
    r"[^\s@'\"]+@[^\s@'\"]+"  # e-mail address
    r"|(?<![\w.-])[+(]?\d[\d ().-]{8,}\d(?![\w.-])"  # a run of digits: a phone if it has 10 or more
    r"|(?<![\w.+=-])(?=[\w.+=-]*\d[\w.+=-]*\d[\w.+=-]*\d[\w.+=-]*\d)(?=[\w.+=-]*[A-Za-z][\w.+=-]*[A-Za-z])"
    r"[\w.+=-]{20,}"  # a token: 20+ characters with at least 4 digits and 2 letters (a path's parts pass)
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential or an identifier replaced by
    ``(hidden)``: for messages built from values nobody checked (a plugin's exception, an echoed
    config value). Paths, names and counts pass."""
    return _CREDENTIALISH.sub(_hide, text)


def _hide(match: re.Match[str]) -> str:
    found = match.group(0)
    if found[0] in "+(0123456789" and sum(c.isdigit() for c in found) < 10 and "@" not in found:
        return found  # a date, a count or a short code, not a phone number
    return "(hidden)"


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and set(value) <= {"keyring", "env"}


def _keyring() -> Any:
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return None
    return keyring


def _no_backend(where: str) -> ConfigError:
    return ConfigError(
        f"{where}: no keyring backend is available on this machine (a headless server?); "
        'store the secret in an environment variable and write { env = "VARIABLE_NAME" } instead'
    )


def secret_keys(model: type[BaseModel]) -> list[str]:
    """The fields of a connector's ``Config`` that hold a secret (typed ``SecretStr``, optional or not)."""
    keys = []
    for name, info in model.model_fields.items():
        kinds = typing.get_args(info.annotation) if isinstance(info.annotation, types.UnionType) or \
            typing.get_origin(info.annotation) is typing.Union else (info.annotation,)
        if SecretStr in kinds:
            keys.append(info.alias or name)
    return keys


def refuse_inline(options: dict[str, Any], model: type[BaseModel], where: str) -> None:
    """A secret written as a plain value in ``connectors.toml`` is refused with the fix (the value
    itself is never shown)."""
    for key in secret_keys(model):
        value = options.get(key)
        if value is not None and not is_reference(value):
            raise ConfigError(
                f"{where}.{key}: a secret is written in connectors.toml, where everyone who can read the"
                f" file, its copies and backups sees it; store it with `dealersync secrets set NAME` and write"
                f' {key} = {{ keyring = "NAME" }}, or keep it in an environment variable and write'
                f' {key} = {{ env = "VARIABLE" }} (to keep it in the file anyway: allow_inline_secrets = true'
                " at the top of connectors.toml)"
            )


def resolve(value: Any, where: str) -> Any:
    """The secret a reference points to; other values pass through unchanged."""
    if not is_reference(value):
        return value
    if "env" in value:
        var = str(value["env"])
        secret = os.environ.get(var)
        if not secret:
            raise ConfigError(f"{where}: environment variable {var} is not set; export it before running")
        return secret
    name = str(value["keyring"])
    kr = _keyring()
    if kr is None:
        raise _no_backend(where)
    secret = kr.get_password(KEYRING_SERVICE, name)
    if secret is None:
        raise ConfigError(
            f"{where}: secret '{name}' is not set in the keyring; run `dealersync secrets set {name}`"
        )
    return secret


def store(name: str, secret: str) -> None:
    kr = _keyring()
    if kr is None:
        raise _no_backend(f"secret '{name}'")
    kr.set_password(KEYRING_SERVICE, name, secret)


def delete(name: str) -> bool:
    """Remove a stored secret; False when there was none."""
    kr = _keyring()
    if kr is None:
        raise _no_backend(f"secret '{name}'")
    from keyring.errors import PasswordDeleteError

    try:
        kr.delete_password(KEYRING_SERVICE, name)
    except PasswordDeleteError:
        return False
    return True
