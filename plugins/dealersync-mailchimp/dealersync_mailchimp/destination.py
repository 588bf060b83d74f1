"""The ``mailchimp`` destination: a dealersync audience as a tag on one Mailchimp audience (list).

Mailchimp has one list of contacts per audience; dealersync's audience is a **tag** on that list
(a tag is a static segment in the API). Adding a member means: make sure the contact exists on
the list (batch upsert, ``POST /lists/{list_id}``), then put the tag on it
(``POST /lists/{list_id}/segments/{segment_id}`` with ``members_to_add``). Removing members
takes the tag off, in one batch operation per core batch (``POST /batches``, each operation a
``DELETE /lists/{list_id}/segments/{segment_id}/members/{subscriber_hash}``: the state holds the
hash, never the address that ``members_to_remove`` would need); the contact itself is never
unsubscribed, archived or deleted.

Consent: core only hands an email destination customers with email consent, and this connector
never changes the status of a contact that already exists. New contacts get ``status_for_new``,
which the dealer must choose (no default: ``pending`` mails every new contact a confirmation,
``subscribed`` asserts opt-in consent, ``transactional`` cannot receive campaigns). A contact Mailchimp holds as unsubscribed or cleaned,
or refuses for compliance, is recorded on dealersync's global suppression list and reported
rejected with a ``suppressed:*`` code; it is never resubscribed.
"""

from __future__ import annotations

import io
import json
import logging
import re
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal, TypeVar

import requests
from dealersync import (
    AudienceDestination,
    AuthError,
    BatchInfo,
    BatchLimits,
    ConfigError,
    ConnectorConfig,
    ConnectorContext,
    DealersyncError,
    FatalError,
    HttpSession,
    MemberOutcome,
    ReadBack,
    RemoteAudience,
    TransientError,
)
from pydantic import Field, SecretStr, field_validator

log = logging.getLogger("dealersync.mailchimp")

#: Mailchimp's documented maximum for the batch upsert and for static-segment member changes.
MAX_MEMBERS = 500
#: Mailchimp allows 10 simultaneous connections per user; more are answered 429.
MAX_CONNECTIONS = 10
#: Seconds between polls of a batch operation (then the last value, until batch_wait_seconds).
BATCH_POLLS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)

AUTH_MESSAGE = (
    "the Mailchimp API key was refused; create a new key (Mailchimp: Profile > Extras > API keys)"
    " and store it with `dealersync secrets set NAME`"
)
CREDENTIAL_HINT = (
    "create a new key (Mailchimp: Profile > Extras > API keys) and store it with"
    " `dealersync secrets set NAME`"
)

_HASH = re.compile(r"^[0-9a-f]{32}$")
_SAFE_TITLE = re.compile(r"^[A-Za-z][A-Za-z ]{0,39}$")

# Rejection codes (MemberOutcome.code). ``suppressed:*`` must never be retried: the person is on
# the global suppression list from now on and Mailchimp will refuse them again anyway.
SUPPRESSED_UNSUBSCRIBED = "suppressed:unsubscribe"
SUPPRESSED_CLEANED = "suppressed:cleaned"
SUPPRESSED_COMPLIANCE = "suppressed:compliance"
INVALID_EMAIL = "invalid:email"
THROTTLED_ADDRESS = "throttled:address"
ARCHIVED = "mailchimp:archived"
#: Mailchimp answered 200 without the fields that prove the request was applied (retried).
NO_PROOF = "mailchimp:no_proof"
TAG_FAILED = "mailchimp:tag_failed"
UNTAG_FAILED = "mailchimp:untag_failed"
MERGE_FIELDS = "mailchimp:merge_fields"
NOT_FOUND = "mailchimp:not_found"
NO_HASH = "invalid:subscriber_hash"

#: Statuses of an existing contact that may carry the tag as they are.
_TAGGABLE = frozenset({"subscribed", "pending", "transactional"})


class MailchimpNotFound(FatalError):
    """Mailchimp answered 404 (a list, segment or member that does not exist)."""


