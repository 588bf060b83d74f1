"""Meta Graph API error bodies turned into dealersync error kinds.

Meta answers an error with ``{"error": {"message", "type", "code", "error_subcode",
"is_transient", "fbtrace_id", ...}}``, usually with HTTP 400 whatever the cause, so the code decides,
not the status. The decisions (see the README's "Errors" table):

* ``4``, ``17``, ``613``, ``80003`` (and subcodes ``2446079``, ``1487742``): throttling, retried
  (``TransientError``), waiting as long as ``Retry-After`` or the ``X-Business-Use-Case-Usage``
  header's ``estimated_time_to_regain_access`` (minutes) says;
* ``1``, ``2`` and any error Meta flags ``is_transient``: retried;
* ``190`` (token invalid, expired, revoked): ``AuthError`` saying how to store a new token;
* ``10``, ``200``-``299`` (permissions): ``AuthError`` saying which permission is missing;
* ``2650`` "Failed to update the custom audience": retried, because Meta gives it for failures on
  its side and re-sending a batch is harmless (add and remove are idempotent); *except* subcode
  ``1870147`` (the session's first ``batch_seq`` was not seen), which retrying the same request
  cannot fix: ``FatalError``;
* ``100`` with subcode ``1713230`` (audience upload blocked, a flagged audience): ``FatalError``;
  Meta documents it (Custom Audience reference, ``usersreplace`` edge: "Audience Upload Blocked");
* a removal Meta refuses because the audience would fall under its minimum size:
  :class:`AudienceTooSmall`. Meta documents neither the code nor the floor; users report the
  message "Audience Size too low: You cannot remove users from this audience because it will
  result in a low audience size" (grouparoo/grouparoo#1108; Braze's audience-sync FAQ,
  braze-inc/braze-docs#9623, "Audience Size Too Low"), so it is recognised by that text;
* everything else: ``FatalError`` with Meta's code and message.

Meta's messages describe the error, they do not echo the request's payload; even so a message is
shortened, anything shaped like an e-mail address or a long hex/digit string is masked, and the
access token is masked if it ever appeared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import requests
from dealersync import AuthError, DealersyncError, FatalError, TransientError

THROTTLE_CODES = frozenset({4, 17, 613, 80003})
THROTTLE_SUBCODES = frozenset({2446079, 1487742})
SERVICE_CODES = frozenset({1, 2})
TOKEN_CODE = 190
PERMISSION_CODES = frozenset({10, *range(200, 300)})
FAILED_UPDATE = 2650
SUBCODE_FIRST_BATCH_MISSING = 1870147
SUBCODE_UPLOAD_BLOCKED = 1713230
#: "Unsupported get request. Object with ID ... does not exist" (error 100, subcode 33): the Graph
#: API's answer for a deleted or unknown object (Graph API error reference: code 100 is an invalid
#: parameter; subcode 33 as developers report it for a missing object, not in the reference).
SUBCODE_NO_OBJECT = 33
#: The text of Meta's small-audience removal refusal, as users report it (no documented code).
_TOO_SMALL = re.compile(r"audience size (?:is )?too low|low audience size", re.IGNORECASE)

TOKEN_FIX = (
    "the Meta access token was refused; create a new system-user token (Business Settings > System"
    " users > Generate new token, with ads_management) and store it with `dealersync secrets set NAME`"
)
PERMISSION_FIX = (
    "the Meta access token lacks a permission for this ad account; give the system user the"
    " ads_management permission and assign it the ad account (Business Settings > Ad accounts >"
    " Assign people), and accept the Custom Audience terms for the account"
)

_MAX_MESSAGE = 160
_EMAILISH = re.compile(r"\S+@\S+")
_LONG_TOKENS = re.compile(r"\b[0-9a-fA-F]{16,}\b|\b\d{7,}\b|\bEA[A-Za-z0-9]{10,}")


class AudienceTooSmall(FatalError):
    """Meta refused a removal: the audience would fall under its minimum size."""


class AudienceGone(FatalError):
    """The audience does not exist (any more) on Meta: deleted in Ads Manager."""


def meta_error(response: requests.Response) -> dict[str, Any] | None:
    """The ``error`` object of a Graph API answer, if it carries one."""
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return None


def safe_message(text: Any, secrets: tuple[str, ...] = ()) -> str:
    """Meta's message, short and masked: no token, nothing shaped like an address or an id list."""
    msg = str(text or "").replace("\n", " ")
    for secret in secrets:
        if secret:
            msg = msg.replace(secret, "***")
    msg = _EMAILISH.sub("***", msg)
    msg = _LONG_TOKENS.sub("***", msg)
    return msg if len(msg) <= _MAX_MESSAGE else msg[: _MAX_MESSAGE - 3] + "..."


