"""Admission: the governance checks every authenticated API request passes through.

:class:`GovernedAuthenticator` wraps any authenticator (bearer tokens, later OIDC) — it has
the same ``authenticate(authorization, client_address)`` shape as
:class:`gateway.auth.authenticate.Authenticator` — and adds, after the credentials are
accepted:

1. **origin** — the address must be in the user's organisation's registered ranges (and their
   designated workstations, if any): otherwise ``network_not_permitted``;
2. **preconditions** — a user who holds grants but lacks what must be in place (vetting,
   declarations, training, SyOPs, MoU, code of connection) is refused with the precise reason
   (``vetting_expired``, ``precondition_missing``). Users with no grant (applicants,
   approvers) are admitted: they need the API to apply, approve and see what is missing.

Each refusal is recorded as an ``access.denied`` audit event (reason, client address) before
it is raised.

Example:
    >>> authenticator = GovernedAuthenticator(inner, directory, audit)   # doctest: +SKIP
    >>> authenticator.authenticate("Bearer pgw_…", "192.0.2.5")          # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn, Protocol

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.clock import Clock, utc_now
from gateway.errors import AccessDenied, NetworkNotPermitted
from gateway.governance.directory import GovernanceDirectory
from gateway.principal import Principal

__all__ = ["CredentialCheck", "GovernedAuthenticator", "admit"]


class CredentialCheck(Protocol):
    """Anything that turns credentials into a principal (see ``gateway.auth.authenticate``)."""

    def authenticate(self, authorization: str | None, client_address: str) -> Principal: ...


class GovernedAuthenticator:
    """Credentials by ``inner``; origin and preconditions by the governance register.

    Args:
        inner: the credential check (e.g. ``BearerTokenAuthenticator``).
        directory: the governance directory (origins, standing).
        audit: where refusals are recorded.
        clock: current UTC time.
    """

    def __init__(
        self,
        inner: CredentialCheck,
        directory: GovernanceDirectory,
        audit: AuditLog,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.inner = inner
        self.directory = directory
        self.audit = audit
        self.clock = clock

    def authenticate(self, authorization: str | None, client_address: str) -> Principal:
        """The caller's principal, once credentials, origin and preconditions allow it.

        Raises:
            AuthenticationError, AccessDenied, RateLimited: from ``inner``.
            NetworkNotPermitted: an address the user may not connect from (audited).
            PreconditionMissing, VettingExpired: grants held but not live (audited).
        """
        principal = self.inner.authenticate(authorization, client_address)
        self.admit(principal, client_address)
        return principal

    def admit(self, principal: Principal, client_address: str) -> None:
        """Origin and preconditions for an authenticated principal (see :func:`admit`)."""
        admit(self.directory, self.audit, principal, client_address, self.clock())


def admit(
    directory: GovernanceDirectory,
    audit: AuditLog,
    principal: Principal,
    client_address: str,
    now: datetime,
) -> None:
    """The register's origin and precondition checks for a principal authenticated by any
    means (a token through :class:`GovernedAuthenticator`, a web session through
    :meth:`gateway.deployment.Deployment.admit`); each refusal audited as ``access.denied``.

    Raises:
        NetworkNotPermitted: an address the user may not connect from.
        PreconditionMissing, VettingExpired: grants held but not live.
    """
    reason = directory.origin_refusal(principal.username, client_address, now)
    if reason is not None:
        _refuse(
            audit,
            principal,
            client_address,
            NetworkNotPermitted(f"connection refused for {principal.username!r}: {reason}"),
        )
    standing = directory.standing(principal.username, now)
    if standing is not None and standing.grants and standing.principal.level == "none":
        refusal = standing.refusal(now)
        if refusal is not None:
            _refuse(audit, principal, client_address, refusal)


def _refuse(
    audit: AuditLog, principal: Principal, client_address: str, error: AccessDenied
) -> NoReturn:
    audit.record(
        AccessEvent(
            EventKind.ACCESS_DENIED,
            principal.username,
            principal.organisation,
            subject=principal.username,
            comment=str(error),
            extra={"reason": error.code, "client_address": client_address},
        )
    )
    raise error
