"""Access requests through their workflow: submission, endorsements, reviews, authorisation
(which issues the grant), refusal and withdrawal; pending lists; a user's standing.

The decision is made on the request as read, and the write succeeds only if the request is
still at that version, so of two approvers acting on the same request at once exactly one
succeeds; the other gets :class:`~gateway.errors.Conflict` (409).

Example:
    >>> request = service.submit("a.khan", form)                              # doctest: +SKIP
    >>> service.endorse("m.jones", request.request_id, "supports the SA")    # doctest: +SKIP
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from gateway.audit.kinds import EventKind
from gateway.auth import permissions
from gateway.auth.permissions import Subject, require
from gateway.errors import (
    GatewayError,
    InputError,
)
from gateway.governance.checklist import ChecklistItem, checklist
from gateway.governance.model import Grant, Person
from gateway.governance.operations import Operations, new_id
from gateway.governance.preconditions import shortfalls
from gateway.governance.requests import (
    AccessRequest,
    Applicant,
    RequestForm,
    Transition,
    validate_form,
)
from gateway.governance.standing import Standing
from gateway.governance.status import AccessStatus, access_status
from gateway.governance.workflow import Action, decide, next_step, pending_for

__all__ = ["ApprovalOperations", "grant_for"]


class ApprovalOperations(Operations):
    """Submitting and deciding access requests."""

    # --- the request workflow -------------------------------------------------------------------

    def submit(self, actor: str, form: RequestForm) -> AccessRequest:
        """Submit an access request (by the applicant, or an admin on their behalf).

        Raises:
            InputError: the form is invalid for the policy (see :func:`validate_form`).
            WrongRole: someone else submitting who is not an admin.
        """
        at = self.clock()
        with self.store.writing() as tx:
            submitter = self._acting(tx, actor, at)
            applicant = self._acting(tx, form.applicant, at)
            require(submitter, permissions.Action.SUBMIT_REQUEST, Subject(form.applicant))
            if not applicant.phone.strip():
                raise InputError(
                    f"the request form needs the applicant's telephone number: "
                    f"{applicant.username!r} has none on record (an administrator records it: "
                    "gateway access user update --phone)"
                )
            org = tx.require_organisation(applicant.organisation)
            settings = tx.settings()
            resolved = validate_form(
                form,
                self.policy,
                org,
                today=at.date(),
                enhanced_max_days=settings.enhanced_max_days,
            )
            if resolved.deputy_for is not None:
                principal = tx.require_person(resolved.deputy_for)
                if principal.username == applicant.username:
                    raise InputError("an applicant cannot deputise for themselves")
                if principal.organisation != applicant.organisation:
                    raise InputError("a deputy must be from the same organisation")
            request = AccessRequest(
                request_id=new_id("AR", at),
                form=resolved,
                applicant=Applicant(
                    applicant.username,
                    applicant.full_name,
                    applicant.role_title,
                    org.code,
                    org.name,
                    applicant.email,
                    applicant.phone,
                ),
                history=(
                    Transition(
                        "submitted",
                        actor,
                        "applicant" if actor == form.applicant else "admin",
                        at,
                        phone=applicant.phone.strip(),
                    ),
                ),
            )
            tx.insert_request(request)
            self._event(
                tx,
                EventKind.ACCESS_REQUESTED,
                actor,
                subject=request.request_id,
                applicant=applicant.username,
                level=resolved.level,
                purposes=list(resolved.purpose_codes),
                areas=list(resolved.areas),
                tables=list(resolved.enhanced.tables) if resolved.enhanced else [],
                unmask=list(resolved.enhanced.unmask) if resolved.enhanced else [],
                ends=resolved.ends.isoformat() if resolved.ends else None,
                deputy_for=resolved.deputy_for,
            )
        return request

    def act(self, actor: str, request_id: str, action: Action, comment: str = "") -> AccessRequest:
        """Take ``action`` on a request; on authorisation the grant is issued in the same step.

        The request is read, the decision made on what was read, and the write succeeds only
        if the request is still at the version read (so of two approvers acting at once on the
        same request exactly one succeeds; the other gets Conflict).

        Raises:
            StepOutOfOrder, SelfApproval, SeparationOfDuties, WrongRole, AccountSuspended,
            NotFound, InputError, Conflict; AuditUnavailable (nothing changed).
        """
        at = self.clock()
        with self.store.reading() as r:
            request = r.require_request(request_id)
            person = self._acting(r, actor, at)
            applicant = r.require_person(request.form.applicant)
            org = r.require_organisation(request.applicant.organisation)
        updated = decide(
            request, action, person, applicant=applicant, organisation=org, at=at, comment=comment
        )
        grant = grant_for(updated, at) if updated.state == "authorised" else None
        with self.store.writing() as tx:
            tx.update_request(updated, expected_version=request.version)
            extra: dict[str, Any] = {
                "state": updated.state,
                "step_role": updated.history[-1].role,
                "applicant": applicant.username,
            }
            if grant is not None:
                tx.insert_grant(grant)
                extra |= {
                    "grant_id": grant.grant_id,
                    "level": grant.level,
                    "purposes": list(grant.purposes),
                    "areas": list(grant.areas),
                    "tables": list(grant.tables),
                    "unmask": list(grant.unmask),
                    "starts": grant.starts.isoformat(),
                    "ends": grant.ends.isoformat() if grant.ends else None,
                }
            kind = {
                "endorse": EventKind.ACCESS_ENDORSED,
                "review": EventKind.ACCESS_REVIEWED,
                "authorise": EventKind.ACCESS_AUTHORISED,
                "refuse": EventKind.ACCESS_REFUSED,
                "withdraw": EventKind.ACCESS_WITHDRAWN,
            }[action]
            self._event(tx, kind, actor, subject=request_id, comment=comment, **extra)
        return updated

    def endorse(self, actor: str, request_id: str, comment: str = "") -> AccessRequest:
        """Line manager's or superintendent's endorsement (whichever the request needs next)."""
        return self.act(actor, request_id, "endorse", comment)

    def review(self, actor: str, request_id: str, comment: str = "") -> AccessRequest:
        """Analysis manager's or information security officer's review."""
        return self.act(actor, request_id, "review", comment)

    def authorise(self, actor: str, request_id: str, comment: str = "") -> AccessRequest:
        """Head of intelligence's authorisation: issues the grant."""
        return self.act(actor, request_id, "authorise", comment)

    def refuse(self, actor: str, request_id: str, comment: str) -> AccessRequest:
        """Refusal by whoever holds the step the request is waiting for."""
        return self.act(actor, request_id, "refuse", comment)

    def withdraw(self, actor: str, request_id: str, comment: str = "") -> AccessRequest:
        """Withdrawal by the applicant."""
        return self.act(actor, request_id, "withdraw", comment)

    def request(self, request_id: str) -> AccessRequest:
        with self.store.reading() as r:
            return r.require_request(request_id)

    def requests(
        self, *, applicant: str | None = None, open_only: bool = False
    ) -> list[AccessRequest]:
        with self.store.reading() as r:
            return r.requests(applicant=applicant, open_only=open_only)

    def requests_as(
        self, actor: str, *, applicant: str | None = None, open_only: bool = False
    ) -> list[AccessRequest]:
        """The requests ``actor`` may see (:meth:`request_as`), oldest first."""
        with self.store.reading() as r:
            viewer = self._acting(r, actor, self.clock())
            found = r.requests(applicant=applicant, open_only=open_only)
        return [
            request
            for request in found
            if permissions.allows(
                viewer,
                permissions.Action.SEE_REQUEST,
                Subject(request.form.applicant, related=frozenset(request.participants)),
            )
        ]

    def pending(self, role: str, *, actor: str | None = None) -> list[AccessRequest]:
        """Open requests waiting for ``role``; with ``actor``, only those they may act on."""
        at = self.clock()
        with self.store.reading() as r:
            waiting = pending_for(role, r.requests(open_only=True))
            if actor is None:
                return waiting
            person = r.require_person(actor)
            out = []
            for request in waiting:
                step = next_step(request.state)
                assert step is not None
                applicant = r.require_person(request.form.applicant)
                org = r.require_organisation(request.applicant.organisation)
                try:
                    decide(
                        request, step.action, person, applicant=applicant, organisation=org, at=at
                    )
                except InputError:  # theirs, once they give what the form asks (comment, phone)
                    pass
                except GatewayError:  # not theirs to take: own, already acted, wrong role
                    continue
                out.append(request)
            return out

    def status_as(self, actor: str, username: str) -> AccessStatus:
        """``username``'s checklist, for themselves, their line manager, their organisation's
        SPOC, or an administrator / ISO / head of intelligence.

        Raises:
            WrongRole: anyone else.
        """
        with self.store.reading() as r:
            viewer = r.require_person(actor)
            subject = r.require_person(username)
        related = frozenset(u for u in (subject.line_manager, subject.local_supervisor) if u)
        require(
            viewer, permissions.Action.SEE_STATUS, Subject(username, subject.organisation, related)
        )
        return self.status(username)

    def request_as(self, actor: str, request_id: str) -> AccessRequest:
        """A request, for its applicant, anyone who acted on it, approvers and administrators.

        Raises:
            WrongRole: anyone else; NotFound: no such request.
        """
        with self.store.reading() as r:
            request = r.require_request(request_id)
            viewer = r.require_person(actor)
        seen_by = Subject(
            request.form.applicant, related=frozenset(request.participants), name=request_id
        )
        require(viewer, permissions.Action.SEE_REQUEST, seen_by)
        return request

    def own_record(self, actor: str) -> Person:
        """``actor``'s own register record (the applicant's details a request form shows)."""
        with self.store.reading() as r:
            return r.require_person(actor)

    def checklist_as(self, actor: str, request_id: str) -> tuple[ChecklistItem, ...]:
        """The request's precondition checklist (what is recorded for its applicant and their
        organisation, what is missing, for the level asked), for those deciding it: the
        applicant, whoever has acted on it or may take its next step, and whoever may see the
        applicant's status (their line manager or local supervisor, their organisation's
        SPOC, oversight). Another approver who may see the request does not see the
        applicant's vetting and records.

        Raises:
            WrongRole: anyone else; NotFound: no such request.
        """
        request = self.request_as(actor, request_id)
        deciding = actor in request.participants or any(
            waiting.request_id == request_id for waiting in self.waiting_for(actor)
        )
        at = self.clock()
        with self.store.reading() as r:
            viewer = r.require_person(actor)
            applicant = r.require_person(request.form.applicant)
            if not deciding:
                related = frozenset(
                    u for u in (applicant.line_manager, applicant.local_supervisor) if u
                )
                subject = Subject(applicant.username, applicant.organisation, related)
                require(viewer, permissions.Action.SEE_STATUS, subject)
            records = r.precondition_records(applicant, at)
            rules = r.settings().preconditions
        return checklist(records, request.form.level, at.date(), rules)

    def status(self, username: str, at: datetime | None = None) -> AccessStatus:
        """ "What is missing before I can start": the user's checklist at ``at`` (default now)."""
        at = at or self.clock()
        with self.store.reading() as r:
            person = r.require_person(username)
            current = r.standing(person, at)
            open_requests = r.requests(applicant=username, open_only=True)
            levels = {req.form.level for req in open_requests}
            wanted = "enhanced" if "enhanced" in levels else "general"
            records = r.precondition_records(person, at)
            rules = r.settings().preconditions
            organisation = r.require_organisation(person.organisation)
        return access_status(
            current, organisation, open_requests, shortfalls(records, wanted, at.date(), rules)
        )

    def waiting_for(self, actor: str, role: str | None = None) -> list[AccessRequest]:
        """Open requests whose next step ``actor`` may take (for ``role``, or any role they
        hold), oldest first."""
        with self.store.reading() as r:
            roles = [role] if role else sorted(r.require_person(actor).roles)
        found: dict[str, AccessRequest] = {}
        for each in roles:
            for request in self.pending(each, actor=actor):
                found[request.request_id] = request
        return sorted(found.values(), key=lambda r: r.submitted_at)

    # --- standing -------------------------------------------------------------------------------

    def standing(self, username: str, at: datetime | None = None) -> Standing:
        """The user's standing (principal, grants, shortfalls) at ``at`` (default now)."""
        at = at or self.clock()
        with self.store.reading() as r:
            return r.standing(r.require_person(username), at)


def grant_for(request: AccessRequest, at: datetime) -> Grant:
    """The grant an authorised request becomes (starting no earlier than its authorisation)."""
    form = request.form
    starts: date = max(form.starts or at.date(), at.date())
    enhanced = form.enhanced
    return Grant(
        grant_id="G-" + request.request_id.removeprefix("AR-"),
        request_id=request.request_id,
        username=form.applicant,
        level=form.level,
        purposes=form.purpose_codes,
        areas=form.areas,
        starts=starts,
        ends=form.ends,
        authorised_by=request.history[-1].actor,
        authorised_at=at,
        tables=enhanced.tables if enhanced is not None else (),
        unmask=enhanced.unmask if enhanced is not None else (),
        extra_areas=enhanced.areas if enhanced is not None else (),
        reason=enhanced.justification if enhanced is not None else "",
    )
