"""Organisations, people, grants and suspensions: the governance records as plain data.

Everything here is a frozen dataclass with no I/O. The store reads and writes them; the pure
workflow, precondition and standing functions take them as arguments.

Example:
    >>> org = Organisation(code="MBC", name="Middlesbrough Council", kind="local_authority",
    ...                    areas=("E06000002",))
    >>> person = Person(username="a.khan", full_name="Aisha Khan", organisation="MBC",
    ...                 role_title="Community Safety Analyst", email="a.khan@example.org",
    ...                 roles=frozenset({"analyst"}), line_manager="m.jones")
    >>> person.has_role("analyst"), org.covers("E06000002")
    (True, True)
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Literal, get_args

from gateway.errors import InputError
from gateway.principal import AccessGrant

__all__ = [
    "ORGANISATION_KINDS",
    "ROLES",
    "SUSPENSION_KINDS",
    "Grant",
    "GrantLevel",
    "NetworkRange",
    "Organisation",
    "OrganisationKind",
    "Person",
    "Role",
    "Suspension",
    "SuspensionKind",
    "check_code",
    "end_of_day",
    "parse_network",
]

Role = Literal[
    "analyst",
    "line_manager",
    "superintendent",
    "analysis_manager",
    "information_security_officer",
    "head_of_intelligence",
    "senior_analyst",
    "spoc",
    "admin",
    "auditor",
    "system_owner",
    "local_supervisor",
]
#: Every role a person may hold (non-data roles; data levels come from grants).
ROLES: tuple[str, ...] = get_args(Role)

OrganisationKind = Literal["local_authority", "csp", "force", "other"]
ORGANISATION_KINDS: tuple[str, ...] = get_args(OrganisationKind)

SuspensionKind = Literal["misuse", "access_review", "administrative"]
SUSPENSION_KINDS: tuple[str, ...] = get_args(SuspensionKind)

GrantLevel = Literal["general", "enhanced"]

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def end_of_day(day: date) -> datetime:
    """The last moment of ``day`` in UTC (a grant ending on a day is valid all that day).

    Example:
        >>> end_of_day(date(2026, 3, 31)).isoformat()
        '2026-03-31T23:59:59.999999+00:00'
    """
    return datetime.combine(day, time.max, tzinfo=UTC)


def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR range or single address as a network (``10.1.2.3`` is ``10.1.2.3/32``).

    Raises:
        InputError: not an address or range, or host bits set (``10.1.2.3/24``).

    Example:
        >>> str(parse_network("192.0.2.0/28"))
        '192.0.2.0/28'
    """
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise InputError(f"{text!r} is not a network range (CIDR) or address: {exc}") from exc


def check_code(value: str, what: str) -> str:
    """``value`` if it is a short code (letters, digits, ``_ . -``), else InputError.

    Example:
        >>> check_code("SA-2026-MBRO", "purpose code")
        'SA-2026-MBRO'
    """
    if not _CODE.match(value):
        raise InputError(
            f"{what} {value!r} must be 1-40 letters, digits, '_', '.' or '-' (starting with a "
            "letter or digit)"
        )
    return value


