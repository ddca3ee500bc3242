"""From grants to a principal: what someone may do at a moment, and why not. Pure: no I/O.

:func:`standing` combines a person's grants, suspensions and precondition records into the
:class:`~gateway.principal.Principal` the policy engine enforces:

- only grants in force at ``at`` count — an ended grant stops at once;
- level = ``enhanced`` if an enhanced grant is in force, else ``general`` if a general one is,
  else ``none``; areas are the grants' (partnership) areas, enhanced grants ride along as
  :class:`~gateway.principal.AccessGrant` (per purpose, dated); purposes are the union;
- if the preconditions for that level are not met, the principal drops to the highest level
  whose preconditions are (an enhanced holder without enhanced vetting keeps general access),
  or to ``none`` with no purposes — the reason stays on the :class:`Standing`;
- when every grant has run out, ``expires_at`` is the last end, so queries fail with
  ``access_expired``; a suspension sets ``suspended`` (``account_suspended``); a leaver is
  suspended for good; so is everyone of an organisation suspended or terminated as a whole;
- the principal carries their designated senior analyst and deputies (``senior_analysts``), who
  authorise their releases and QA their products.

Example:
    >>> from datetime import date, datetime, timezone
    >>> from gateway.governance.model import Grant, Organisation, Person
    >>> from gateway.governance.preconditions import PreconditionRecords
    >>> at = datetime(2026, 5, 1, 9, tzinfo=timezone.utc)
    >>> org = Organisation("CLE", "Cleveland Police", "force", ("E06000002",))
    >>> person = Person("a.khan", "Aisha Khan", "CLE", "Analyst", "a@example.org",
    ...                 frozenset({"analyst"}))
    >>> grant = Grant("G-1", "AR-1", "a.khan", "general", ("SA",), ("E06000002",),
    ...               date(2026, 1, 1), None, "h.intel", at)
    >>> s = standing(person, org, (grant,), (), PreconditionRecords("force"), at)
    >>> s.principal.level, [x.code for x in s.shortfalls][:1]
    ('none', ['vetting_missing'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.errors import AccessDenied, AccessExpired, AccountSuspended
from gateway.governance.model import Grant, Organisation, Person, Suspension, end_of_day
from gateway.governance.partnership import OrganisationStop
from gateway.governance.preconditions import (
    PreconditionRecords,
    PreconditionRules,
    Shortfall,
    refusal,
    shortfalls,
)
from gateway.principal import Level, Principal

__all__ = ["Standing", "standing"]


@dataclass(frozen=True)
class Standing:
    """Someone's access at a moment, with the reasons behind it.

    Attributes:
        principal: what the policy engine enforces.
        grants: the grants in force (before any precondition downgrade).
        granted_level: the level the grants give (``principal.level`` may be lower).
        shortfalls: what is missing for ``granted_level`` (empty = nothing missing).
        suspension: the suspension in force, if any.
        left: the person has left (access revoked for good).
        organisation_stop: their organisation's suspension or termination in force, if any.
    """

    principal: Principal
    grants: tuple[Grant, ...]
    granted_level: Level
    shortfalls: tuple[Shortfall, ...]
    suspension: Suspension | None = None
    left: bool = False
    organisation_stop: OrganisationStop | None = None

    @property
    def live(self) -> bool:
        """May query data now (a data level, not suspended)."""
        return self.principal.level != "none" and not self.principal.suspended

    def refusal(self, at: datetime) -> AccessDenied | None:
        """Why this person may not query data at ``at`` (None if they may).

        Order: left or suspended, then expired grants, then no grant, then preconditions.
        """
        p = self.principal
        stop = self.organisation_stop
        if stop is not None:
            return AccountSuspended(
                f"the account {p.username!r} is stopped: their organisation was {stop.kind} on "
                f"{stop.stopped_at:%Y-%m-%d} ({stop.reason})"
            )
        if self.left:
            return AccountSuspended(f"the account {p.username!r} is closed (the user has left)")
        if self.suspension is not None:
            return AccountSuspended(
                f"the account {p.username!r} is suspended since "
                f"{self.suspension.suspended_at:%Y-%m-%d} ({self.suspension.kind})"
            )
        if not self.grants:
            if p.expires_at is not None and p.expires_at <= at:
                return AccessExpired(
                    f"access for {p.username!r} expired on {p.expires_at:%Y-%m-%d}"
                )
            return AccessDenied(f"{p.username!r} holds no authorised access grant")
        if p.level == "none":
            return refusal(self.shortfalls, p.username)
        return None


def _level_of(grants: Sequence[Grant]) -> Level:
    levels = {g.level for g in grants}
    return "enhanced" if "enhanced" in levels else "general" if "general" in levels else "none"


def standing(
    person: Person,
    organisation: Organisation,
    grants: Sequence[Grant],
    suspensions: Sequence[Suspension],
    records: PreconditionRecords,
    at: datetime,
    rules: PreconditionRules | None = None,
    *,
    organisation_stop: OrganisationStop | None = None,
) -> Standing:
    """The person's :class:`Standing` at ``at`` (see the module docstring for the rules)."""
    active = tuple(g for g in grants if g.username == person.username and g.active_at(at))
    suspension = next((s for s in suspensions if s.in_force(at)), None)
    left = not person.in_post(at)
    granted: Level = _level_of(active)
    missing = shortfalls(records, granted, at.date(), rules) if granted != "none" else ()
    usable: tuple[Grant, ...] = active
    if missing and granted == "enhanced":
        general_only = tuple(g for g in active if g.level == "general")
        if general_only and not shortfalls(records, "general", at.date(), rules):
            usable = general_only
        else:
            usable = ()
    elif missing:
        usable = ()
    level = _level_of(usable)
    enhanced = [g for g in usable if g.level == "enhanced"]
    ends = [g.ends for g in active]
    if active:
        expires_at = None if any(e is None for e in ends) else end_of_day(max(e for e in ends if e))
    else:
        lapsed = [g.ends for g in grants if g.ended_before(at) and g.ends is not None]
        expires_at = end_of_day(max(lapsed)) if lapsed else None
    principal = Principal(
        username=person.username,
        organisation=organisation.name,
        level=level,
        areas=tuple(dict.fromkeys(a for g in usable for a in g.areas)),
        purposes=tuple(dict.fromkeys(p for g in usable for p in g.purposes)),
        roles=frozenset(person.roles) if not left else frozenset(),
        grants=tuple(g.access_grant() for g in enhanced),
        expires_at=expires_at,
        suspended=suspension is not None or left or organisation_stop is not None,
        senior_analysts=records.senior_analysts,
    )
    return Standing(principal, active, granted, missing, suspension, left, organisation_stop)
