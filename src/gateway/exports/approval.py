"""Approval rules for exports, and the state of each export as the audit log tells it.

Pure: whether an export is held is decided from the settings; who may see, download, approve
or reject it is decided at the permission point (:mod:`gateway.auth.permissions`); the state
is folded from audit events (``export.registered`` then ``export.approved`` / ``export.rejected``).

    needs approval     record-level data, a level listed in ``approval_levels`` (general and
                       enhanced by default), and ``require_approval_for_record_level`` (on by
                       default) in ``[exports]`` — policy 198 appendix 2: no data removed
                       unless a senior analyst authorises it
    pending ──approve──► approved      by the owner's designated senior analyst or a deputy
            └─reject───► rejected      (recorded with the held file), holding the
                                       ``approver_role``, never the owner; with a comment
    download           the owner, once ``not_required`` or ``approved``; the designated
                       senior analyst or a deputy at any time (to check the file before
                       deciding); other approvers once released (oversight)

Example:
    >>> from gateway.policy.exports import ExportSettings
    >>> s = ExportSettings()
    >>> needs_approval(s, "general", "record"), needs_approval(s, "general", "aggregate")
    (True, False)
    >>> needs_approval(s, "enhanced", "record")
    True
    >>> needs_approval(ExportSettings(approval_levels=("general",)), "enhanced", "record")
    False
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from gateway.analysis.classify import classify_rewrite
from gateway.audit.chain import AuditEvent
from gateway.audit.views import assemble_exports
from gateway.catalog import Catalog
from gateway.engines.base import QueryResult
from gateway.errors import ExportRequired
from gateway.policy.exports import ExportSettings
from gateway.rewrite import RewriteResult

__all__ = [
    "APPROVED",
    "NOT_REQUIRED",
    "PENDING",
    "REJECTED",
    "ExportRecord",
    "export_records",
    "needs_approval",
    "query_release_check",
    "query_release_refusal",
    "within_query_limits",
]

NOT_REQUIRED = "not_required"
PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"


def needs_approval(settings: ExportSettings, level: str, data_class: str) -> bool:
    """Whether an export must be held for a senior analyst's approval."""
    return (
        settings.require_approval_for_record_level
        and data_class == "record"
        and level in settings.approval_levels
    )


def query_release_refusal(
    settings: ExportSettings, level: str, data_class: str, rows: int, nbytes: int
) -> ExportRequired | None:
    """Why a query result may not be sent straight back, or None when it may.

    A record-level result that would be held as an export (:func:`needs_approval`) leaves over
    ``/v1/query`` only while it is small — at most ``query_record_max_rows`` rows and
    ``query_record_max_bytes`` bytes (a look at the data, not a copy of it); a larger one is
    a release, and must be requested as an export, which waits for the analyst's designated
    senior analyst. Aggregates (and disclosure-controlled results) pass.

    Example:
        >>> s = ExportSettings(query_record_max_rows=100)
        >>> query_release_refusal(s, "general", "record", 100, 2_000) is None
        True
        >>> query_release_refusal(s, "enhanced", "record", 101, 2_000).code
        'export_required'
        >>> query_release_refusal(s, "general", "aggregate", 10**6, 10**8) is None
        True
    """
    if not needs_approval(settings, level, data_class) or within_query_limits(
        settings, rows, nbytes
    ):
        return None
    return ExportRequired(
        f"this record-level result ({rows:,} rows, {nbytes:,} bytes) is larger than a query "
        f"may return ({settings.query_record_max_rows:,} rows, "
        f"{settings.query_record_max_bytes:,} bytes): request it as an export "
        "(POST /v1/exports, `gateway export query`), which your designated senior analyst "
        "authorises, or aggregate it (with disclosure control)"
    )


def within_query_limits(settings: ExportSettings, rows: int, nbytes: int) -> bool:
    """Whether a result is small enough to leave over ``/v1/query`` whatever its class (at
    most ``query_record_max_rows`` rows and ``query_record_max_bytes`` bytes).

    Example:
        >>> s = ExportSettings(query_record_max_rows=100)
        >>> within_query_limits(s, 100, 2_000), within_query_limits(s, 101, 2_000)
        (True, False)
    """
    return rows <= settings.query_record_max_rows and nbytes <= settings.query_record_max_bytes


def query_release_check(
    settings: ExportSettings, catalog: Catalog, level: str
) -> Callable[[QueryResult, RewriteResult], None]:
    """The check a query's result passes before its completed record
    (``run_query(…, deliverable=…)``): :func:`query_release_refusal` on the result as it
    would be released, classified from the executed SQL.

    Raises (from the returned check):
        ExportRequired: a record-level result over the limits.
    """

    def check(result: QueryResult, rewrite: RewriteResult) -> None:
        if not needs_approval(settings, level, "record"):
            return  # nothing this level sends is held: no need to classify
        if not rewrite.tables and not rewrite.schema_tables:
            return  # reads no table (``SELECT 1``, ``range()``): releases no data
        if within_query_limits(settings, result.num_rows, result.num_bytes):
            return  # small enough to leave whatever its class: no need to classify
        refusal = query_release_refusal(
            settings,
            level,
            classify_rewrite(rewrite, catalog).data_class,
            result.num_rows,
            result.num_bytes,
        )
        if refusal is not None:
            raise refusal

    return check


@dataclass(frozen=True)
class ExportRecord:
    """One export as the audit log records it.

    Attributes:
        export_id: the id of the query it was made from.
        owner, organisation: who made it.
        format, file_name, file_sha256, bytes, marking: the registered file.
        approval: ``not_required``, ``pending``, ``approved`` or ``rejected``.
        registered_at: when it was registered.
        decided_by, decided_at, comment: the approval decision, if any.
        deleted_at: when a retention run deleted the file (see :mod:`~.retention`), if it did.
        authorisers: for a held file, who may authorise it (the owner's designated senior
            analyst, then deputies), as recorded when it was registered.
    """

    export_id: str
    owner: str
    organisation: str
    format: str
    file_name: str
    file_sha256: str
    bytes: int
    marking: str
    approval: str
    registered_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    comment: str = ""
    deleted_at: datetime | None = None
    authorisers: tuple[str, ...] = ()

    @property
    def released(self) -> bool:
        """The owner may download it."""
        return self.approval in (NOT_REQUIRED, APPROVED)


def _names(raw: object) -> tuple[str, ...]:
    return tuple(str(v) for v in raw) if isinstance(raw, list) else ()


def export_records(events: Iterable[AuditEvent]) -> dict[str, ExportRecord]:
    """Fold ``export.*`` events into the current record of each export (by export id), with
    the audit log's own fold (:func:`gateway.audit.views.assemble_exports`), so the service
    and the ``audit.exports`` table never disagree about a file's state."""
    records: dict[str, ExportRecord] = {}
    for view in assemble_exports(events):
        d, decision = view.registered.details, view.decision
        records[view.export_id] = ExportRecord(
            export_id=view.export_id,
            owner=view.registered.actor,
            organisation=view.registered.organisation,
            format=str(d.get("format", "")),
            file_name=str(d.get("file_name", "")),
            file_sha256=view.file_sha256,
            bytes=int(d.get("bytes", 0)),
            marking=str(d.get("marking", "")),
            approval=view.approval,
            registered_at=view.registered.time,
            decided_by=decision.actor if decision is not None else None,
            decided_at=decision.time if decision is not None else None,
            comment=str(decision.details.get("comment", "")) if decision is not None else "",
            deleted_at=view.deleted.time if view.deleted is not None else None,
            authorisers=_names(d.get("authorisers")),
        )
    return records