# ------------------------------------------------------------------------------------- config


class MailchimpConfig(ConnectorConfig):
    api_key: SecretStr = Field(
        description="Mailchimp API key; it ends with the data center (e.g. '...-us21'), which picks "
        "the API host. Write it as { keyring = \"NAME\" } or { env = \"VAR\" }, never inline.",
    )
    list_id: str = Field(
        description="the Mailchimp audience (list) id: Audience > Settings > Audience name and "
        "defaults > Audience ID",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
    )
    tag: str | None = Field(
        None,
        description="the tag (static segment) marking this dealersync audience on the list; "
        "default: the dealersync audience's name. Found or created on first sync.",
        min_length=1,
        max_length=100,
    )
    # Mailchimp Marketing API reference, "Batch subscribe or unsubscribe" (POST /lists/{list_id}),
    # members[].status: subscribed, unsubscribed, cleaned, pending, transactional. Only the three
    # that put a new contact on the list without marking it undeliverable are offered.
    status_for_new: Literal["subscribed", "pending", "transactional"] = Field(
        description="REQUIRED, no default: status given to contacts NEW to the list."
        " 'subscribed' when the dealer's email opt-in (the CRM's email_opt_in, which core already"
        " requires) is documented consent to marketing email; 'pending' sends each new contact"
        " Mailchimp's double opt-in confirmation (an email to every customer the first sync"
        " finds); 'transactional' adds them without marketing consent (they cannot be sent"
        " campaigns). Existing contacts' status is never changed.",
    )
    merge_fields: dict[Literal["first_name", "last_name"], str] = Field(
        default_factory=dict,
        description="names sent as merge fields (for new contacts, and again when a name changes), e.g. "
        "{ first_name = \"FNAME\", last_name = \"LNAME\" }; default: none (email only)",
    )
    base_url: str | None = Field(
        None,
        description="API base URL instead of https://<dc>.api.mailchimp.com/3.0 (proxies, tests)",
        pattern=r"^https?://\S+$",
    )
    batch_wait_seconds: int = Field(
        600,
        ge=10,
        le=3600,
        description="how long a removal batch operation (POST /batches) may take before the run"
        " gives up on it for now; the removals are sent again next run (harmless)",
    )
    concurrency: int = Field(
        MAX_CONNECTIONS,
        ge=1,
        le=MAX_CONNECTIONS,
        description="simultaneous connections for per-member calls (Mailchimp allows 10 per user; "
        "lower it when other tools use the same account)",
    )

    @field_validator("merge_fields")
    @classmethod
    def _merge_tags(cls, value: dict[str, str]) -> dict[str, str]:
        for tag in value.values():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,9}", tag):
                raise ValueError("merge field tags are 1-10 upper-case letters, digits or _, e.g. FNAME")
        return value


def data_center_url(api_key: SecretStr, where: str) -> str:
    """``https://<dc>.api.mailchimp.com/3.0`` from the key's suffix; the key is never echoed."""
    key = api_key.get_secret_value()
    dc = key.rsplit("-", 1)[-1] if "-" in key else ""
    if not re.fullmatch(r"[a-z]{1,6}[0-9]{1,4}", dc):
        raise ConfigError(
            f"{where}.api_key: a Mailchimp API key ends with its data center (e.g. '-us21') and this"
            " one does not; copy the whole key from Mailchimp (Profile > Extras > API keys), or set"
            " base_url"
        )
    return f"https://{dc}.api.mailchimp.com/3.0"


# --------------------------------------------------------------------------------- classifier


