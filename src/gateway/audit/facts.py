"""Audit facts: what each kind of record says, one frozen dataclass per kind, and the
:class:`AuditFact` shape :meth:`gateway.audit.log.AuditLog.record` writes.

A fact knows its :class:`~gateway.audit.kinds.EventKind`, who acted (``actor``,
``organisation``) and its ``details()`` — the JSON object stored in the record:

    QueryRequest        who asked what, from where (shared by started and denied), and
                        what the submitted SQL looks up (LookupAnalysis, when analysed)
    QueryStarted        query.started    written before the query runs (write-ahead)
    QueryCompleted      query.completed  outcome, rows, bytes, duration, result fingerprint,
                                         disclosure control applied (when asked for), the
                                         protective marking released
    QueryDenied         query.denied     refused before execution, with the reason code
    ExportRegistered    export.registered  format, file name and hash, marking, approval
    ExportAction        export.approved / export.rejected / export.downloaded  after registration
    ExportsPruned       export.pruned    files deleted at the end of the retention period (one run)
    ProductRegistered   product.registered  its files and manifest hashes, QA sampling
    ProductAction       product.qa_passed / product.qa_returned / product.downloaded
    AccessEvent         access.* / token.* / policy.* / user.* / grant.*  governance actions
    IntegrityAcknowledged  audit.acknowledged  (in :mod:`gateway.audit.integrity`, beside the
                        verification it accepts)

Pure: no clock, no I/O.

Example:
    >>> fact = AccessEvent(EventKind.TOKEN_ISSUED, "admin", "Cleveland Police", subject="a.khan")
    >>> isinstance(fact, AuditFact), fact.kind.value, fact.details()["subject"]
    (True, 'token.issued', 'a.khan')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from gateway.analysis.results import LookupAnalysis
from gateway.audit.chain import JsonObject, format_time
from gateway.audit.kinds import GOVERNANCE_FAMILIES, GOVERNANCE_KINDS, EventKind
from gateway.errors import InputError
from gateway.principal import Principal

__all__ = [
    "EXPORT_ACTIONS",
    "PRODUCT_ACTIONS",
    "AccessEvent",
    "AuditFact",
    "ExportAction",
    "ExportRegistered",
    "ExportsPruned",
    "ProductAction",
    "ProductRegistered",
    "PrunedItem",
    "QueryCompleted",
    "QueryDenied",
    "QueryRequest",
    "QueryStarted",
]


@runtime_checkable
class AuditFact(Protocol):
    """Anything :meth:`~gateway.audit.log.AuditLog.record` can write: a kind, who acted, and
    the record's details (plain JSON)."""

    @property
    def kind(self) -> EventKind: ...

    @property
    def actor(self) -> str: ...

    @property
    def organisation(self) -> str: ...

    def details(self) -> dict[str, Any]: ...


#: What can happen to a registered export (see :class:`ExportAction`), and the kind it records.
EXPORT_ACTIONS: dict[str, EventKind] = {
    "approved": EventKind.EXPORT_APPROVED,
    "rejected": EventKind.EXPORT_REJECTED,
    "downloaded": EventKind.EXPORT_DOWNLOADED,
}