def regain_access_seconds(response: requests.Response) -> float | None:
    """Seconds until Meta lifts a throttle: ``Retry-After``, else the business-use-case header."""
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    raw = response.headers.get("X-Business-Use-Case-Usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        minutes = [
            float(entry.get("estimated_time_to_regain_access") or 0)
            for entries in usage.values()
            for entry in (entries if isinstance(entries, list) else [entries])
            if isinstance(entry, dict)
        ]
    except (ValueError, AttributeError, TypeError):
        return None
    return max(minutes) * 60.0 if minutes and max(minutes) > 0 else None


def make_classifier(where: Callable[[requests.Response], str], token: str) -> Callable[[requests.Response], Any]:
    """A classifier for :class:`dealersync.HttpSession`; ``where`` names the request safely."""

    def classify(response: requests.Response) -> DealersyncError | type[DealersyncError] | None:
        if response.status_code < 400:
            # Meta answers errors with 4xx/5xx; a 2xx body with an "error" is still an error
            err = meta_error(response) if response.status_code == 200 else None
            if err is None:
                return None
        else:
            err = meta_error(response)
            if err is None:
                return None  # no Meta error body: core's status rules apply
        return classify_error(err, response, where(response), token)

    return classify


def classify_error(err: dict[str, Any], response: requests.Response, where: str, token: str) -> DealersyncError:
    code = _int(err.get("code"))
    sub = _int(err.get("error_subcode"))
    label = f"Meta error {code}" + (f"/{sub}" if sub else "")
    msg = safe_message(err.get("message"), (token,))
    detail = f"{where}: {label} ({msg})" if msg else f"{where}: {label}"
    if code in THROTTLE_CODES or sub in THROTTLE_SUBCODES:
        return TransientError(f"{detail}: Meta is throttling this app or ad account, worth retrying later",
                              regain_access_seconds(response))
    if code == TOKEN_CODE:
        return AuthError(f"{where}: {label}: {TOKEN_FIX}")
    if code in PERMISSION_CODES:
        return AuthError(f"{detail}: {PERMISSION_FIX}")
    if code == FAILED_UPDATE and sub == SUBCODE_FIRST_BATCH_MISSING:
        return FatalError(f"{detail}: Meta did not see the upload session's first batch; run the sync again")
    if code == 100 and sub == SUBCODE_NO_OBJECT:
        return AudienceGone(f"{detail}: the object does not exist on Meta (deleted?)")
    if code == 100 and sub == SUBCODE_UPLOAD_BLOCKED:
        return FatalError(
            f"{detail}: Meta blocks uploads to this audience (it was flagged); check the audience in"
            " Ads Manager, or sync into a new audience"
        )
    said = " ".join(str(err.get(k) or "") for k in ("error_user_title", "message", "error_user_msg"))
    if _TOO_SMALL.search(said):
        return AudienceTooSmall(
            f"{detail}: Meta refuses removals that would take this audience under its minimum size"
        )
    status = response.status_code
    if code == FAILED_UPDATE or code in SERVICE_CODES or err.get("is_transient") is True or status in (408, 429) or status >= 500:
        return TransientError(f"{detail}: worth retrying", regain_access_seconds(response))
    if status in (401, 403):
        return AuthError(f"{where}: HTTP {status}: {TOKEN_FIX}")
    return FatalError(detail)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
