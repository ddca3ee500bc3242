"""What a partner organisation needs before its people connect, and whether it is stopped. Pure.

The connection agreement and policy 198 put conditions on the organisation, not only on its
analysts:

- an **Information Sharing Agreement** (ISA), signed and in date, with a copy held by the system
  administrator (the register records which administrator holds it); the list of organisations
  with their ISAs is published (``gateway access org agreements``, ``GET
  /v1/access/organisations``);
- **CSP sponsorship** of a new organisation (kind ``other``: a partner that is not itself a local
  authority, CSP or the force): a community safety partnership (an organisation of kind ``csp``,
  or a local authority hosting one) sponsors it through its SPOC;
- **system-owner authorisation** of the organisation's connection, given only once its ISA (and
  sponsorship, where needed) is in place.

An organisation can also be **stopped** as a whole: suspended (reversible) or terminated (final).
While a stop is in force, every person of the organisation is refused at once.

Example:
    >>> from datetime import date, datetime, timezone
    >>> isa = SharingAgreement("MBC", "ISA-MBC-2026", date(2026, 1, 5), None, "root")
    >>> records = PartnershipRecords("local_authority", agreements=(isa,))
    >>> [s.code for s in partnership_shortfalls(records, date(2026, 6, 1))]
    ['system_owner_authorisation_missing']
    >>> t = datetime(2026, 6, 1, tzinfo=timezone.utc)
    >>> stop = OrganisationStop(1, "MBC", "suspended", "data loss", "i.sec", t)
    >>> stop_in_force((stop,), t).kind
    'suspended'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, get_args

from gateway.governance.shortfall import Shortfall

__all__ = [
    "NEEDS_SPONSOR",
    "SPONSOR_KINDS",
    "STOP_KINDS",
    "OrganisationStop",
    "OwnerAuthorisation",
    "PartnershipRecords",
    "SharingAgreement",
    "Sponsorship",
    "StopKind",
    "partnership_shortfalls",
    "stop_in_force",
]

StopKind = Literal["suspended", "terminated"]
STOP_KINDS: tuple[str, ...] = get_args(StopKind)
#: Organisation kinds that need a CSP's sponsorship before the system owner authorises them.
NEEDS_SPONSOR = frozenset({"other"})
#: Organisation kinds that may sponsor one (a CSP, or the local authority hosting it).
SPONSOR_KINDS = frozenset({"csp", "local_authority"})


@dataclass(frozen=True)
class SharingAgreement:
    """An organisation's Information Sharing Agreement (``expires`` None = open-ended).

    Attributes:
        copied_to: the system administrator (username) who holds the copy.
    """

    organisation: str
    reference: str
    signed: date
    expires: date | None
    copied_to: str

    def valid_on(self, day: date) -> bool:
        return self.signed <= day and (self.expires is None or day <= self.expires)


@dataclass(frozen=True)
class Sponsorship:
    """A CSP's sponsorship of a new organisation, given by the CSP's SPOC."""

    organisation: str
    sponsor: str
    sponsored_by: str
    at: datetime
    comment: str = ""


@dataclass(frozen=True)
class OwnerAuthorisation:
    """The system owner's authorisation of an organisation's connection."""

    organisation: str
    authorised_by: str
    at: datetime
    comment: str = ""


@dataclass(frozen=True)
class OrganisationStop:
    """A suspension (reversible) or termination (final) of a whole organisation."""

    stop_id: int
    organisation: str
    kind: StopKind
    reason: str
    stopped_by: str
    stopped_at: datetime
    lifted_by: str | None = None
    lifted_at: datetime | None = None
    lift_comment: str = ""

    def in_force(self, at: datetime) -> bool:
        return self.stopped_at <= at and (self.lifted_at is None or at < self.lifted_at)


@dataclass(frozen=True)
class PartnershipRecords:
    """Everything on file for one organisation."""

    kind: str
    agreements: tuple[SharingAgreement, ...] = ()
    sponsorships: tuple[Sponsorship, ...] = ()
    authorisations: tuple[OwnerAuthorisation, ...] = ()

    def current_agreement(self, day: date) -> SharingAgreement | None:
        valid = [a for a in self.agreements if a.valid_on(day)]
        return max(valid, key=lambda a: a.signed) if valid else None


def partnership_shortfalls(records: PartnershipRecords, day: date) -> list[Shortfall]:
    """What the organisation still needs on ``day`` (the force itself needs none of it).

    Codes: ``isa_missing``, ``isa_expired``, ``sponsorship_missing``,
    ``system_owner_authorisation_missing``.
    """
    if records.kind == "force":
        return []
    out = []
    if records.current_agreement(day) is None:
        ended = [a.expires for a in records.agreements if a.expires is not None and a.expires < day]
        if ended:
            out.append(
                Shortfall(
                    "isa_expired",
                    "sharing_agreement",
                    f"the organisation's information sharing agreement expired on {max(ended)}",
                    max(ended),
                )
            )
        else:
            out.append(
                Shortfall(
                    "isa_missing",
                    "sharing_agreement",
                    "the organisation has no signed information sharing agreement on record",
                )
            )
    if records.kind in NEEDS_SPONSOR and not records.sponsorships:
        out.append(
            Shortfall(
                "sponsorship_missing",
                "sponsorship",
                "a new organisation needs the sponsorship of a community safety partnership",
            )
        )
    if not any(a.at.date() <= day for a in records.authorisations):
        out.append(
            Shortfall(
                "system_owner_authorisation_missing",
                "system_owner_authorisation",
                "the system owner has not authorised the organisation's connection",
            )
        )
    return out


def stop_in_force(stops: Sequence[OrganisationStop], at: datetime) -> OrganisationStop | None:
    """The stop in force at ``at`` (a termination before a suspension), or None."""
    live = [s for s in stops if s.in_force(at)]
    return min(live, key=lambda s: (s.kind != "terminated", s.stopped_at), default=None)
