"""Audit records as data: the event, its canonical encoding and hash, and the typed facts.

The audit log is an append-only sequence of :class:`AuditEvent`. Each event carries the hash of
the one before it; the hash is SHA-256 over a canonical encoding — compact, sorted-key JSON of
every field except ``hash``, UTF-8 — so the chain can be recomputed by anyone with the records
(see :mod:`gateway.audit.verify`). The first event's ``prev_hash`` is :data:`GENESIS_HASH`.

What goes into ``details`` is described by the typed facts, one frozen dataclass per kind:

    QueryRequest        who asked what, from where (shared by started and denied), and
                        what the submitted SQL looks up (LookupAnalysis, when analysed)
    QueryStarted        query.started    written before the query runs (write-ahead)
    QueryCompleted      query.completed  outcome, rows, bytes, duration, result fingerprint,
                                         disclosure control applied (when asked for)
    QueryDenied         query.denied     refused before execution, with the reason code
    ExportRegistered    export.registered  format, file name and hash, marking, approval
    ExportAction        export.approved / export.rejected / export.downloaded  after registration
    ExportsPruned       export.pruned    files deleted at the end of the retention period (one run)
    AccessEvent         access.* / token.* / policy.* / user.* / grant.*  governance actions

This module is pure: no clock except :func:`utc_now`, no I/O.

Example:
    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    >>> e = seal(1, new_event_id(t), t, "policy.loaded", "system", "", {"hash": "ab"}, GENESIS_HASH)
    >>> e.seq, e.prev_hash == GENESIS_HASH, len(e.hash)
    (1, True, 64)
    >>> e.hash == event_hash(e)
    True
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, get_args

from gateway.errors import AuditUnavailable, InputError
from gateway.principal import Principal

__all__ = [
    "EXPORT_ACTIONS",
    "EXPORT_PRUNED",
    "EXPORT_REGISTERED",
    "GENESIS_HASH",
    "GOVERNANCE_FAMILIES",
    "LOOKUP_STATUSES",
    "QUERY_COMPLETED",
    "QUERY_DENIED",
    "QUERY_STARTED",
    "AccessEvent",
    "AuditEvent",
    "ExportAction",
    "ExportRegistered",
    "ExportsPruned",
    "LookupAnalysis",
    "LookupStatus",
    "PrunedItem",
    "QueryCompleted",
    "QueryDenied",
    "QueryRequest",
    "QueryStarted",
    "StoredRecord",
    "canonical_bytes",
    "canonical_json",
    "decode",
    "event_hash",
    "format_time",
    "new_event_id",
    "parse_time",
    "seal",
    "stored_hash",
    "utc_now",
]

GENESIS_HASH = "0" * 64

QUERY_STARTED = "query.started"
QUERY_COMPLETED = "query.completed"
QUERY_DENIED = "query.denied"
EXPORT_REGISTERED = "export.registered"
#: What can happen to a registered export: ``export.approved`` … (see :class:`ExportAction`).
EXPORT_ACTIONS = ("approved", "rejected", "downloaded")
EXPORT_PRUNED = "export.pruned"
#: Prefixes of access-management kinds, e.g. ``access.endorsed``, ``token.revoked``.
GOVERNANCE_FAMILIES = ("access", "token", "policy", "user", "grant")

_KIND = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_GOVERNANCE_KIND = re.compile(rf"^({'|'.join(GOVERNANCE_FAMILIES)})\.[a-z][a-z0-9_]*$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

JsonObject = Mapping[str, Any]


# --- time, ids and canonical JSON -------------------------------------------------------------


def utc_now() -> datetime:
    """The current time in UTC, microsecond precision."""
    return datetime.now(UTC)


def format_time(time: datetime) -> str:
    """The stored (and hashed) text of a time: UTC, microseconds, ``Z`` suffix.

    Example:
        >>> from datetime import datetime, timezone
        >>> format_time(datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc))
        '2026-03-29T01:00:00.000000Z'
    """
    if time.tzinfo is None:
        raise InputError("audit times must be timezone-aware")
    return time.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`."""
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def new_event_id(time: datetime) -> str:
    """A unique id that sorts by time: 52 bits of microseconds + 76 random bits, base32.

    Example:
        >>> from datetime import datetime, timezone
        >>> a = new_event_id(datetime(2026, 1, 1, tzinfo=timezone.utc))
        >>> b = new_event_id(datetime(2026, 1, 2, tzinfo=timezone.utc))
        >>> len(a), a < b
        (26, True)
    """
    micros = int(time.timestamp() * 1_000_000) & ((1 << 52) - 1)
    value = (micros << 76) | secrets.randbits(76)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def canonical_json(value: Any) -> str:
    """Compact, sorted-key JSON; refuses NaN/infinity and non-JSON values.

    Example:
        >>> canonical_json({"b": [1, 2], "a": "é"})
        '{"a":"é","b":[1,2]}'
    """
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise InputError(f"audit details must be plain JSON: {exc}") from exc


