"""Authentication and usage limits: who is calling, and how much they may ask.

    tokens         TokenStore: ``pgw_`` bearer tokens, stored as SHA-256 hashes (api_token table)
    admin          issue_token / revoke_token: the same, audited as ``token.*`` events
    authenticate   Authenticator protocol; BearerTokenAuthenticator (token → principal)
    limits         per-user request rate and concurrent-query cap; failed-login throttling
    permissions    the one permission point: named actions, require(actor, action, resource)
    breakglass     HostOperator: the host administrator in break-glass mode (bootstrap, recovery)

Example:
    >>> import tempfile, pathlib
    >>> store = TokenStore(pathlib.Path(tempfile.mkdtemp()) / "governance.sqlite")
    >>> store.find(store.issue("a.khan", issued_by="admin").token).username
    'a.khan'
"""

from gateway.auth.admin import issue_token, revoke_token
from gateway.auth.authenticate import Authenticator, BearerTokenAuthenticator, parse_bearer
from gateway.auth.breakglass import HostOperator
from gateway.auth.limits import ConcurrencyCap, RateLimitExceeded, TokenBucket, UsageLimits
from gateway.auth.permissions import Action, Permissions, Subject, require
from gateway.auth.tokens import (
    TOKEN_PREFIX,
    IssuedToken,
    TokenRecord,
    TokenStore,
    TokenStoreUnavailable,
)

__all__ = [
    "TOKEN_PREFIX",
    "Action",
    "Authenticator",
    "BearerTokenAuthenticator",
    "ConcurrencyCap",
    "HostOperator",
    "IssuedToken",
    "Permissions",
    "RateLimitExceeded",
    "Subject",
    "TokenBucket",
    "TokenRecord",
    "TokenStore",
    "TokenStoreUnavailable",
    "UsageLimits",
    "issue_token",
    "parse_bearer",
    "require",
    "revoke_token",
]