def _text_list(values: Sequence[str]) -> list[str]:
    return [str(v) for v in values]


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
    (:func:`gateway.analysis.lookups.analyse_lookups`). Omitted from the record when None, so
    records without it read and hash as before; reports then analyse the SQL themselves.
    ``channel`` is the door the query came through (``http``, ``flight``, ``host`` for a run
    on the gateway's own machine); omitted when None (records from before it was kept).
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
    channel: str | None = None

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
        channel: str | None = None,
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
            channel=channel,
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
        if self.channel is not None:
            details["channel"] = self.channel
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
        sql_with_policy: ``sql_executed`` with each masked projection it scans written out as
            the live policy subquery that projection materialises (the same rows: a reviewer
            reads the masks and row filters there); empty, and not recorded, when it scans none.
    """

    kind: ClassVar[EventKind] = EventKind.QUERY_STARTED

    query_id: str
    request: QueryRequest
    sql_executed: str
    policy_hash: str
    tables: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    masks: tuple[str, ...] = ()
    row_filters: tuple[str, ...] = ()
    sql_with_policy: str = ""

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
            **({"sql_with_policy": self.sql_with_policy} if self.sql_with_policy else {}),
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
        marking: the protective marking of the result as released (the policy's for what it
            read; the aggregate marking under disclosure control), whatever door it leaves by
            (HTTP, Flight, export, template, product). Omitted when None (a failed query, or
            a record from before it was kept).
    """

    kind: ClassVar[EventKind] = EventKind.QUERY_COMPLETED

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
    marking: str | None = None

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
        if self.marking is not None:
            details["marking"] = self.marking
        return details


@dataclass(frozen=True)
class QueryDenied:
    """A query refused before execution, with the error code as the reason.

    Attributes:
        reason: stable code of the refusal (``table_not_permitted``, ``parse_error`` …).
        message: the explanation the analyst was given.
        policy_hash: the policy that refused it, when known.
    """

    kind: ClassVar[EventKind] = EventKind.QUERY_DENIED

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
        authorisers: for a held file, who may authorise its release: the owner's designated
            senior analyst, then their deputies (recorded only when held).
    """

    kind: ClassVar[EventKind] = EventKind.EXPORT_REGISTERED

    query_id: str
    user: str
    organisation: str
    format: str
    file_name: str
    file_sha256: str
    bytes: int
    marking: str
    approval: str = "not_required"
    authorisers: tuple[str, ...] = ()

    @property
    def actor(self) -> str:
        return self.user

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "query_id": self.query_id,
            "format": self.format,
            "file_name": self.file_name,
            "file_sha256": self.file_sha256,
            "bytes": int(self.bytes),
            "marking": self.marking,
            "approval": self.approval,
        }
        if self.approval == "pending":
            details["authorisers"] = list(self.authorisers)
        return details


@dataclass(frozen=True)
class ExportAction:
    """Something done to a registered export: a senior analyst approved or rejected a held
    file, or someone downloaded it.

    Example:
        >>> ExportAction("approved", "q1", "s.patel", "Cleveland Police", owner="a.khan",
        ...              file_sha256="ab" * 32).kind.value
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
            raise InputError(
                f"export action {self.action!r} must be one of {tuple(EXPORT_ACTIONS)}"
            )

    @property
    def kind(self) -> EventKind:
        return EXPORT_ACTIONS[self.action]

    def details(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "owner": self.owner,
            "file_sha256": self.file_sha256,
            "comment": self.comment,
        }


#: What can happen to a registered product (see :class:`ProductAction`), and the kind it records.
PRODUCT_ACTIONS: dict[str, EventKind] = {
    "passed": EventKind.PRODUCT_QA_PASSED,
    "returned": EventKind.PRODUCT_QA_RETURNED,
    "downloaded": EventKind.PRODUCT_DOWNLOADED,
}


@dataclass(frozen=True)
class ProductRegistered:
    """A product (e.g. the strategic assessment pack) written and kept, with the QA it needs.

    Example:
        >>> fact = ProductRegistered("p1", "a.khan", "MBC", "strategic-assessment",
        ...     files=(("sa.html", "html", "ab" * 32, 10),), manifest_sha256="cd" * 32,
        ...     marking="OFFICIAL-SENSITIVE", qa="pending", qa_sample=0.42, qa_sample_rate=1.0,
        ...     authorisers=("s.patel",))
        >>> fact.kind.value, fact.details()["qa"], fact.details()["files"][0]["file_name"]
        ('product.registered', 'pending', 'sa.html')

    Attributes:
        product_id: its id.
        user, organisation: who made it.
        product_kind: which product (``strategic-assessment``).
        files: ``(file_name, format, sha256, bytes)`` of each file.
        manifest_sha256: SHA-256 of its manifest (provenance and the files' hashes).
        marking: the protective marking on it.
        qa: ``pending`` (sampled: held for QA) or ``not_sampled`` (released without).
        qa_sample, qa_sample_rate: the product's sample value (from its id's hash) and the
            ``[products] qa_sample_rate`` it was compared with (held when sample < rate).
        authorisers: who may QA it: the owner's designated senior analyst, then deputies.
    """

    kind: ClassVar[EventKind] = EventKind.PRODUCT_REGISTERED

    product_id: str
    user: str
    organisation: str
    product_kind: str
    files: tuple[tuple[str, str, str, int], ...]
    manifest_sha256: str
    marking: str
    qa: str
    qa_sample: float
    qa_sample_rate: float
    authorisers: tuple[str, ...] = ()

    @property
    def actor(self) -> str:
        return self.user

    def details(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "product_kind": self.product_kind,
            "files": [
                {"file_name": n, "format": f, "sha256": h, "bytes": int(b)}
                for n, f, h, b in self.files
            ],
            "manifest_sha256": self.manifest_sha256,
            "marking": self.marking,
            "qa": self.qa,
            "qa_sample": float(self.qa_sample),
            "qa_sample_rate": float(self.qa_sample_rate),
            "authorisers": list(self.authorisers),
        }


@dataclass(frozen=True)
class ProductAction:
    """Something done to a registered product: its QA passed or returned, or a download.

    Example:
        >>> ProductAction("returned", "p1", "s.patel", "CP", owner="a.khan",
        ...               manifest_sha256="cd" * 32, comment="table 3 misread").kind.value
        'product.qa_returned'

    Attributes:
        action: one of :data:`PRODUCT_ACTIONS`.
        product_id: the product's id.
        actor, organisation: who acted.
        owner: who made the product.
        manifest_sha256: the registered hash of the manifest acted on.
        comment: the QA comment (passes and returns).
    """

    action: str
    product_id: str
    actor: str
    organisation: str
    owner: str
    manifest_sha256: str
    comment: str = ""

    def __post_init__(self) -> None:
        if self.action not in PRODUCT_ACTIONS:
            raise InputError(
                f"product action {self.action!r} must be one of {tuple(PRODUCT_ACTIONS)}"
            )

    @property
    def kind(self) -> EventKind:
        return PRODUCT_ACTIONS[self.action]

    def details(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "owner": self.owner,
            "manifest_sha256": self.manifest_sha256,
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
        >>> run.kind.value, run.details()["files"], run.details()["deleted"][0]["export_id"]
        ('export.pruned', 2, 'q1')

    Attributes:
        actor, organisation: who ran it (``system`` when the service starts, ``cli:<login>``).
        retention_days: the ``[exports]`` retention period applied.
        cutoff: files last written, registered or decided before this were deleted.
        deleted: what was deleted.
        failed: ``name: reason`` of what could not be deleted (it is still on disk).
    """

    kind: ClassVar[EventKind] = EventKind.EXPORT_PRUNED

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
        >>> AccessEvent(EventKind.ACCESS_ENDORSED, "m.jones", "Middlesbrough Council",
        ...             subject="a.khan", comment="line manager").kind
        <EventKind.ACCESS_ENDORSED: 'access.endorsed'>
        >>> AccessEvent("access.endorsed", "m.jones", "MBC").kind is EventKind.ACCESS_ENDORSED
        True

    Attributes:
        kind: one of :data:`~gateway.audit.kinds.GOVERNANCE_KINDS` (``access.suspended``); its
            text is accepted too (records read back, the command line).
        actor: who did it (``system`` for automatic expiry).
        subject: whom or what it concerns (a username, request id, token id, policy hash).
    """

    kind: EventKind
    actor: str
    organisation: str
    subject: str = ""
    comment: str = ""
    extra: JsonObject = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            kind = EventKind(self.kind)
        except ValueError:
            kind = None
        if kind not in GOVERNANCE_KINDS:
            families = ", ".join(f"{f}.*" for f in GOVERNANCE_FAMILIES)
            raise InputError(f"access action {self.kind!r} is not a known kind of {families}")
        object.__setattr__(self, "kind", kind)

    def details(self) -> dict[str, Any]:
        return {"subject": self.subject, "comment": self.comment, "details": dict(self.extra)}