def _problem(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def classify(response: requests.Response) -> DealersyncError | type[DealersyncError] | None:
    """Mailchimp's error answers as dealersync error kinds (never echoing a body or a key).

    401 -> AuthError; 403 with no JSON body (Mailchimp under heavy throttling) -> TransientError,
    403 otherwise -> AuthError; 429 or a ``Too Many Requests`` title -> TransientError (core
    honours Retry-After); 404 -> MailchimpNotFound; 5xx -> TransientError (core default). The
    batch upsert's per-row ``errors[]`` come with 200 and are not errors here.
    """
    code = response.status_code
    if code < 400:
        return None
    problem = _problem(response)
    title = str((problem or {}).get("title") or "")
    if code == 401:
        return AuthError(f"{AUTH_MESSAGE} (HTTP 401)")
    if code == 429 or title.replace(" ", "").lower() == "toomanyrequests":
        return TransientError  # standard message; retry_after from the Retry-After header
    if code == 403:
        if problem is None:
            return TransientError
        return AuthError(f"{AUTH_MESSAGE} (HTTP 403: the key is not allowed to do this)")
    if code == 404:
        return MailchimpNotFound("Mailchimp: HTTP 404, not found")
    if code >= 500:
        return None  # core: transient
    safe = f" {title}" if _SAFE_TITLE.match(title) else ""
    return FatalError(f"Mailchimp: HTTP {code}{safe}")


# ------------------------------------------------------------------------------ upsert errors


def row_verdict(row: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """What one ``errors[]`` row of the batch upsert means: ``(kind, code, reason)``.

    kind is ``exists`` (the contact is already on the list: check its status), ``suppress``
    (code is the suppression reason: unsubscribe, cleaned, compliance) or ``reject``.
    Reasons are fixed texts: Mailchimp's own ``error`` text names the address and is never kept.
    """
    text = str(row.get("error") or "").lower()
    error_code = str(row.get("error_code") or "")
    if error_code == "ERROR_CONTACT_EXISTS" or "already a list member" in text:
        return "exists", None, None
    if "compliance state" in text:
        return "suppress", "compliance", "Mailchimp holds the contact in a compliance state"
    if "unsubscribed" in text or "resubscribe" in text:
        return "suppress", "unsubscribe", "the contact unsubscribed in Mailchimp"
    if "cleaned" in text or "bounced" in text:
        return "suppress", "cleaned", "Mailchimp cleaned the address (bounces)"
    if "permanently deleted" in text or "forgotten" in text or "re-import" in text:
        return "suppress", "compliance", "the contact was permanently deleted in Mailchimp"
    if "signed up to a lot of lists" in text or "too many recent signup" in text:
        return "reject", THROTTLED_ADDRESS, "Mailchimp throttles sign-ups for this address; retried next run"
    if "merge field" in text:  # "Your merge fields were invalid." (before the generic "invalid")
        return "reject", MERGE_FIELDS, "Mailchimp refused the merge fields; check merge_fields against the audience's merge tags"
    if "fake" in text or "invalid" in text or "valid email" in text:
        return "reject", INVALID_EMAIL, "Mailchimp refused the address as invalid"
    safe = re.sub(r"[^A-Z0-9_]", "", error_code.upper())[:40] or "ERROR"
    return "reject", f"mailchimp:{safe}", f"Mailchimp refused the contact ({safe})"


_SUPPRESSED_CODE = {
    "unsubscribe": SUPPRESSED_UNSUBSCRIBED,
    "cleaned": SUPPRESSED_CLEANED,
    "compliance": SUPPRESSED_COMPLIANCE,
}

T = TypeVar("T")
R = TypeVar("R")


# -------------------------------------------------------------------------------- destination


class MailchimpDestination(AudienceDestination[MailchimpConfig]):
    """A dealersync audience as a tag on one Mailchimp audience (list). Channel: email."""

    name = "mailchimp"
    channel = "email"
    identifiers: ClassVar[Mapping[str, str]] = {
        "email": "mailchimp.email",
        "subscriber_hash": "mailchimp.subscriber_hash",
        "first_name": "mailchimp.first_name",
        "last_name": "mailchimp.last_name",
    }
    limits = BatchLimits(rows=MAX_MEMBERS)
    #: The sync state keeps Mailchimp's member id (MD5 of the lowercase email), never the address.
    state_fields = ("subscriber_hash",)
    supports_replace = False
    Config = MailchimpConfig

    def __init__(self, config: MailchimpConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        #: the configured merge fields (FNAME / LNAME): a changed name is sent through update()
        self.attributes = tuple(config.merge_fields)
        where = f"destinations.{context.instance}"
        base = config.base_url or data_center_url(config.api_key, where)
        session = requests.Session()
        session.auth = ("dealersync", config.api_key.get_secret_value())
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=config.concurrency)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self.http = HttpSession(
            "Mailchimp",
            base_url=base,
            headers={"Accept": "application/json", "User-Agent": "dealersync-mailchimp"},
            classifier=classify,
            credential_hint=CREDENTIAL_HINT,
            session=session,
        )
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        # batch results live on a pre-signed URL on another host: never send it the API key
        self._results = HttpSession("Mailchimp batch results", classifier=classify)

    @property
    def _list(self) -> str:
        return f"lists/{self.config.list_id}"

    # ------------------------------------------------------------------------------ contract
    def check(self) -> None:
        """The key is accepted and the list exists."""
        try:
            self.http.get(self._list, params={"fields": "id,name"})
        except MailchimpNotFound:
            raise ConfigError(
                f"destinations.{self.context.instance}.list_id: Mailchimp has no audience"
                f" {self.config.list_id!r} for this API key (Audience > Settings > Audience name and"
                " defaults shows the id)"
            ) from None

    def ensure_audience(self, name: str, description: str = "") -> RemoteAudience:
        """Find the tag (static segment) on the list, creating it when missing."""
        tag = self.config.tag or name
        found = self._find_segment(tag)
        if found is None:
            try:
                found = self._json(
                    self.http.post(f"{self._list}/segments", json={"name": tag, "static_segment": []})
                )
            except MailchimpNotFound:
                self.check()  # a missing list becomes a ConfigError naming list_id
                raise
            if not found.get("id"):
                # "Add segment" (POST /lists/{list_id}/segments, Marketing API reference) answers
                # the new segment with its id; without it no tag can be addressed
                raise FatalError("Mailchimp: creating the tag answered without its id; nothing was sent")
            log.info("mailchimp: created tag for audience %s on list %s", name, self.config.list_id)
        return RemoteAudience(id=str(found["id"]), name=str(found.get("name") or tag), size=found.get("member_count"))

    def add(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        outcomes: dict[str, MemberOutcome] = {}
        by_email: dict[str, dict[str, Any]] = {}
        for m in members:
            email = m.get("email")
            if not email or not m.get("subscriber_hash"):
                outcomes[m["member_key"]] = MemberOutcome(m["member_key"], False, INVALID_EMAIL, "no valid email address")
            else:
                by_email[str(email).lower()] = m
        accepted: list[dict[str, Any]] = []
        for chunk in _chunks(list(by_email.values()), MAX_MEMBERS):
            accepted += self._upsert(chunk, outcomes)
        for chunk in _chunks(accepted, MAX_MEMBERS):
            self._tag(audience, chunk, outcomes)
        for m in members:
            outcomes.setdefault(m["member_key"], MemberOutcome(m["member_key"], True))
        return [outcomes[m["member_key"]] for m in members]

    def update(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        """New merge-field values of contacts already tagged: one ``PATCH
        /lists/{list_id}/members/{subscriber_hash}`` with ``merge_fields`` only (Marketing API
        reference, "Update list member": fields not sent are left alone, so the status is never
        touched). A contact Mailchimp no longer has is reported as not found (added again later)."""
        return self._parallel(self._patch_merge_fields, members)

    def _patch_merge_fields(self, m: dict[str, Any]) -> MemberOutcome:
        merge = {tag: m.get(f) or "" for f, tag in self.config.merge_fields.items()}
        try:
            self.http.request(
                "PATCH", f"{self._list}/members/{m['subscriber_hash']}",
                params={"skip_merge_validation": "true"}, json={"merge_fields": merge},
            )
        except MailchimpNotFound:
            return MemberOutcome(m["member_key"], False, NOT_FOUND, "Mailchimp no longer has this contact")
        self._count("merge_fields_updated")
        return MemberOutcome(m["member_key"], True)

    def remove(
        self, audience: RemoteAudience, members: list[dict[str, Any]], batch: BatchInfo | None = None
    ) -> list[MemberOutcome]:
        """Take the tag off the batch's members in one batch operation (``POST /batches``, one
        ``DELETE .../segments/{id}/members/{subscriber_hash}`` each; Marketing API reference,
        "Batch operations"), wait for it to finish, and read the failed operations' results.

        An operation answered 204, or 404 (not tagged, or not on the list: already removed), is
        accepted; any other status refuses that member (``mailchimp:untag_failed``), kept in the
        sync state and tried again next run.
        """
        outcomes: dict[str, MemberOutcome] = {}
        ops = []
        for m in members:
            h = str(m.get("subscriber_hash") or "")
            if not _HASH.match(h):
                outcomes[m["member_key"]] = MemberOutcome(m["member_key"], False, NO_HASH, "the sync state holds no subscriber hash")
                continue
            path = f"/{self._list}/segments/{audience.id}/members/{h}"
            ops.append({"method": "DELETE", "path": path, "operation_id": str(m["member_key"])})
        failed = self._run_batch(ops) if ops else {}
        for op in ops:
            key = op["operation_id"]
            status = failed.get(key)
            if status is None or status == 404:
                self._count("already_untagged" if status == 404 else "untagged")
                outcomes[key] = MemberOutcome(key, True)
            else:
                self._count("untag_errors")
                outcomes[key] = MemberOutcome(key, False, UNTAG_FAILED, f"Mailchimp answered {status} taking the tag off")
        return [outcomes[str(m["member_key"])] for m in members]

    def read_back(self, audience: RemoteAudience) -> ReadBack:
        """The tag's ``member_count`` (Marketing API reference: Lists > Segments > Get segment
        info, ``GET /lists/{list_id}/segments/{segment_id}``); a 404 means the tag was deleted.
        Mailchimp gives no match rate: an e-mail list is not matched."""
        try:
            seg = self._json(self.http.get(f"{self._list}/segments/{audience.id}", params={"fields": "id,member_count"}))
        except MailchimpNotFound:
            return ReadBack(deleted=True)
        count = seg.get("member_count")
        return ReadBack(size_lower=_int(count), size_upper=_int(count)) if count is not None else ReadBack()

    def platform_counts(self) -> Mapping[str, int]:
        return dict(self._counts)

    # ----------------------------------------------------------------------------- internals
    def _upsert(self, chunk: list[dict[str, Any]], outcomes: dict[str, MemberOutcome]) -> list[dict[str, Any]]:
        """Create the contacts new to the list; return the members that may be tagged."""
        body = {
            "members": [self._member_item(m) for m in chunk],
            # false: an existing contact's status is never changed (no resubscribe, no re-opt-in)
            "update_existing": False,
        }
        answer = self._json(self.http.post(self._list, params={"skip_merge_validation": "true"}, json=body))
        if not isinstance(answer.get("total_created"), int) or not isinstance(answer.get("errors"), list):
            # "Batch subscribe or unsubscribe" answers new_members, total_created, errors, ...:
            # without them nothing proves the contacts exist, so none is tagged or counted
            for m in chunk:
                outcomes[m["member_key"]] = MemberOutcome(
                    m["member_key"], False, NO_PROOF, "Mailchimp's answer did not show the contact created or found"
                )
            self._count("unproven", len(chunk))
            return []
        self._count("created", _int(answer.get("total_created")))
        self._count("updated", _int(answer.get("total_updated")))
        self._count("upsert_errors", _int(answer.get("error_count")))
        by_email = {str(m["email"]).lower(): m for m in chunk}
        refused: set[str] = set()
        existing: list[dict[str, Any]] = []
        unknown_rows = 0
        for row in answer.get("errors") or []:
            m = by_email.get(str(row.get("email_address") or "").strip().lower())
            if m is None:
                unknown_rows += 1
                continue
            kind, code, reason = row_verdict(row)
            if kind == "exists":
                existing.append(m)
                continue
            refused.add(m["member_key"])
            if kind == "suppress":
                outcomes[m["member_key"]] = self._suppress(m, str(code), str(reason))
            else:
                outcomes[m["member_key"]] = MemberOutcome(m["member_key"], False, code, reason)
        if unknown_rows:
            log.warning("mailchimp: %d error rows named no member of the batch", unknown_rows)
        self._count("already_on_list", len(existing))
        statuses = dict(zip([m["member_key"] for m in existing], self._parallel(self._status, existing), strict=True))
        for m in existing:
            status = statuses[m["member_key"]]
            if status in _TAGGABLE:
                continue
            refused.add(m["member_key"])
            if status == "unsubscribed":
                outcomes[m["member_key"]] = self._suppress(m, "unsubscribe", "the contact unsubscribed in Mailchimp")
            elif status == "cleaned":
                outcomes[m["member_key"]] = self._suppress(m, "cleaned", "Mailchimp cleaned the address (bounces)")
            elif status == "archived":
                outcomes[m["member_key"]] = MemberOutcome(
                    m["member_key"], False, ARCHIVED, "the contact is archived in Mailchimp; unarchive it to tag it"
                )
            elif status is None:
                outcomes[m["member_key"]] = MemberOutcome(
                    m["member_key"], False, NOT_FOUND, "Mailchimp reported the contact as existing, then not found"
                )
            else:
                safe = re.sub(r"[^a-z_]", "", status)[:20]
                outcomes[m["member_key"]] = MemberOutcome(
                    m["member_key"], False, f"mailchimp:status_{safe}", f"the contact's status is {safe}"
                )
        return [m for m in chunk if m["member_key"] not in refused]

    def _run_batch(self, ops: list[dict[str, Any]]) -> dict[str, int]:
        """Run a batch operation to its end; the status of each operation that failed, by id."""
        started = self._json(self.http.post("batches", json={"operations": ops}))
        batch_id = str(started.get("id") or "")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", batch_id):
            raise FatalError("Mailchimp: POST /batches answered without a batch id; nothing is counted as done")
        self._count("batch_operations")
        give_up = time.monotonic() + self.config.batch_wait_seconds
        waits = iter(BATCH_POLLS)
        state = started
        while str(state.get("status")) != "finished":
            if time.monotonic() >= give_up:
                raise TransientError(
                    f"Mailchimp: batch operation {batch_id} had not finished after {self.config.batch_wait_seconds} s"
                    f" (status {str(state.get('status'))[:20]!r}); its removals are sent again next run"
                )
            time.sleep(next(waits, BATCH_POLLS[-1]))
            state = self._json(self.http.get(f"batches/{batch_id}"))
        if not _int(state.get("errored_operations")):
            return {}
        return self._batch_failures(str(state.get("response_body_url") or ""))

    def _batch_failures(self, url: str) -> dict[str, int]:
        """The failed operations of a finished batch, from its results archive (a gzipped tar of
        JSON arrays of ``{status_code, operation_id, response}``), fetched *without* the API key:
        the URL is a pre-signed link on another host."""
        if not re.match(r"https?://", url):
            raise FatalError("Mailchimp: a finished batch with errors gave no results URL; not counted as done")
        archive = self._results.get(url).content
        failed: dict[str, int] = {}
        try:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                for entry in tar:
                    handle = tar.extractfile(entry) if entry.isfile() else None
                    for result in json.load(handle) if handle else []:
                        code = _int(result.get("status_code"))
                        if code >= 300:
                            failed[str(result.get("operation_id"))] = code
        except (tarfile.TarError, ValueError, AttributeError) as exc:
            raise FatalError(f"Mailchimp: the batch results archive could not be read ({type(exc).__name__})") from None
        return failed

    def _member_item(self, m: Mapping[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {"email_address": m["email"], "status": self.config.status_for_new}
        merge = {tag: m[f] for f, tag in self.config.merge_fields.items() if m.get(f)}
        if merge:
            item["merge_fields"] = merge
        return item

    def _status(self, m: dict[str, Any]) -> str | None:
        """An existing contact's status (``None`` when Mailchimp does not find it)."""
        try:
            answer = self._json(
                self.http.get(f"{self._list}/members/{m['subscriber_hash']}", params={"fields": "status"})
            )
        except MailchimpNotFound:
            return None
        return str(answer.get("status") or "").lower() or None

    def _tag(self, audience: RemoteAudience, chunk: list[dict[str, Any]], outcomes: dict[str, MemberOutcome]) -> None:
        emails = [m["email"] for m in chunk]
        answer = self._json(
            self.http.post(f"{self._list}/segments/{audience.id}", json={"members_to_add": emails, "members_to_remove": []})
        )
        if not isinstance(answer.get("members_added"), list) or not isinstance(answer.get("total_added"), int):
            # the documented answer ("Add or remove member from static segment": members_added,
            # total_added, errors) is what proves the tagging; anything else (an empty {}, a
            # proxy's page) proves nothing: not delivered, sent again next run
            for m in chunk:
                outcomes[m["member_key"]] = MemberOutcome(
                    m["member_key"], False, NO_PROOF, "Mailchimp's answer did not show the contact tagged"
                )
            self._count("unproven", len(chunk))
            return
        self._count("tagged", _int(answer.get("total_added")))
        by_email = {str(m["email"]).lower(): m for m in chunk}
        for err in answer.get("errors") or []:
            for address in err.get("email_addresses") or []:
                m = by_email.get(str(address).strip().lower())
                if m is not None:
                    outcomes[m["member_key"]] = MemberOutcome(
                        m["member_key"], False, TAG_FAILED, "Mailchimp did not tag the contact"
                    )
                    self._count("tag_errors")

    def _suppress(self, m: Mapping[str, Any], reason: str, text: str) -> MemberOutcome:
        """Record a platform-side unsubscribe/clean/compliance refusal on the suppression list,
        for email only: a bounced or unsubscribed address says nothing about ads or texts, so
        the person stays in the Meta and Google audiences."""
        self.context.suppress(reason=reason, email=str(m["email"]), scope="email")
        self._count("suppressed")
        return MemberOutcome(m["member_key"], False, _SUPPRESSED_CODE[reason], text)

    def _find_segment(self, tag: str) -> dict[str, Any] | None:
        wanted = tag.casefold()
        offset, page = 0, 1000
        while True:
            try:
                answer = self._json(
                    self.http.get(
                        f"{self._list}/segments",
                        params={
                            "type": "static",
                            "count": page,
                            "offset": offset,
                            "fields": "segments.id,segments.name,segments.member_count,total_items",
                        },
                    )
                )
            except MailchimpNotFound:
                self.check()
                raise
            segments = answer.get("segments") or []
            for seg in segments:
                if str(seg.get("name", "")).casefold() == wanted:
                    return seg
            offset += len(segments)
            if not segments or offset >= _int(answer.get("total_items")):
                return None

    def _parallel(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``fn`` over ``items`` on at most ``concurrency`` connections, results in order.

        After a failure no new call starts; the first error is raised once the others finished.
        """
        if len(items) <= 1 or self.config.concurrency == 1:
            return [fn(i) for i in items]
        failed = threading.Event()

        def run(item: T) -> R | None:
            if failed.is_set():
                return None
            try:
                return fn(item)
            except BaseException:
                failed.set()
                raise

        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="mailchimp") as pool:
            futures = [pool.submit(run, i) for i in items]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]  # type: ignore[misc]
        return [f.result() for f in futures]  # type: ignore[misc]

    def _count(self, name: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self._counts[name] += n

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            raise FatalError(f"Mailchimp: HTTP {response.status_code}, the answer is not JSON") from None
        if not isinstance(body, dict):
            raise FatalError(f"Mailchimp: HTTP {response.status_code}, unexpected answer")
        return body


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