@dataclass(frozen=True)
class NetworkRange:
    """A network range (CIDR) an organisation's analysts connect from.

    Example:
        >>> NetworkRange("MBC", "192.0.2.0/28").contains("192.0.2.5")
        True
    """

    organisation: str
    cidr: str
    description: str = ""

    def __post_init__(self) -> None:
        parse_network(self.cidr)

    def contains(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        network = parse_network(self.cidr)
        return ip.version == network.version and ip in network


@dataclass(frozen=True)
class Organisation:
    """A local authority, community safety partnership, the force, or another partner.

    Attributes:
        code: short unique code (``MBC``).
        name: the name principals carry (``Middlesbrough Council``).
        kind: one of :data:`ORGANISATION_KINDS`.
        areas: local authority codes the organisation covers (its analysts' area).
        networks: registered network ranges.
    """

    code: str
    name: str
    kind: OrganisationKind
    areas: tuple[str, ...] = ()
    networks: tuple[NetworkRange, ...] = ()

    def __post_init__(self) -> None:
        check_code(self.code, "organisation code")
        if self.kind not in ORGANISATION_KINDS:
            raise InputError(f"organisation kind must be one of {list(ORGANISATION_KINDS)}")
        if not self.name.strip():
            raise InputError("an organisation needs a name")

    def covers(self, area: str) -> bool:
        return area in self.areas


@dataclass(frozen=True)
class Person:
    """Someone known to the gateway: analysts, approvers, SPOCs, administrators.

    Attributes:
        username: login name.
        full_name, role_title, email, phone: contact details (as on the request forms).
        organisation: organisation code.
        roles: subset of :data:`ROLES`.
        line_manager: username of their line manager (endorses their requests).
        senior_analyst: username of their designated senior analyst (authorises their
            record-level releases, QAs their products; policy 198 appendix 2 and 3.2).
        deputies: for a senior analyst, who may act for them (the designated senior analyst's
            deputies complete each of their analysts' authoriser chain).
        local_supervisor: username of their local supervisor in their own organisation (a
            partner organisation's analysts need one before access goes live).
        areas: for superintendents, the local authority codes they police.
        workstations: designated workstation addresses (IP or CIDR); empty = any registered
            address of the organisation.
        left_on: when they left (access revoked); None while in post.
    """

    username: str
    full_name: str
    organisation: str
    role_title: str
    email: str
    roles: frozenset[str] = field(default_factory=frozenset)
    phone: str = ""
    line_manager: str | None = None
    areas: tuple[str, ...] = ()
    workstations: tuple[str, ...] = ()
    left_on: datetime | None = None
    senior_analyst: str | None = None
    deputies: tuple[str, ...] = ()
    local_supervisor: str | None = None

    def __post_init__(self) -> None:
        check_code(self.username, "username")
        unknown = sorted(set(self.roles) - set(ROLES))
        if unknown:
            raise InputError(f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}")
        for relation, whom in (
            ("line manager", self.line_manager),
            ("designated senior analyst", self.senior_analyst),
            ("local supervisor", self.local_supervisor),
        ):
            if whom == self.username:
                raise InputError(f"a person cannot be their own {relation}")
        if self.username in self.deputies:
            raise InputError("a senior analyst cannot be their own deputy")
        for address in self.workstations:
            parse_network(address)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def in_post(self, at: datetime) -> bool:
        return self.left_on is None or at < self.left_on


@dataclass(frozen=True)
class Grant:
    """An authorised request in force: what the policy engine enforces for its holder.

    Attributes:
        grant_id: ``G-…`` (same suffix as its request).
        request_id: the authorised access request.
        username: the holder.
        level: ``general`` or ``enhanced``.
        purposes: approved purpose codes.
        areas: the holder's local authority codes (their partnership area).
        tables, unmask, extra_areas: enhanced only: extra tables, ``table.column`` unmasks and
            extra areas, applied only to queries for this grant's purposes.
        starts, ends: first and last day (inclusive); ``ends`` None = until reviewed.
        reason: why (the enhanced justification).
        authorised_by, authorised_at: the head of intelligence and when.
        revoked_at, revoked_by, revoke_reason: set when revoked (leaver, access review).
    """

    grant_id: str
    request_id: str
    username: str
    level: GrantLevel
    purposes: tuple[str, ...]
    areas: tuple[str, ...]
    starts: date
    ends: date | None
    authorised_by: str
    authorised_at: datetime
    tables: tuple[str, ...] = ()
    unmask: tuple[str, ...] = ()
    extra_areas: tuple[str, ...] = ()
    reason: str = ""
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str = ""

    def active_at(self, at: datetime) -> bool:
        """In force at ``at``: started, not ended, not revoked."""
        if self.revoked_at is not None and self.revoked_at <= at:
            return False
        day = at.date()
        return self.starts <= day and (self.ends is None or day <= self.ends)

    def ended_before(self, at: datetime) -> bool:
        """Ran its course (end date passed) before ``at`` without being revoked."""
        return self.revoked_at is None and self.ends is not None and end_of_day(self.ends) < at

    def access_grant(self) -> AccessGrant:
        """The principal's view of this grant (enhanced widening, per purpose, dated)."""
        return AccessGrant(
            grant_id=self.grant_id,
            purposes=self.purposes,
            starts=self.starts,
            ends=self.ends,
            tables=self.tables,
            unmask=self.unmask,
            areas=self.extra_areas,
            reason=self.reason,
        )


@dataclass(frozen=True)
class Suspension:
    """An immediate stop on someone's access (misuse, unconfirmed access review …).

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 5, 1, tzinfo=timezone.utc)
        >>> s = Suspension(1, "a.khan", "misuse", "shared a login", "i.sec", t)
        >>> s.in_force(t), s.in_force(t.replace(month=4))
        (True, False)
    """

    suspension_id: int
    username: str
    kind: SuspensionKind
    reason: str
    suspended_by: str
    suspended_at: datetime
    lifted_by: str | None = None
    lifted_at: datetime | None = None
    lift_comment: str = ""

    def in_force(self, at: datetime) -> bool:
        return self.suspended_at <= at and (self.lifted_at is None or at < self.lifted_at)
