"""Authentication and usage limits: who is calling, and how much they may ask.

    tokens         TokenStore: ``pgw_`` bearer tokens, stored as SHA-256 hashes (api_token table)
    admin          issue_token / revoke_token: the same, audited as ``token.*`` events
    authenticate   Authenticator protocol; BearerTokenAuthenticator (token → principal)
    limits         per-user request rate and concurrent-query cap; failed-login throttling
    roles          who may review the audit trail or administer access

Example:
    >>> import tempfile, pathlib
    >>> store = TokenStore(pathlib.Path(tempfile.mkdtemp()) / "governance.sqlite")
    >>> store.find(store.issue("a.khan", issued_by="admin").token).username
    'a.khan'
"""

from gateway.auth.admin import issue_token, revoke_token
from gateway.auth.authenticate import Authenticator, BearerTokenAuthenticator, parse_bearer
from gateway.auth.limits import ConcurrencyCap, RateLimitExceeded, TokenBucket, UsageLimits
from gateway.auth.roles import require_admin, require_audit_reviewer, require_role
from gateway.auth.tokens import (
    TOKEN_PREFIX,
    IssuedToken,
    TokenRecord,
    TokenStore,
    TokenStoreUnavailable,
)

__all__ = [
    "TOKEN_PREFIX",
    "Authenticator",
    "BearerTokenAuthenticator",
    "ConcurrencyCap",
    "IssuedToken",
    "RateLimitExceeded",
    "TokenBucket",
    "TokenRecord",
    "TokenStore",
    "TokenStoreUnavailable",
    "UsageLimits",
    "issue_token",
    "parse_bearer",
    "require_admin",
    "require_audit_reviewer",
    "require_role",
    "revoke_token",
]
