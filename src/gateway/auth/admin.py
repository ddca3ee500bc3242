"""Token administration, audited: issue and revoke go into the audit log as ``token.*`` events.

The token is stored first and then audited; if the audit record cannot be written the new
token is revoked again and the error raised, so no working token exists without its record.

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

from datetime import timedelta

from gateway.audit.log import AuditLog
from gateway.audit.records import AccessEvent
from gateway.auth.tokens import IssuedToken, TokenRecord, TokenStore

__all__ = ["TOKEN_ISSUED", "TOKEN_REVOKED", "issue_token", "revoke_token"]

TOKEN_ISSUED = "token.issued"  # noqa: S105 (an audit kind)
TOKEN_REVOKED = "token.revoked"  # noqa: S105 (an audit kind)


def issue_token(
    store: TokenStore,
    audit: AuditLog,
    username: str,
    *,
    issued_by: str,
    organisation: str = "",
    label: str = "",
    expires_in: timedelta | None = timedelta(days=90),
) -> IssuedToken:
    """Issue a token for ``username`` and audit it (the secret is never recorded).

    Raises:
        AuditUnavailable: not audited (the token has been revoked again).
    """
    issued = store.issue(username, issued_by=issued_by, label=label, expires_in=expires_in)
    record = issued.record
    try:
        audit.access_event(
            AccessEvent(
                TOKEN_ISSUED,
                issued_by,
                organisation,
                subject=username,
                comment=label,
                extra={
                    "token_id": record.token_id,
                    "expires_at": record.expires_at.isoformat() if record.expires_at else None,
                },
            )
        )
    except BaseException:
        store.revoke(record.token_id, revoked_by=issued_by)
        raise
    return issued


def revoke_token(
    store: TokenStore,
    audit: AuditLog,
    token_id: str,
    *,
    revoked_by: str,
    organisation: str = "",
    reason: str = "",
) -> TokenRecord:
    """Revoke a token by id and audit it.

    Raises:
        NotFound: no such token.
        AuditUnavailable: revoked, but the audit record could not be written.
    """
    record = store.revoke(token_id, revoked_by=revoked_by)
    audit.access_event(
        AccessEvent(
            TOKEN_REVOKED,
            revoked_by,
            organisation,
            subject=record.username,
            comment=reason,
            extra={"token_id": token_id},
        )
    )
    return record
