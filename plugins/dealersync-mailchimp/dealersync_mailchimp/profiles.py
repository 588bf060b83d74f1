"""Identity profiles for Mailchimp: the plain email, its subscriber hash, and plain names.

Mailchimp takes the email address itself (it sends mail to it), so nothing here is SHA-256
hashed. The sync state keeps only ``subscriber_hash`` (MD5 of the lowercase email, Mailchimp's
own member id), never the address.

The email rule is core's (``meta.email``: trimmed, lowercase; one ``@``, no spaces, a dot in the
domain), reused through its public profile rather than copied.
"""

from __future__ import annotations

from collections.abc import Callable

from dealersync import Profile, get_profile, register_profile

_EMAIL = get_profile("meta.email")

#: Whitespace, Unicode separators included (RE2 class body, as core's profiles use).
_WS = r"\s\p{Z}\x{FEFF}"


def _email(ctx) -> str:  # type: ignore[no-untyped-def]
    return _EMAIL.sql(ctx)


def _subscriber_hash(ctx) -> str:  # type: ignore[no-untyped-def]
    # md5(NULL) is NULL: an invalid email has no hash either
    return f"md5({_EMAIL.sql(ctx)})"


def _name(column: str) -> Callable[..., str]:
    def sql(ctx) -> str:  # type: ignore[no-untyped-def]
        x = ctx.col(column)
        return f"nullif(trim(regexp_replace(nfc_normalize({x}), '[{_WS}]+', ' ', 'g')), '')"

    return sql


PROFILES: tuple[Profile, ...] = (
    Profile(
        "mailchimp.email",
        _EMAIL.columns,
        _email,
        hashed=False,
        match_key=True,
        description="email_address: trimmed, lowercase; one @, no spaces, a dot in the domain "
        "(core's email rule). Sent plain: Mailchimp mails it.",
    ),
    Profile(
        "mailchimp.subscriber_hash",
        _EMAIL.columns,
        _subscriber_hash,
        hashed=False,
        description="subscriber hash: MD5 hex of the normalized (lowercase) email, Mailchimp's "
        "member id; what the sync state keeps.",
    ),
    Profile(
        "mailchimp.first_name",
        ("first_name",),
        _name("first_name"),
        hashed=False,
        description="FNAME merge field: trimmed, inner whitespace collapsed, case and accents kept.",
    ),
    Profile(
        "mailchimp.last_name",
        ("last_name",),
        _name("last_name"),
        hashed=False,
        description="LNAME merge field: trimmed, inner whitespace collapsed, case and accents kept.",
    ),
)

for _p in PROFILES:
    register_profile(_p)