# --- the event ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEvent:
    """One record of the audit log.

    Attributes:
        seq: position in the log, 1-based and gap-free.
        event_id: unique, time-sortable id (:func:`new_event_id`).
        time: when it was appended (UTC, microseconds).
        kind: what happened, ``family.verb`` (``query.started``, ``access.endorsed`` …).
        actor: username, or ``system``.
        organisation: the actor's organisation (may be empty for ``system``).
        details: the kind-specific facts (a JSON object).
        prev_hash: ``hash`` of the previous event (:data:`GENESIS_HASH` for seq 1).
        hash: SHA-256 of :func:`canonical_bytes` of this event.
    """

    seq: int
    event_id: str
    time: datetime
    kind: str
    actor: str
    organisation: str
    details: JsonObject
    prev_hash: str
    hash: str

    @property
    def details_json(self) -> str:
        return canonical_json(self.details)


@dataclass(frozen=True)
class StoredRecord:
    """A record exactly as a store holds it: text unparsed, so verification trusts nothing.

    Any field may be ``None`` if someone blanked it in the database.
    """

    seq: int
    event_id: str | None
    time: str | None
    kind: str | None
    actor: str | None
    organisation: str | None
    details: str | None
    prev_hash: str | None
    hash: str | None
    #: the record's keyed MAC (:func:`gateway.audit.checkpoints.record_mac`); None if unkeyed.
    mac: str | None = None


def _encode(
    seq: int,
    event_id: str,
    time_text: str,
    kind: str,
    actor: str,
    organisation: str,
    details_json: str,
    prev_hash: str,
) -> bytes:
    # Keys in sorted order; ``details`` spliced in as its own canonical JSON text, which equals
    # canonical_json() of the whole object with details nested (JSON encoding is compositional).
    parts = [
        ("actor", json.dumps(actor, ensure_ascii=False)),
        ("details", details_json),
        ("event_id", json.dumps(event_id, ensure_ascii=False)),
        ("kind", json.dumps(kind, ensure_ascii=False)),
        ("organisation", json.dumps(organisation, ensure_ascii=False)),
        ("prev_hash", json.dumps(prev_hash, ensure_ascii=False)),
        ("seq", json.dumps(seq)),
        ("time", json.dumps(time_text, ensure_ascii=False)),
    ]
    return ("{" + ",".join(f'"{k}":{v}' for k, v in parts) + "}").encode("utf-8")


def canonical_bytes(event: AuditEvent) -> bytes:
    """The bytes that are hashed: every field except ``hash``, compact sorted-key JSON, UTF-8.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> e = seal(1, "ID", t, "token.issued", "admin", "Force", {}, GENESIS_HASH)
        >>> canonical_bytes(e)[:40]
        b'{"actor":"admin","details":{},"event_id"'
    """
    return _encode(
        event.seq,
        event.event_id,
        format_time(event.time),
        event.kind,
        event.actor,
        event.organisation,
        event.details_json,
        event.prev_hash,
    )


