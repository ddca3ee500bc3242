"""Keeping the register: organisations and their networks, people and their roles, the records
that must be in place before access goes live, and settings.

Who may do what:

==========================================  ==============================================
organisations, networks, people, settings    admin (settings also break-glass on the host)
roles, line managers, workstations,         admin (never on their own record)
designated senior analyst, local supervisor
vetting, training records                    admin or information security officer (not own)
declarations (confidentiality, DP, SyOPs)    the person themselves, or an admin
memorandum of understanding (organisation    admin
or applicant)
code-of-connection declaration               the organisation's SPOC
==========================================  ==============================================

Example:
    >>> service.record_vetting("i.sec", Vetting("a.khan", "NPPV2", date(2026, 1, 5),
    ...                                         date(2031, 1, 4)))          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from gateway.audit.kinds import EventKind
from gateway.auth.permissions import Action, Subject
from gateway.errors import (
    InputError,
    WrongRole,
)
from gateway.governance.model import (
    NetworkRange,
    Organisation,
    Person,
)
from gateway.governance.operations import Acting, Operations
from gateway.governance.preconditions import (
    DECLARATION_KINDS,
    TRAINING_KINDS,
    VETTING_LEVELS,
    CodeOfConnection,
    Declaration,
    Memorandum,
    Training,
    Vetting,
)
from gateway.governance.settings import GovernanceSettings
from gateway.governance.store import Reader

__all__ = ["RegisterOperations"]


class RegisterOperations(Operations):
    """Organisations, networks, people, precondition records, settings."""

    # --- settings ------------------------------------------------------------------------------

    def settings(self) -> GovernanceSettings:
        with self.store.reading() as r:
            return r.settings()

    def set_settings(self, actor: Acting, settings: GovernanceSettings, comment: str = "") -> None:
        """Change the settings (an administrator; or break-glass on the host, e.g. when the
        origin checks lock every administrator out)."""
        with self._change_by(actor, Action.CHANGE_SETTINGS) as (tx, _):
            before = tx.settings()
            tx.set_settings(settings)
            self._event(
                tx,
                EventKind.ACCESS_SETTINGS_CHANGED,
                actor,
                subject="governance settings",
                comment=comment,
                before=before.to_json(),
                after=settings.to_json(),
            )

    # --- what the register holds (administrators and oversight roles) -------------------------

    def organisations_as(self, actor: str) -> list[Organisation]:
        """Every organisation with its areas and networks.

        Raises:
            WrongRole: not an administrator, ISO or head of intelligence.
        """
        with self.store.reading() as r:
            self._need(r, actor, Action.SEE_REGISTER, self.clock())
            return r.organisations()

    def people_as(self, actor: str) -> list[tuple[Person, str]]:
        """Everyone in the register with their state now: ``left``, ``suspended`` or their
        data level (``none``, ``general``, ``enhanced``).

        Raises:
            WrongRole: not an administrator, ISO or head of intelligence.
        """
        at = self.clock()
        with self.store.reading() as r:
            self._need(r, actor, Action.SEE_REGISTER, at)
            people: list[tuple[Person, str]] = []
            for person in r.people():
                standing = r.standing(person, at)
                state = (
                    "left"
                    if standing.left
                    else "suspended"
                    if standing.suspension
                    else standing.principal.level
                )
                people.append((person, state))
            return people

    # --- register: organisations, networks, people ------------------------------------------

    def add_organisation(self, actor: str, organisation: Organisation) -> None:
        with self._change_by(actor, Action.REGISTER_ORGANISATION) as (tx, at):
            tx.add_organisation(organisation, at=at)
            self._event(
                tx,
                EventKind.ACCESS_ORGANISATION_ADDED,
                actor,
                subject=organisation.code,
                name=organisation.name,
                kind=organisation.kind,
                areas=list(organisation.areas),
            )

    def add_network(self, actor: str, network: NetworkRange) -> None:
        with self._change_by(actor, Action.ADD_NETWORK) as (tx, at):
            tx.add_network(network, by=actor, at=at)
            self._event(
                tx,
                EventKind.ACCESS_NETWORK_ADDED,
                actor,
                subject=network.organisation,
                comment=network.description,
                cidr=network.cidr,
            )

    def remove_network(self, actor: str, organisation: str, cidr: str, comment: str = "") -> None:
        with self._change_by(actor, Action.REMOVE_NETWORK) as (tx, _):
            tx.remove_network(organisation, cidr)
            self._event(
                tx,
                EventKind.ACCESS_NETWORK_REMOVED,
                actor,
                subject=organisation,
                comment=comment,
                cidr=cidr,
            )

    def add_person(self, actor: str, person: Person) -> None:
        with self._change_by(actor, Action.REGISTER_USER) as (tx, _):
            self._check_relations(tx, person)
            tx.put_person(person, new=True)
            self._event(
                tx,
                EventKind.USER_ADDED,
                actor,
                subject=person.username,
                organisation_code=person.organisation,
                roles=sorted(person.roles),
                line_manager=person.line_manager,
            )

    @staticmethod
    def _check_relations(tx: Reader, person: Person) -> None:
        """The people ``person``'s record names hold the roles they are named for: their line
        manager, designated senior analyst, (as a senior analyst) deputies, and local
        supervisor — the last from their own organisation."""
        named = [
            (person.line_manager, "line_manager"),
            (person.senior_analyst, "senior_analyst"),
            (person.local_supervisor, "local_supervisor"),
            *((d, "senior_analyst") for d in person.deputies),
        ]
        for username, role in named:
            if username is None:
                continue
            other = tx.require_person(username)
            if not other.has_role(role):
                raise WrongRole(f"{other.username!r} does not hold the {role} role")
            if role == "local_supervisor" and other.organisation != person.organisation:
                raise WrongRole(
                    f"{other.username!r} is not of {person.organisation}: a local supervisor "
                    "is from the analyst's own organisation"
                )
        if person.deputies and not person.has_role("senior_analyst"):
            raise WrongRole(f"only a senior analyst has deputies; {person.username!r} is not one")

    def update_person(self, actor: str, username: str, comment: str = "", **changes: Any) -> Person:
        """Change a user's record (roles, line manager, designated senior analyst, deputies,
        local supervisor, areas, workstations, contact details).

        Raises:
            SelfApproval: an administrator changing their own record.
        """
        allowed = {
            "full_name",
            "role_title",
            "email",
            "phone",
            "roles",
            "line_manager",
            "areas",
            "workstations",
            "organisation",
            "senior_analyst",
            "deputies",
            "local_supervisor",
        }
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise InputError(f"cannot change {unknown[0]!r} of a user")
        with self._change_by(actor, Action.CHANGE_USER, Subject(username)) as (tx, _):
            before = tx.require_person(username)
            after = replace(before, **changes)
            self._check_relations(tx, after)
            tx.put_person(after, new=False)
            self._event(
                tx,
                EventKind.USER_UPDATED,
                actor,
                subject=username,
                comment=comment,
                changes={
                    k: sorted(v) if isinstance(v, frozenset | tuple) else v
                    for k, v in changes.items()
                },
            )
        return after

    # --- preconditions --------------------------------------------------------------------------

    def _not_in_future(self, what: str, day: date) -> None:
        """A signature, grant or completion is a fact of the past: one dated after today (a
        yearly SyOPs "signed" for 2027–2030 in advance) is refused.

        Raises:
            InputError: ``day`` is after today.
        """
        today = self.clock().date()
        if day > today:
            raise InputError(f"{what} {day.isoformat()} is in the future (today is {today})")

    def record_vetting(self, actor: str, vetting: Vetting) -> None:
        if vetting.level not in VETTING_LEVELS:
            raise InputError(f"vetting level must be one of {', '.join(VETTING_LEVELS)}")
        if vetting.expires < vetting.granted:
            raise InputError("vetting cannot expire before it was granted")
        self._not_in_future("vetting granted", vetting.granted)
        with self._change_by(actor, Action.RECORD_VETTING, Subject(vetting.username)) as (tx, at):
            tx.add_vetting(vetting, by=actor, at=at)
            self._event(
                tx,
                EventKind.USER_VETTING_RECORDED,
                actor,
                subject=vetting.username,
                level=vetting.level,
                granted=vetting.granted.isoformat(),
                expires=vetting.expires.isoformat(),
            )

    def record_declaration(self, actor: str, declaration: Declaration) -> None:
        if declaration.kind not in DECLARATION_KINDS:
            raise InputError(f"declaration kind must be one of {', '.join(DECLARATION_KINDS)}")
        self._not_in_future("declaration signed", declaration.signed)
        at = self.clock()
        with self.store.writing() as tx:
            self._need(tx, actor, Action.RECORD_DECLARATION, at, Subject(declaration.username))
            tx.add_declaration(declaration, by=actor, at=at)
            self._event(
                tx,
                EventKind.USER_DECLARATION_SIGNED,
                actor,
                subject=declaration.username,
                kind=declaration.kind,
                signed=declaration.signed.isoformat(),
            )

    def record_training(self, actor: str, training: Training) -> None:
        if training.kind not in TRAINING_KINDS:
            raise InputError(f"training kind must be one of {', '.join(TRAINING_KINDS)}")
        self._not_in_future("training completed", training.completed)
        with self._change_by(actor, Action.RECORD_TRAINING, Subject(training.username)) as (tx, at):
            tx.add_training(training, by=actor, at=at)
            self._event(
                tx,
                EventKind.USER_TRAINING_RECORDED,
                actor,
                subject=training.username,
                kind=training.kind,
                completed=training.completed.isoformat(),
            )

    def record_memorandum(self, actor: str, memorandum: Memorandum) -> None:
        """The organisation's memorandum of understanding, or (``username``) an applicant's own.

        Raises:
            InputError: dated in the future, or an applicant of another organisation.
        """
        self._not_in_future("memorandum signed", memorandum.signed)
        with self._change_by(actor, Action.RECORD_MEMORANDUM) as (tx, at):
            if memorandum.username is not None:
                signer = tx.require_person(memorandum.username)
                if signer.organisation != memorandum.organisation:
                    raise InputError(
                        f"{signer.username!r} is of {signer.organisation}, not "
                        f"{memorandum.organisation}"
                    )
            tx.add_memorandum(memorandum, by=actor, at=at)
            self._event(
                tx,
                EventKind.ACCESS_MEMORANDUM_RECORDED,
                actor,
                subject=memorandum.username or memorandum.organisation,
                organisation_code=memorandum.organisation,
                reference=memorandum.reference,
                signed=memorandum.signed.isoformat(),
                expires=memorandum.expires.isoformat() if memorandum.expires else None,
            )

    def declare_code_of_connection(
        self, actor: str, organisation: str, comment: str = ""
    ) -> CodeOfConnection:
        """The SPOC's annual code-of-connection declaration for their organisation."""
        at = self.clock()
        with self.store.writing() as tx:
            subject = Subject(organisation=organisation)
            self._need(tx, actor, Action.DECLARE_CODE_OF_CONNECTION, at, subject)
            tx.require_organisation(organisation)
            days = tx.settings().coc_valid_days
            coc = CodeOfConnection(organisation, actor, at.date(), at.date() + timedelta(days=days))
            tx.add_code_of_connection(coc)
            self._event(
                tx,
                EventKind.ACCESS_CODE_OF_CONNECTION_DECLARED,
                actor,
                subject=organisation,
                comment=comment,
                valid_until=coc.valid_until.isoformat(),
            )
        return coc
