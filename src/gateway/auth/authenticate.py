"""Who is calling: an :class:`Authenticator` turns request credentials into a :class:`Principal`.

The protocol takes the raw ``Authorization`` header and the client's address, so an OIDC/JWT
authenticator for a force identity provider can be added beside the bearer-token one without
touching the API. :class:`BearerTokenAuthenticator` checks a ``pgw_`` token against the
:class:`~gateway.auth.tokens.TokenStore` and resolves its owner through a
:class:`~gateway.principal.PrincipalDirectory` on every request, so a suspension or expiry
applies at once.

    missing / malformed / unknown / expired / revoked token, unknown user  → 401 unauthenticated
    suspended account                                                       → 403 account_suspended
    account locked after failed web sign-ins                                → 403 account_locked
    its owner idle past the policy's token_idle_minutes                     → 403 account_idle
    expired access                                                          → 403 access_expired
    too many failures from one address                                      → 429 rate_limited

Every refusal is audited as ``access.authentication_failed`` with a reason, the token id when
one was recognised and the client address — never the presented token.

Example:
    >>> parse_bearer("Bearer pgw_abc")
    'pgw_abc'
    >>> parse_bearer("Basic dXNlcg==") is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.auth.limits import RateLimitExceeded, TokenBucket
from gateway.auth.tokens import MAX_TOKEN_LENGTH, TokenRecord, TokenStore
from gateway.clock import Clock, utc_now
from gateway.errors import (
    AccessExpired,
    AccountSuspended,
    AuthenticationError,
    GatewayError,
)
from gateway.principal import Principal, PrincipalDirectory

__all__ = ["Authenticator", "BearerTokenAuthenticator", "account_refusal", "parse_bearer"]


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class Authenticator(Protocol):
    """Turns credentials into the principal a request runs as."""

    def authenticate(self, authorization: str | None, client_address: str) -> Principal:
        """The caller's principal.

        Args:
            authorization: the ``Authorization`` header as sent (None when absent).
            client_address: the peer address, for the audit record and failure throttling.

        Raises:
            AuthenticationError: no valid credentials (401).
            AccessDenied: valid credentials of a suspended or expired principal (403).
            RateLimited: too many failed attempts from this address (429).
        """
        ...


def parse_bearer(authorization: str) -> str | None:
    """The token of a well-formed ``Bearer <token>`` header, else None."""
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential or len(credential) > MAX_TOKEN_LENGTH:
        return None
    if not set(credential) <= _TOKEN_CHARS:
        return None
    return credential


@dataclass(frozen=True)
class _Failure:
    error: GatewayError
    reason: str
    username: str = ""
    organisation: str = ""
    token_id: str = ""


class BearerTokenAuthenticator:
    """Bearer tokens from the token store, principals from a directory.

    Args:
        tokens: where tokens are looked up.
        directory: resolves a token's username to the principal as of now.
        audit: where refusals are recorded.
        failed_logins: per-address budget of failed attempts; past it, 429 without an audit
            record each time (so a flood cannot fill the audit log).
        owner_refusal: why an active token's owner may not use it at a moment, or None
            (:meth:`gateway.auth.signin.SignIn.token_refusal`: locked, or idle past the policy),
            asked once suspension and expiry have passed.
        clock: current UTC time.
    """

    def __init__(
        self,
        tokens: TokenStore,
        directory: PrincipalDirectory,
        audit: AuditLog,
        *,
        failed_logins: TokenBucket | None = None,
        owner_refusal: Callable[[TokenRecord, datetime], GatewayError | None] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.owner_refusal = owner_refusal
        self.tokens = tokens
        self.directory = directory
        self.audit = audit
        self.failed_logins = failed_logins
        self.clock = clock

    def authenticate(self, authorization: str | None, client_address: str) -> Principal:
        now = self.clock()
        outcome = self._resolve(authorization, now)
        if isinstance(outcome, Principal):
            return outcome
        self._refuse(outcome, client_address)
        raise outcome.error

    def _resolve(self, authorization: str | None, now: datetime) -> Principal | _Failure:
        if not authorization or not authorization.strip():
            return _Failure(
                AuthenticationError(
                    "no credentials: send the header 'Authorization: Bearer <your token>'"
                ),
                "missing",
            )
        token = parse_bearer(authorization)
        if token is None:
            return _Failure(
                AuthenticationError(
                    "malformed Authorization header: expected 'Bearer <your token>'"
                ),
                "malformed",
            )
        record = self.tokens.find(token)
        if record is None:
            return _Failure(AuthenticationError("the token is not valid"), "unknown_token")
        state = record.state(now)
        if state != "active":
            return self._token_failure(record, state)
        principal = self.directory.principal(record.username, now)
        if principal is None:
            return _Failure(
                AuthenticationError("the token's user is no longer known to the gateway"),
                "unknown_user",
                username=record.username,
                token_id=record.token_id,
            )
        refusal = account_refusal(principal, now)
        if refusal is None and self.owner_refusal is not None:
            refusal = self.owner_refusal(record, now)
        if refusal is not None:
            return _Failure(
                refusal,
                refusal.code,
                username=principal.username,
                organisation=principal.organisation,
                token_id=record.token_id,
            )
        return principal

    @staticmethod
    def _token_failure(record: TokenRecord, state: str) -> _Failure:
        if state == "revoked":
            error = AuthenticationError("the token has been revoked; ask for a new one")
        else:
            assert record.expires_at is not None
            error = AuthenticationError(
                f"the token expired on {record.expires_at:%Y-%m-%d}; ask for a new one"
            )
        return _Failure(error, f"token_{state}", username=record.username, token_id=record.token_id)

    def _refuse(self, failure: _Failure, client_address: str) -> None:
        if self.failed_logins is not None:
            wait = self.failed_logins.take(f"addr:{client_address}")
            if wait:
                raise RateLimitExceeded(
                    "too many failed authentication attempts from this address; "
                    f"retry in {math.ceil(wait)} s",
                    retry_after=wait,
                ) from None
        self.audit.record(
            AccessEvent(
                EventKind.ACCESS_AUTHENTICATION_FAILED,
                failure.username or "anonymous",
                failure.organisation,
                subject=failure.token_id,
                comment=failure.reason,
                extra={"reason": failure.reason, "client_address": client_address},
            )
        )


def account_refusal(principal: Principal, now: datetime) -> GatewayError | None:
    """Why a known principal may not use the gateway at ``now`` (suspended, expired), or None."""
    if principal.suspended:
        return AccountSuspended(f"the account {principal.username!r} is suspended")
    if principal.expires_at is not None and principal.expires_at <= now:
        return AccessExpired(
            f"access for {principal.username!r} expired on {principal.expires_at:%Y-%m-%d}"
        )
    return None