def event_hash(event: AuditEvent) -> str:
    """SHA-256 (hex) of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


def stored_hash(record: StoredRecord) -> str | None:
    """The hash a stored record should carry, or ``None`` if a field is missing."""
    fields = (
        record.event_id,
        record.time,
        record.kind,
        record.actor,
        record.organisation,
        record.details,
        record.prev_hash,
    )
    if any(f is None for f in fields):
        return None
    encoded = _encode(record.seq, *fields)  # type: ignore[arg-type]
    return hashlib.sha256(encoded).hexdigest()


def seal(
    seq: int,
    event_id: str,
    time: datetime,
    kind: str,
    actor: str,
    organisation: str,
    details: JsonObject,
    prev_hash: str,
) -> AuditEvent:
    """Build an event and compute its hash (what a store does inside its append transaction).

    Raises:
        InputError: a malformed kind, an empty actor, a naive time or non-JSON details.
    """
    if not _KIND.match(kind):
        raise InputError(f"audit kind {kind!r} is not of the form family.verb")
    if not actor:
        raise InputError("audit events need an actor (a username or 'system')")
    # Normalise details through JSON so what is returned is exactly what is stored and hashed.
    format_time(time)  # rejects naive times
    time = time.astimezone(UTC)
    details = json.loads(canonical_json(dict(details)))
    unsealed = AuditEvent(seq, event_id, time, kind, actor, organisation, details, prev_hash, "")
    return AuditEvent(
        seq, event_id, time, kind, actor, organisation, details, prev_hash, event_hash(unsealed)
    )


def decode(record: StoredRecord) -> AuditEvent:
    """Turn a stored record back into an event (no hash check: that is verify's job).

    Raises:
        AuditUnavailable: the record is unreadable (blanked field, bad time, bad JSON).
    """
    try:
        if (
            record.event_id is None
            or record.time is None
            or record.kind is None
            or record.actor is None
            or record.organisation is None
            or record.details is None
            or record.prev_hash is None
            or record.hash is None
        ):
            raise ValueError("a field is empty")
        details = json.loads(record.details)
        if not isinstance(details, dict):
            raise ValueError("details is not a JSON object")
        time = parse_time(record.time)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested absurdly deep
        raise AuditUnavailable(
            f"audit record seq {record.seq} is unreadable ({exc}); run `gateway audit verify`"
        ) from exc
    return AuditEvent(
        record.seq,
        record.event_id,
        time,
        record.kind,
        record.actor,
        record.organisation,
        details,
        record.prev_hash,
        record.hash,
    )


# --- typed facts -------------------------------------------------------------------------------


def _text_list(values: Sequence[str]) -> list[str]:
    return [str(v) for v in values]


#: How an analysis of submitted SQL for person look-ups ended (see :class:`LookupAnalysis`).
LookupStatus = Literal["ok", "unparseable", "too_large", "too_deep", "failed"]
LOOKUP_STATUSES: tuple[LookupStatus, ...] = get_args(LookupStatus)


@dataclass(frozen=True)
class LookupAnalysis:
    """Whether a query's submitted SQL pins a person to a literal, as analysed once.

    Made by :func:`gateway.audit.lookups.analyse_lookups` when the query is submitted and
    stored with the request, so review reports never re-parse hostile SQL. An analysis that
    could not finish says why instead of pretending the query found nothing.

    Example:
        >>> a = LookupAnalysis("ok", pinned=("person.surname",), predicates=("surname = 'X'",))
        >>> LookupAnalysis.from_details(a.details()) == a
        True
        >>> LookupAnalysis.from_details({"status": "exploded"}).status
        'failed'

    Attributes:
        status: ``ok`` (analysed: ``pinned`` may be empty) or why not: ``unparseable`` (not
            SQL that sqlglot reads), ``too_large``, ``too_deep`` (beyond the analyser's bounds
            on size and nesting) or ``failed`` (any other error).
        pinned: ``table.column`` pinned to a literal.
        predicates: those comparisons as SQL (capped in number and length; for reviewers).
        detail: why the analysis did not finish (``""`` when ``ok``).
    """

    status: LookupStatus
    pinned: tuple[str, ...] = ()
    predicates: tuple[str, ...] = ()
    detail: str = ""

    @property
    def complete(self) -> bool:
        return self.status == "ok"

    def details(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "pinned": _text_list(self.pinned),
            "predicates": _text_list(self.predicates),
            "detail": self.detail,
        }

    @classmethod
    def from_details(cls, value: object) -> LookupAnalysis:
        """Read an analysis back from a record; anything malformed reads as ``failed``."""
        if isinstance(value, dict):
            status, pinned = value.get("status"), value.get("pinned", [])
            predicates, detail = value.get("predicates", []), value.get("detail", "")
            if (
                status in LOOKUP_STATUSES
                and isinstance(pinned, list)
                and isinstance(predicates, list)
                and all(isinstance(v, str) for v in (*pinned, *predicates, detail))
            ):
                return cls(status, tuple(pinned), tuple(predicates), detail)
        return cls("failed", detail="the stored look-up analysis is malformed")


@dataclass(frozen=True)
class QueryRequest:
    """Who asked for what, from where: the part of a query record known before any decision.

    Example:
        >>> p = Principal("a.khan", "Middlesbrough Council", "general",
        ...               roles=frozenset({"analyst"}))
        >>> r = QueryRequest.from_principal(p, "SA-2026", "SELECT 1", client_address="10.0.0.5")
        >>> r.user, r.level, r.roles
        ('a.khan', 'general', ('analyst',))

    ``person_lookups`` is the analysis of ``sql_submitted`` made when the query arrived
    (:func:`gateway.audit.lookups.analyse_lookups`). Omitted from the record when None, so
    records without it read and hash as before; reports then analyse the SQL themselves.
    """

    user: str
    organisation: str
    level: str
    roles: tuple[str, ...]
    purpose: str
    sql_submitted: str
    client_address: str = ""
    user_agent: str = ""
    params: JsonObject = field(default_factory=dict)
    template: str | None = None
    person_lookups: LookupAnalysis | None = None

    @classmethod
    def from_principal(
        cls,
        principal: Principal,
        purpose: str,
        sql_submitted: str,
        *,
        client_address: str = "",
        user_agent: str = "",
        params: JsonObject | None = None,
        template: str | None = None,
        person_lookups: LookupAnalysis | None = None,
    ) -> QueryRequest:
        return cls(
            user=principal.username,
            organisation=principal.organisation,
            level=principal.level,
            roles=tuple(sorted(principal.roles)),
            purpose=purpose,
            sql_submitted=sql_submitted,
            client_address=client_address,
            user_agent=user_agent,
            params=dict(params or {}),
            template=template,
            person_lookups=person_lookups,
        )

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "user": self.user,
            "organisation": self.organisation,
            "level": self.level,
            "roles": _text_list(self.roles),
            "purpose": self.purpose,
            "client_address": self.client_address,
            "user_agent": self.user_agent,
            "sql_submitted": self.sql_submitted,
            "params": dict(self.params),
            "template": self.template,
        }
        if self.person_lookups is not None:
            details["person_lookups"] = self.person_lookups.details()
        return details


@dataclass(frozen=True)
class QueryStarted:
    """Write-ahead record of an allowed query, appended before it runs.

    Attributes:
        query_id: the id the service gives the query (e.g. :func:`new_event_id`).
        request: who asked, for what purpose, with which SQL.
        sql_executed: the policy-enforced SQL actually sent to the engine.
        policy_hash: content hash of the policy in force.
        tables: catalog tables touched.
        columns: ``table.column`` touched.
        masks: ``table.column=mask`` applied.
        row_filters: ``table: predicate`` applied.
    """

    kind: ClassVar[str] = QUERY_STARTED

    query_id: str
    request: QueryRequest
    sql_executed: str
    policy_hash: str
    tables: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    masks: tuple[str, ...] = ()
    row_filters: tuple[str, ...] = ()

    @property
    def actor(self) -> str:
        return self.request.user

    @property
    def organisation(self) -> str:
        return self.request.organisation

    def details(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            **self.request.details(),
            "sql_executed": self.sql_executed,
            "policy_hash": self.policy_hash,
            "tables": _text_list(self.tables),
            "columns": _text_list(self.columns),
            "masks": _text_list(self.masks),
            "row_filters": _text_list(self.row_filters),
        }

    def completed(
        self,
        *,
        outcome: str,
        rows: int,
        bytes: int,
        duration_ms: float,
        fingerprint: str = "",
        truncated: bool = False,
    ) -> QueryCompleted:
        """The matching completion record (same query id, user and organisation)."""
        return QueryCompleted(
            query_id=self.query_id,
            user=self.request.user,
            organisation=self.request.organisation,
            outcome=outcome,
            rows=rows,
            bytes=bytes,
            duration_ms=duration_ms,
            fingerprint=fingerprint,
            truncated=truncated,
        )


@dataclass(frozen=True)
class QueryCompleted:
    """How an allowed query ended.

    Attributes:
        outcome: ``ok`` or an error code (``timeout``, ``resource_limit``, ``query_error`` …).
        rows, bytes: what was returned (0 on failure).
        duration_ms: wall time from start to the last batch.
        fingerprint: hash of the Arrow result (:class:`gateway.audit.ResultFingerprint`).
        truncated: the row cap cut the result.
        disclosure: the disclosure control applied before release (mode, threshold, rounding,
            cells suppressed …), when the analyst asked for it; rows, bytes and fingerprint
            are then those of the protected result. Omitted from the record when None, so
            records without it read and hash as before.
    """

    kind: ClassVar[str] = QUERY_COMPLETED

    query_id: str
    user: str
    organisation: str
    outcome: str
    rows: int
    bytes: int
    duration_ms: float
    fingerprint: str = ""
    truncated: bool = False
    disclosure: JsonObject | None = None

    @property
    def actor(self) -> str:
        return self.user

    def details(self) -> dict[str, Any]:
        if not self.outcome:
            raise InputError("a completed query needs an outcome ('ok' or an error code)")
        details: dict[str, Any] = {
            "query_id": self.query_id,
            "outcome": self.outcome,
            "rows": int(self.rows),
            "bytes": int(self.bytes),
            "duration_ms": float(self.duration_ms),
            "fingerprint": self.fingerprint,
            "truncated": bool(self.truncated),
        }
        if self.disclosure is not None:
            details["disclosure"] = dict(self.disclosure)
        return details


@dataclass(frozen=True)
class QueryDenied:
    """A query refused before execution, with the error code as the reason.

    Attributes:
        reason: stable code of the refusal (``table_not_permitted``, ``parse_error`` …).
        message: the explanation the analyst was given.
        policy_hash: the policy that refused it, when known.
    """

    kind: ClassVar[str] = QUERY_DENIED

    query_id: str
    request: QueryRequest
    reason: str
    message: str
    policy_hash: str = ""

    @property
    def actor(self) -> str:
        return self.request.user

    @property
    def organisation(self) -> str:
        return self.request.organisation

    def details(self) -> dict[str, Any]:
        if not self.reason:
            raise InputError("a denied query needs a reason code")
        return {
            "query_id": self.query_id,
            **self.request.details(),
            "reason": self.reason,
            "message": self.message,
            "policy_hash": self.policy_hash,
        }


@dataclass(frozen=True)
class ExportRegistered:
    """A file produced from a query's result.

    Attributes:
        format: ``csv``, ``parquet``, ``gpkg``, ``tab`` …
        file_sha256: SHA-256 of the file as written.
        marking: protective marking printed on it (e.g. ``OFFICIAL-SENSITIVE``).
        approval: ``not_required``, ``pending``, ``approved`` or ``rejected``.
    """

    kind: ClassVar[str] = EXPORT_REGISTERED

    query_id: str
    user: str
    organisation: str
    format: str
    file_name: str
    file_sha256: str
    bytes: int
    marking: str
    approval: str = "not_required"

    @property
    def actor(self) -> str:
        return self.user

    def details(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "format": self.format,
            "file_name": self.file_name,
            "file_sha256": self.file_sha256,
            "bytes": int(self.bytes),
            "marking": self.marking,
            "approval": self.approval,
        }


@dataclass(frozen=True)
class ExportAction:
    """Something done to a registered export: a senior analyst approved or rejected a held
    file, or someone downloaded it.

    Example:
        >>> ExportAction("approved", "q1", "s.patel", "Cleveland Police", owner="a.khan",
        ...              file_sha256="ab" * 32).kind
        'export.approved'

    Attributes:
        action: one of :data:`EXPORT_ACTIONS`.
        query_id: the export's id (the query it was made from).
        actor, organisation: who acted.
        owner: who made the export.
        file_sha256: the registered hash of the file acted on.
        comment: the reviewer's reason (approvals and rejections).
    """

    action: str
    query_id: str
    actor: str
    organisation: str
    owner: str
    file_sha256: str
    comment: str = ""

    def __post_init__(self) -> None:
        if self.action not in EXPORT_ACTIONS:
            raise InputError(f"export action {self.action!r} must be one of {EXPORT_ACTIONS}")

    @property
    def kind(self) -> str:
        return f"export.{self.action}"

    def details(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "owner": self.owner,
            "file_sha256": self.file_sha256,
            "comment": self.comment,
        }


@dataclass(frozen=True)
class PrunedItem:
    """One thing a retention run deleted from ``DIR/exports``.

    Attributes:
        name: its path under ``DIR/exports`` (an export's folder, or one file).
        export_id: the registered export it held (``""``: none, e.g. a partial file).
        file_sha256: the registered hash of that export's file (``""`` when none).
        files: how many files were deleted.
        bytes: their total size.
    """

    name: str
    export_id: str = ""
    file_sha256: str = ""
    files: int = 0
    bytes: int = 0

    def details(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "export_id": self.export_id,
            "file_sha256": self.file_sha256,
            "files": int(self.files),
            "bytes": int(self.bytes),
        }


@dataclass(frozen=True)
class ExportsPruned:
    """One retention run that deleted export files (see :mod:`gateway.exports.retention`).

    Example:
        >>> from datetime import datetime, timezone
        >>> run = ExportsPruned("system", "", retention_days=30,
        ...                     cutoff=datetime(2026, 3, 1, tzinfo=timezone.utc),
        ...                     deleted=(PrunedItem("q1", "q1", "ab" * 32, 2, 4096),))
        >>> run.kind, run.details()["files"], run.details()["deleted"][0]["export_id"]
        ('export.pruned', 2, 'q1')

    Attributes:
        actor, organisation: who ran it (``system`` when the service starts, ``cli:<login>``).
        retention_days: the ``[exports]`` retention period applied.
        cutoff: files last written, registered or decided before this were deleted.
        deleted: what was deleted.
        failed: ``name: reason`` of what could not be deleted (it is still on disk).
    """

    kind: ClassVar[str] = EXPORT_PRUNED

    actor: str
    organisation: str
    retention_days: int
    cutoff: datetime
    deleted: tuple[PrunedItem, ...] = ()
    failed: tuple[str, ...] = ()

    def details(self) -> dict[str, Any]:
        return {
            "retention_days": int(self.retention_days),
            "cutoff": format_time(self.cutoff),
            "deleted": [item.details() for item in self.deleted],
            "files": sum(item.files for item in self.deleted),
            "bytes": sum(item.bytes for item in self.deleted),
            "failed": _text_list(self.failed),
        }


@dataclass(frozen=True)
class AccessEvent:
    """An access-management action: a request, approval, suspension, token or policy change.

    Example:
        >>> AccessEvent("access.endorsed", "m.jones", "Middlesbrough Council",
        ...             subject="a.khan", comment="line manager").kind
        'access.endorsed'

    Attributes:
        action: the event kind, in one of :data:`GOVERNANCE_FAMILIES` (``access.suspended``).
        actor: who did it (``system`` for automatic expiry).
        subject: whom or what it concerns (a username, request id, token id, policy hash).
    """

    action: str
    actor: str
    organisation: str
    subject: str = ""
    comment: str = ""
    extra: JsonObject = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _GOVERNANCE_KIND.match(self.action):
            families = ", ".join(f"{f}.*" for f in GOVERNANCE_FAMILIES)
            raise InputError(f"access action {self.action!r} must be one of {families}")

    @property
    def kind(self) -> str:
        return self.action

    def details(self) -> dict[str, Any]:
        return {"subject": self.subject, "comment": self.comment, "details": dict(self.extra)}
