"""Break-glass on the gateway's host: bootstrap and recovery of the register.

Every other governance operation is taken by an authenticated person through the server. These
are the exceptions, for a :class:`~gateway.auth.breakglass.HostOperator` (the operating-system
user who can open the data directory, with a required reason), each audited as break-glass:

==========================================  ==============================================
bootstrap                                    the first administrator and their organisation,
                                             once (refused when an administrator exists)
add an administrator                         a new administrator-only account (recovery:
                                             every administrator has left or is locked out)
unlock                                       lift the suspensions of an administrator-only
                                             account
settings                                     :meth:`~RegisterOperations.set_settings` (the
                                             origin checks), which also accepts a host operator
==========================================  ==============================================

A host operator can never take an approval step, decide a release, QA or publish: the
permission point refuses it (:class:`~gateway.errors.BreakGlassRefused`), and
:meth:`BreakGlassOperations.attempt` records the refused attempt.

Example:
    >>> host = HostOperator.current("bootstrap of the new deployment, CHG-1001")  # doctest: +SKIP
    >>> service.bootstrap(Person("root", …), Organisation("CLE", …), by=host)     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.auth.breakglass import HostOperator
from gateway.auth.permissions import ADMIN_ROLE, Action, require
from gateway.errors import AccessDenied, Conflict, NotFound
from gateway.governance.model import Organisation, Person
from gateway.governance.operations import Operations

__all__ = ["BreakGlassOperations"]


class BreakGlassOperations(Operations):
    """Bootstrap and recovery by the host operator (see the module docstring)."""

    def bootstrap(self, admin: Person, organisation: Organisation, *, by: HostOperator) -> Person:
        """Create the first administrator (and their organisation), once.

        Raises:
            Conflict: an administrator already exists.
        """
        admin = replace(admin, organisation=organisation.code, roles=frozenset({ADMIN_ROLE}))
        with self._change_by(by, Action.HOST_BOOTSTRAP) as (tx, at):
            if tx.has_admin():
                raise Conflict("an administrator already exists; bootstrap runs only once")
            if tx.organisation(organisation.code) is None:
                tx.add_organisation(organisation, at=at)
            tx.put_person(admin, new=True)
            self._event(
                tx,
                EventKind.USER_BOOTSTRAP_ADMIN,
                by,
                subject=admin.username,
                organisation_code=organisation.code,
            )
        return admin

    def add_administrator(self, by: HostOperator, admin: Person) -> Person:
        """Register a new administrator-only account (recovery), in an existing organisation.

        Raises:
            NotFound: no such organisation.
            Conflict: the username is taken (an existing person is never given the role here).
        """
        admin = replace(admin, roles=frozenset({ADMIN_ROLE}), line_manager=None)
        with self._change_by(by, Action.HOST_ADD_ADMINISTRATOR) as (tx, _):
            tx.require_organisation(admin.organisation)
            tx.put_person(admin, new=True)
            self._event(
                tx,
                EventKind.USER_ADDED,
                by,
                subject=admin.username,
                organisation_code=admin.organisation,
                roles=[ADMIN_ROLE],
                line_manager=None,
            )
        return admin

    def unlock(self, by: HostOperator, username: str) -> int:
        """Lift every suspension of an administrator-only account; returns how many.

        Raises:
            BreakGlassRefused: the account holds more than the admin role.
            NotFound: no such person, or not suspended.
        """
        at = self.clock()
        with self.store.writing() as tx:
            person = tx.require_person(username)
            require(by, Action.HOST_UNLOCK, person)
            lifted = tx.lift_suspensions(username, by=by.username, at=at, comment=by.reason)
            if lifted == 0:
                raise NotFound(f"{username!r} is not suspended")
            self._event(tx, EventKind.ACCESS_REINSTATED, by, subject=username, lifted=lifted)
        return lifted

    def attempt(self, by: HostOperator, action: Action) -> None:
        """Check that the host operator may take ``action``; a refusal is recorded (as an
        ``access.denied`` event marked break-glass) before it is raised.

        Raises:
            BreakGlassRefused: anything outside bootstrap and recovery.
        """
        try:
            require(by, action)
        except AccessDenied as exc:
            self.audit.record(
                AccessEvent(
                    EventKind.ACCESS_DENIED,
                    by.username,
                    by.organisation,
                    subject=action.value,
                    comment=str(exc),
                    extra={"reason": exc.code, "break_glass": by.record()},
                )
            )
            raise
