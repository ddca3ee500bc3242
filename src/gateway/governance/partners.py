"""Partner organisations as a whole: their Information Sharing Agreement, a CSP's sponsorship,
the system owner's authorisation, the published list, and suspension or termination of every
account of an organisation at once.

==========================================  ==============================================
information sharing agreement               admin (copy held by a named administrator)
sponsorship of a new organisation           the sponsoring CSP's SPOC
system-owner authorisation                  system owner (once the ISA, and sponsorship
                                            where needed, are in place)
suspend / reinstate an organisation         admin, ISO, head of intelligence, system owner
terminate an organisation (final)           system owner or head of intelligence
the published list of organisations         anyone signed in
==========================================  ==============================================

Nobody suspends or terminates their own organisation, and the force itself is never stopped
(its administrators keep the register running). A termination also revokes every grant of the
organisation's people. Each operation is one audited transaction.

Example:
    >>> service.record_sharing_agreement("root", SharingAgreement("MBC", "ISA-MBC-2026",
    ...     date(2026, 1, 5), None, copied_to="root"))                    # doctest: +SKIP
    >>> service.suspend_organisation("i.sec", "MBC", "data loss under investigation")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.audit.kinds import EventKind
from gateway.auth.permissions import Action, Subject
from gateway.errors import Conflict, InputError, NotFound, SelfApproval, StepOutOfOrder, WrongRole
from gateway.governance.model import Organisation
from gateway.governance.operations import Operations
from gateway.governance.partnership import (
    SPONSOR_KINDS,
    OrganisationStop,
    OwnerAuthorisation,
    PartnershipRecords,
    SharingAgreement,
    Sponsorship,
    StopKind,
    partnership_shortfalls,
)
from gateway.governance.store import Writer

__all__ = ["PartnerListing", "PartnershipOperations"]


@dataclass(frozen=True)
class PartnerListing:
    """One line of the published list: an organisation, its current ISA and its standing.

    Attributes:
        agreement: the ISA in force today (None: none in force).
        authorised: the system owner has authorised its connection.
        missing: what it still needs (shortfall codes), empty for the force.
        stopped: ``suspended`` or ``terminated`` while stopped, else None.
    """

    organisation: Organisation
    agreement: SharingAgreement | None
    authorised: bool
    missing: tuple[str, ...]
    stopped: str | None


class PartnershipOperations(Operations):
    """ISAs, sponsorship, system-owner authorisation, organisation stops (module docstring)."""

    def record_sharing_agreement(self, actor: str, agreement: SharingAgreement) -> None:
        """Record an organisation's signed ISA and the administrator holding its copy.

        Raises:
            InputError: signed in the future, ending before it was signed, no reference.
            WrongRole: ``copied_to`` is not an administrator in post.
        """
        if not agreement.reference.strip():
            raise InputError("an information sharing agreement needs its reference")
        if agreement.expires is not None and agreement.expires < agreement.signed:
            raise InputError("an information sharing agreement cannot end before it was signed")
        today = self.clock().date()
        if agreement.signed > today:
            raise InputError(
                f"agreement signed {agreement.signed} is in the future (today is {today})"
            )
        with self._change_by(actor, Action.RECORD_SHARING_AGREEMENT) as (tx, at):
            tx.require_organisation(agreement.organisation)
            holder = tx.require_person(agreement.copied_to)
            if not (holder.has_role("admin") and holder.in_post(at)):
                raise WrongRole(
                    f"the copy of an information sharing agreement is held by the system "
                    f"administrator; {holder.username!r} is not an administrator in post"
                )
            tx.add_sharing_agreement(agreement, by=actor, at=at)
            self._event(
                tx,
                EventKind.ACCESS_SHARING_AGREEMENT_RECORDED,
                actor,
                subject=agreement.organisation,
                reference=agreement.reference,
                signed=agreement.signed.isoformat(),
                expires=agreement.expires.isoformat() if agreement.expires else None,
                copied_to=agreement.copied_to,
            )

    def sponsor_organisation(
        self, actor: str, organisation: str, sponsor: str, comment: str = ""
    ) -> Sponsorship:
        """The sponsoring CSP's SPOC sponsors a new organisation.

        Raises:
            WrongRole: the actor is not the SPOC of ``sponsor``.
            InputError: ``sponsor`` is not a CSP (or a local authority hosting one), or is the
                organisation itself.
        """
        with self._change_by(actor, Action.SPONSOR_ORGANISATION, Subject(organisation=sponsor)) as (
            tx,
            at,
        ):
            sponsored = tx.require_organisation(organisation)
            by = tx.require_organisation(sponsor)
            if by.code == sponsored.code:
                raise InputError("an organisation cannot sponsor itself")
            if by.kind not in SPONSOR_KINDS:
                raise InputError(
                    f"{by.name} is a {by.kind}: a sponsor is a community safety partnership "
                    "(or the local authority hosting one)"
                )
            sponsorship = Sponsorship(organisation, sponsor, actor, at, comment.strip())
            tx.add_sponsorship(sponsorship)
            self._event(
                tx,
                EventKind.ACCESS_ORGANISATION_SPONSORED,
                actor,
                subject=organisation,
                comment=comment,
                sponsor=sponsor,
            )
        return sponsorship

    def authorise_organisation(
        self, actor: str, organisation: str, comment: str = ""
    ) -> OwnerAuthorisation:
        """The system owner authorises an organisation's connection.

        Raises:
            WrongRole: the actor is not the system owner.
            StepOutOfOrder: no ISA in force, or a new organisation not yet sponsored.
        """
        with self._change_by(actor, Action.AUTHORISE_ORGANISATION) as (tx, at):
            org = tx.require_organisation(organisation)
            if org.kind == "force":
                raise InputError("the force's own connection needs no authorisation")
            before = tx.partnership(org)
            gaps = [
                s.message
                for s in partnership_shortfalls(before, at.date())
                if s.code != "system_owner_authorisation_missing"
            ]
            if gaps:
                raise StepOutOfOrder(f"{org.name} cannot be authorised yet: " + "; ".join(gaps))
            authorisation = OwnerAuthorisation(organisation, actor, at, comment.strip())
            tx.add_owner_authorisation(authorisation)
            self._event(
                tx,
                EventKind.ACCESS_ORGANISATION_AUTHORISED,
                actor,
                subject=organisation,
                comment=comment,
                agreement=(a.reference if (a := before.current_agreement(at.date())) else None),
            )
        return authorisation

    # --- stopping an organisation ----------------------------------------------------------

    def suspend_organisation(self, actor: str, organisation: str, reason: str) -> int:
        """Suspend every account of ``organisation`` at once (reversible). Returns its id."""
        return self._stop(actor, organisation, reason, "suspended", Action.SUSPEND_ORGANISATION)

    def terminate_organisation(self, actor: str, organisation: str, reason: str) -> int:
        """End the organisation's access for good: every account stopped, every grant revoked."""
        return self._stop(actor, organisation, reason, "terminated", Action.TERMINATE_ORGANISATION)

    def _stop(
        self, actor: str, organisation: str, reason: str, kind: StopKind, action: Action
    ) -> int:
        if not reason.strip():
            raise InputError(f"an organisation {kind} must give its reason")
        with self._change_by(actor, action) as (tx, at):
            org = self._stoppable(tx, actor, organisation)
            current = tx.organisation_stop(organisation, at)
            if current is not None and (current.kind == "terminated" or kind == "suspended"):
                raise Conflict(f"{org.name} is already {current.kind}")
            stop_id = tx.add_organisation_stop(
                organisation, kind=kind, reason=reason.strip(), by=actor, at=at
            )
            people = [p.username for p in tx.people(organisation)]
            revoked: list[str] = []
            if kind == "terminated":
                for username in people:
                    revoked += tx.revoke_grants(
                        username, by=actor, at=at, reason=f"organisation terminated: {reason}"
                    )
            self._event(
                tx,
                EventKind.ACCESS_ORGANISATION_TERMINATED
                if kind == "terminated"
                else EventKind.ACCESS_ORGANISATION_SUSPENDED,
                actor,
                subject=organisation,
                comment=reason,
                stop_id=stop_id,
                people=people,
                grants=revoked,
            )
        return stop_id

    def _stoppable(self, tx: Writer, actor: str, organisation: str) -> Organisation:
        org = tx.require_organisation(organisation)
        if org.kind == "force":
            raise InputError(
                "the force itself cannot be stopped (its people keep the register running); "
                "suspend its people one by one"
            )
        if tx.require_person(actor).organisation == organisation:
            raise SelfApproval(f"{actor!r} cannot stop their own organisation")
        return org

    def reinstate_organisation(self, actor: str, organisation: str, comment: str) -> int:
        """Lift the organisation's suspension (a termination is final). Returns how many
        suspensions were lifted.

        Raises:
            NotFound: not suspended. StepOutOfOrder: terminated.
        """
        if not comment.strip():
            raise InputError("reinstating an organisation must say why")
        with self._change_by(actor, Action.REINSTATE_ORGANISATION) as (tx, at):
            org = self._stoppable(tx, actor, organisation)
            current = tx.organisation_stop(organisation, at)
            if current is not None and current.kind == "terminated":
                raise StepOutOfOrder(f"{org.name} was terminated; a termination is final")
            lifted = tx.lift_organisation_stops(organisation, by=actor, at=at, comment=comment)
            if lifted == 0:
                raise NotFound(f"{org.name} is not suspended")
            self._event(
                tx,
                EventKind.ACCESS_ORGANISATION_REINSTATED,
                actor,
                subject=organisation,
                comment=comment,
                lifted=lifted,
            )
        return lifted

    def organisation_stops(self, organisation: str) -> tuple[OrganisationStop, ...]:
        with self.store.reading() as r:
            r.require_organisation(organisation)
            return r.organisation_stops(organisation)

    # --- the published list -------------------------------------------------------------------

    def partner_list(self) -> list[PartnerListing]:
        """Every organisation with its ISA in force, authorisation and what it still needs
        (the list policy 198 has published)."""
        at = self.clock()
        out = []
        with self.store.reading() as r:
            for org in r.organisations():
                records: PartnershipRecords = r.partnership(org)
                stop = r.organisation_stop(org.code, at)
                out.append(
                    PartnerListing(
                        organisation=org,
                        agreement=records.current_agreement(at.date()),
                        authorised=org.kind == "force" or bool(records.authorisations),
                        missing=tuple(s.code for s in partnership_shortfalls(records, at.date())),
                        stopped=stop.kind if stop is not None else None,
                    )
                )
        return out
