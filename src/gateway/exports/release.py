"""Held exports: list them, approve or reject them, and hand files out once released.

The audit log is the register: a file's state is folded from its ``export.registered`` event
and any later ``export.approved`` / ``export.rejected`` (see :mod:`gateway.exports.approval`).
Every decision and every download is itself audited (``export.approved``,
``export.rejected``, ``export.downloaded``). A file whose bytes no longer match the registered
SHA-256 is never handed out, and one deleted at the end of the retention period
(:mod:`gateway.exports.retention`) answers :class:`~gateway.errors.ExportExpired`.

Example:
    >>> record = approve_export(service, senior, "q2026…", comment="checked")  # doctest: +SKIP
    >>> exported = open_export(service, data_dir, analyst, "q2026…")            # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace

from gateway.audit.facts import ExportAction
from gateway.audit.kinds import EXPORT_KINDS
from gateway.auth.permissions import Action, Permissions
from gateway.datadir import DataDir
from gateway.errors import CommentRequired, Conflict, ExportExpired, NotFound
from gateway.exports.approval import (
    APPROVED,
    REJECTED,
    ExportRecord,
    export_records,
)
from gateway.exports.export import ExportFile, read_manifest
from gateway.exports.writers import sha256_file
from gateway.principal import Principal
from gateway.service import QueryService

__all__ = [
    "approve_export",
    "decision_comment",
    "export_record",
    "list_exports",
    "open_export",
    "reject_export",
    "visible_export",
]

_MAX_COMMENT = 500


def _records(service: QueryService) -> dict[str, ExportRecord]:
    return export_records(service.audit.events(kinds=EXPORT_KINDS))


def export_record(service: QueryService, export_id: str) -> ExportRecord:
    """The current record of one export.

    Raises:
        NotFound: no such export registered.
    """
    record = _records(service).get(export_id)
    if record is None:
        raise NotFound(f"no export {export_id!r}")
    return record


def visible_export(service: QueryService, principal: Principal, export_id: str) -> ExportRecord:
    """One export's record, if ``principal`` may see it (:data:`Action.SEE_EXPORT`).

    Raises:
        NotFound: no such export, or someone else's (existence is not revealed).
    """
    record = export_record(service, export_id)
    Permissions.of(service.policy).require(principal, Action.SEE_EXPORT, record)
    return record


def list_exports(
    service: QueryService, principal: Principal, *, pending_only: bool = False
) -> list[ExportRecord]:
    """Exports ``principal`` may see: their own; approvers see everyone's. Newest first."""
    permissions = Permissions.of(service.policy)
    out = [
        r
        for r in _records(service).values()
        if permissions.allows(principal, Action.SEE_EXPORT, r)
        and (not pending_only or r.approval == "pending")
    ]
    return sorted(out, key=lambda r: r.registered_at, reverse=True)


def decision_comment(comment: str, what: str) -> str:
    """The reviewer's comment, tidied (whitespace folded, at most 500 characters).

    Example:
        >>> decision_comment("  checked:  JAG map ", "approving export q1")
        'checked: JAG map'

    Raises:
        CommentRequired: no comment: every authorisation and QA decision records why.
    """
    tidy = " ".join(comment.split())[:_MAX_COMMENT]
    if not tidy:
        raise CommentRequired(f"{what} needs a comment saying what was checked")
    return tidy


def _decide(
    service: QueryService, approver: Principal, export_id: str, decision: str, comment: str
) -> ExportRecord:
    record = export_record(service, export_id)
    Permissions.of(service.policy).require(approver, Action.DECIDE_EXPORT, record)
    comment = decision_comment(comment, f"{decision.removesuffix('d')}ing export {export_id}")
    service.audit.record(
        ExportAction(
            decision,
            export_id,
            approver.username,
            approver.organisation,
            owner=record.owner,
            file_sha256=record.file_sha256,
            comment=comment,
        )
    )
    state = APPROVED if decision == "approved" else REJECTED
    return replace(record, approval=state, decided_by=approver.username, comment=comment)


def approve_export(
    service: QueryService, approver: Principal, export_id: str, *, comment: str = ""
) -> ExportRecord:
    """Release a held export (audited ``export.approved``), as the owner's designated
    senior analyst or a deputy.

    Raises:
        NotFound, WrongRole, SelfApproval, StepOutOfOrder: see
        :data:`gateway.auth.permissions.Action.DECIDE_EXPORT`.
        CommentRequired: no comment.
    """
    return _decide(service, approver, export_id, "approved", comment)


def reject_export(
    service: QueryService, approver: Principal, export_id: str, *, comment: str = ""
) -> ExportRecord:
    """Refuse a held export (audited ``export.rejected``); the file is never released."""
    return _decide(service, approver, export_id, "rejected", comment)


def open_export(
    service: QueryService, data_dir: DataDir, principal: Principal, export_id: str
) -> ExportFile:
    """The export's file for ``principal``, once the rules allow it (audited download).

    Raises:
        NotFound: no such export, or someone else's.
        AccessDenied: held for approval, or rejected.
        ExportExpired: its file was deleted at the end of the retention period.
        Conflict: the file on disk no longer matches its registered hash.
    """
    record = export_record(service, export_id)
    Permissions.of(service.policy).require(principal, Action.DOWNLOAD_EXPORT, record)
    if record.deleted_at is not None:
        raise ExportExpired(
            f"export {export_id} was deleted on {record.deleted_at:%Y-%m-%d} at the end of the "
            "retention period for export files; run the query again to make a new file"
        )
    exported = read_manifest(data_dir, export_id)
    if not exported.path.is_file() or sha256_file(exported.path) != record.file_sha256:
        raise Conflict(f"export {export_id} no longer matches the file registered in the audit log")
    service.audit.record(
        ExportAction(
            "downloaded",
            export_id,
            principal.username,
            principal.organisation,
            owner=record.owner,
            file_sha256=record.file_sha256,
        )
    )
    return replace(exported, approval=record.approval)
