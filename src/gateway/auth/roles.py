"""Who may do what beyond querying: reviewing the audit trail and administering access.

Decisions live here, not in the API routes. Audit review follows the policy: the roles that
may query the ``audit`` schema (``[schemas.audit] roles``) may also read the audit endpoints.
Administration (tokens, users) needs the ``admin`` role.

Example:
    >>> from gateway.principal import Principal
    >>> analyst = Principal(username="a.khan", organisation="MBC", level="general")
    >>> require_admin(analyst)
    Traceback (most recent call last):
    ...
    gateway.errors.AccessDenied: this needs the admin role
"""

from __future__ import annotations

from collections.abc import Collection

from gateway.errors import AccessDenied
from gateway.policy import Policy
from gateway.principal import Principal

__all__ = [
    "ADMIN_ROLE",
    "AUDIT_REVIEW_ROLES",
    "audit_review_roles",
    "require_admin",
    "require_audit_reviewer",
    "require_role",
]

ADMIN_ROLE = "admin"
#: Who reviews the audit trail when the policy does not say (no ``[schemas.audit]``).
AUDIT_REVIEW_ROLES = frozenset({"senior_analyst", "auditor"})


def require_role(principal: Principal, roles: Collection[str], action: str) -> None:
    """Refuse unless ``principal`` holds one of ``roles``.

    Raises:
        AccessDenied: they hold none of them.
    """
    if not principal.roles & set(roles):
        needed = " or ".join(sorted(roles))
        raise AccessDenied(f"{action} needs the {needed} role")


def require_admin(principal: Principal) -> None:
    """Refuse anyone without the ``admin`` role."""
    if ADMIN_ROLE not in principal.roles:
        raise AccessDenied(f"this needs the {ADMIN_ROLE} role")


def audit_review_roles(policy: Policy) -> frozenset[str]:
    """Roles that may review the audit trail under ``policy``."""
    access = policy.schemas.get("audit")
    return access.roles if access is not None else AUDIT_REVIEW_ROLES


def require_audit_reviewer(policy: Policy, principal: Principal) -> None:
    """Refuse anyone whose roles may not review the audit trail."""
    require_role(principal, audit_review_roles(policy), "reviewing the audit trail")
