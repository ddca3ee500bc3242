"""Approval rules for exports, and the state of each export as the audit log tells it.

Pure: whether an export is held is decided from the settings; who may see, download, approve
or reject it is decided at the permission point (:mod:`gateway.auth.permissions`); the state
is folded from audit events (``export.registered`` then ``export.approved`` / ``export.rejected``).

    needs approval     record-level data, a level listed in ``approval_levels`` (general),
                       and ``require_approval_for_record_level = true`` in ``[exports]``
    pending ──approve──► approved      by an ``approver_role`` holder who is not the owner
            └─reject───► rejected
    download           the owner, once ``not_required`` or ``approved``; an approver at any
                       time (to check the file before deciding)

Example:
    >>> from gateway.policy.exports import ExportSettings
    >>> s = ExportSettings(require_approval_for_record_level=True)
    >>> needs_approval(s, "general", "record"), needs_approval(s, "general", "aggregate")
    (True, False)
    >>> needs_approval(s, "enhanced", "record")
    False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gateway.audit.chain import AuditEvent
from gateway.audit.views import assemble_exports
from gateway.policy.exports import ExportSettings

__all__ = [
    "APPROVED",
    "NOT_REQUIRED",
    "PENDING",
    "REJECTED",
    "ExportRecord",
    "export_records",
    "needs_approval",
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

    @property
    def released(self) -> bool:
        """The owner may download it."""
        return self.approval in (NOT_REQUIRED, APPROVED)


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
        )
    return records
