"""A second person's sign-off before the police.uk extract is published.

The extract is prepared by one administrator (:func:`gateway.publish.publish_police_uk`),
registered with the policy's publication marking (``[markings] publication``, ``OFFICIAL``)
and held: ``approval = pending`` in the register of exports. Before it is published another
administrator checks the file and signs it off, with a comment saying what was checked; the
sign-off is the ``export.approved`` audit record (signer, comment, the file's SHA-256).
Whoever prepared an extract can never sign it off (403 ``self_approval``).

Example:
    >>> record = sign_off_publication(service, other_admin, extract_id,
    ...                               comment="checked: no location under 8 addresses")
    ...                                                                 # doctest: +SKIP
    >>> record.approval, record.decided_by                              # doctest: +SKIP
    ('approved', 'gw.admin2')
"""

from __future__ import annotations

from dataclasses import replace

from gateway.audit.facts import ExportAction
from gateway.auth.permissions import Action, require
from gateway.errors import NotFound, SelfApproval, StepOutOfOrder
from gateway.exports.approval import APPROVED, PENDING, ExportRecord
from gateway.exports.release import decision_comment, export_record
from gateway.principal import Principal
from gateway.publish.extract import FORMAT
from gateway.service import QueryService

__all__ = ["sign_off_publication"]


def sign_off_publication(
    service: QueryService, signer: Principal, extract_id: str, *, comment: str
) -> ExportRecord:
    """Sign off a prepared police.uk extract for publication (audited ``export.approved``).

    Raises:
        WrongRole: ``signer`` is not an administrator.
        NotFound: no police.uk extract with that id.
        CommentRequired: no comment.
        SelfApproval: ``signer`` prepared it: a second person must sign it off.
        StepOutOfOrder: it is not awaiting sign-off (already signed off).
    """
    require(signer, Action.PUBLISH)
    try:
        record = export_record(service, extract_id)
    except NotFound:
        record = None
    if record is None or record.format != FORMAT:
        raise NotFound(f"no police.uk extract {extract_id!r}")
    tidy = decision_comment(comment, f"signing off police.uk extract {extract_id}")
    if signer.username == record.owner:
        raise SelfApproval(
            f"you prepared police.uk extract {extract_id}: a second administrator must check "
            "and sign it off before publication"
        )
    if record.approval != PENDING:
        raise StepOutOfOrder(
            f"police.uk extract {extract_id} is not awaiting sign-off ({record.approval})"
        )
    service.audit.record(
        ExportAction(
            "approved",
            extract_id,
            signer.username,
            signer.organisation,
            owner=record.owner,
            file_sha256=record.file_sha256,
            comment=tidy,
        )
    )
    return replace(record, approval=APPROVED, decided_by=signer.username, comment=tidy)
