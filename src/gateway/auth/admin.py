"""Token administration, audited: issue and revoke go into the audit log as ``token.*`` events.

Write-ahead: the audit record is appended inside the token store's transaction, after the row
is written and before it commits. If the record cannot be written the transaction rolls back
and the error is raised — no token exists without its record, no revocation without its
record. Once the record is committed the audit log never raises (checkpoint trouble shows in
its health), so a recorded token is never silently taken back. Should the token store fail to
commit after the record was written, a ``token.issue_failed`` record says so.

Example:
    >>> import tempfile, pathlib
    >>> from gateway.audit.log import AuditLog
    >>> from gateway.datadir import DataDir
    >>> data_dir = DataDir(pathlib.Path(tempfile.mkdtemp()))
    >>> with AuditLog.open(data_dir) as log:
    ...     issued = issue_token(TokenStore(data_dir.governance), log, "a.khan", issued_by="admin")
    ...     [e.kind for e in log.events()]
    ['token.issued']
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.auth.tokens import IssuedToken, TokenRecord, TokenStore, TokenStoreUnavailable
from gateway.errors import InputError

__all__ = ["issue_token", "revoke_token"]


def issue_token(
    store: TokenStore,
    audit: AuditLog,
    username: str,
    *,
    issued_by: str,
    organisation: str = "",
    label: str = "",
    expires_in: timedelta | None = timedelta(days=90),
    max_lifetime: timedelta | None = None,
    context: Mapping[str, object] | None = None,
) -> IssuedToken:
    """Issue a token for ``username`` and audit it (the secret is never recorded).

    Args:
        context: more fields for the audit event (``break_glass`` on the host).
        max_lifetime: the policy's cap (``[tokens] max_lifetime_days``): a token without an
            end, or asked to last longer, is refused — never quietly shortened.

    Raises:
        InputError: the lifetime asked for is over the policy's cap.
        AuditUnavailable: not audited, so no token was created.
        TokenStoreUnavailable: the token could not be stored.
    """
    if max_lifetime is not None and (expires_in is None or expires_in > max_lifetime):
        asked = "no end" if expires_in is None else f"{expires_in.days} days"
        raise InputError(
            f"a token may last at most {max_lifetime.days} days under the policy "
            f"([tokens] max_lifetime_days); {asked} was asked for"
        )
    recorded: list[str] = []

    def record(new: TokenRecord) -> None:
        audit.record(
            AccessEvent(
                EventKind.TOKEN_ISSUED,
                issued_by,
                organisation,
                subject=username,
                comment=label,
                extra={
                    **(context or {}),
                    "token_id": new.token_id,
                    "expires_at": new.expires_at.isoformat() if new.expires_at else None,
                },
            )
        )
        recorded.append(new.token_id)

    try:
        return store.issue(
            username, issued_by=issued_by, label=label, expires_in=expires_in, record=record
        )
    except TokenStoreUnavailable as exc:
        if recorded:  # the record says issued, but the token never committed: say so
            audit.record(
                AccessEvent(
                    EventKind.TOKEN_ISSUE_FAILED,
                    issued_by,
                    organisation,
                    subject=username,
                    comment=str(exc),
                    extra={"token_id": recorded[0]},
                )
            )
        raise


def revoke_token(
    store: TokenStore,
    audit: AuditLog,
    token_id: str,
    *,
    revoked_by: str,
    organisation: str = "",
    reason: str = "",
    context: Mapping[str, object] | None = None,
) -> TokenRecord:
    """Revoke a token by id and audit it (``context``: more fields for the audit event).

    Raises:
        NotFound: no such token.
        AuditUnavailable: not audited, so not revoked (the token still works).
    """

    def record(revoked: TokenRecord) -> None:
        audit.record(
            AccessEvent(
                EventKind.TOKEN_REVOKED,
                revoked_by,
                organisation,
                subject=revoked.username,
                comment=reason,
                extra={**(context or {}), "token_id": token_id},
            )
        )

    return store.revoke(token_id, revoked_by=revoked_by, record=record)
