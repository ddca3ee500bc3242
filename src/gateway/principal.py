"""Who is asking: the principal a query runs as, and the access grants behind it.

A principal is resolved per request (from a token, by the governance store; in a bare
deployment from ``users.toml``) and is plain data: the policy engine reads it, never the
other way round.

Example:
    >>> from datetime import date
    >>> p = Principal(username="a.khan", organisation="Middlesbrough Council", level="general",
    ...               areas=("E06000002",), purposes=("SA-2026",), roles=frozenset({"analyst"}))
    >>> p.may_use_purpose("SA-2026"), p.may_use_purpose("JAG-12")
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

__all__ = ["LEVELS", "AccessGrant", "Level", "Principal", "PrincipalDirectory"]

Level = Literal["none", "general", "enhanced"]
LEVELS: tuple[Level, ...] = ("none", "general", "enhanced")


@dataclass(frozen=True)
class AccessGrant:
    """An authorised, additive widening of a principal's view, for named purposes, until a date.

    Enhanced grants are narrow: they name exactly which extra tables, unmasked columns
    (``"table.column"``) and extra areas (local authority codes) they add.
    """

    grant_id: str
    purposes: tuple[str, ...]
    starts: date
    ends: date | None = None
    tables: tuple[str, ...] = ()
    unmask: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    reason: str = ""

    def active_on(self, day: date) -> bool:
        return self.starts <= day and (self.ends is None or day <= self.ends)

    def covers(self, purpose: str, day: date) -> bool:
        return purpose in self.purposes and self.active_on(day)


@dataclass(frozen=True)
class Principal:
    """The caller, as the policy engine sees them.

    Attributes:
        username: unique login name.
        organisation: the organisation (CSP / local authority / force) they work for.
        level: data access level: ``general``, ``enhanced`` or ``none`` (oversight-only roles).
        areas: local authority codes whose records they may see.
        purposes: approved purpose codes; every query must name one.
        roles: non-data roles (``analyst``, ``senior_analyst``, ``admin``, approver roles …).
        grants: enhanced grants (additive, per purpose, dated).
        expires_at: when their access ends (None = until reviewed).
        suspended: suspended users are refused at once.
        senior_analysts: their designated senior analyst first, then that senior analyst's
            deputies: who authorise their record-level releases and QA their products (policy
            198 appendix 2 and 3.2). Empty: none recorded, so nothing of theirs that needs
            authorisation can be released until an administrator records one.
    """

    username: str
    organisation: str
    level: Level
    areas: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    roles: frozenset[str] = field(default_factory=frozenset)
    grants: tuple[AccessGrant, ...] = ()
    expires_at: datetime | None = None
    suspended: bool = False
    senior_analysts: tuple[str, ...] = ()

    def may_use_purpose(self, purpose: str) -> bool:
        return purpose in self.purposes

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def grants_for(self, purpose: str, day: date) -> tuple[AccessGrant, ...]:
        """The enhanced grants that apply to a query for ``purpose`` on ``day``."""
        return tuple(g for g in self.grants if g.covers(purpose, day))


class PrincipalDirectory(Protocol):
    """Where principals come from: ``users.toml`` at bootstrap, the governance store later.

    Implementations resolve a username to its principal as of a moment, so expiry and
    suspension take effect at once.
    """

    def principal(self, username: str, at: datetime) -> Principal | None:
        """The principal for ``username`` at time ``at``, or None if there is no such user."""
        ...

    def usernames(self) -> list[str]:
        """Every known username (for access reviews and inactivity reports)."""
        ...
