"""The plumbing every governance operation shares: the store, the audit log, the clock, and
the checks on who is acting.

An operation reads what it needs, decides with the pure functions, then writes in one
``BEGIN IMMEDIATE`` transaction whose last step is :meth:`Operations._event` — the audit append.
If that raises (:class:`~gateway.errors.AuditUnavailable`) the transaction rolls back: no
change without its audit record.

Example:
    >>> new_id("AR", datetime(2026, 5, 1)).startswith("AR-20260501-")
    True
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.clock import Clock, utc_now
from gateway.errors import (
    AccountSuspended,
    SelfApproval,
    WrongRole,
)
from gateway.governance.model import Person
from gateway.governance.store import GovernanceStore, Reader, Writer
from gateway.policy import Policy

__all__ = ["OVERSIGHT_ROLES", "Operations", "holds_access", "new_id"]

OVERSIGHT_ROLES = frozenset({"admin", "information_security_officer", "head_of_intelligence"})


def new_id(prefix: str, at: datetime) -> str:
    """A short, unguessable id such as ``AR-20260501-3FA9C1``."""
    return f"{prefix}-{at:%Y%m%d}-{secrets.token_hex(3).upper()}"


@dataclass
class Operations:
    """Shared state and checks of the governance operations.

    Attributes:
        store: the governance database.
        audit: the audit log every change is appended to.
        policy: the loaded policy (request validation).
        clock: current UTC time (tests pass a settable clock).
    """

    store: GovernanceStore
    audit: AuditLog
    policy: Policy
    clock: Clock = field(default=utc_now)

    def _event(
        self,
        tx: Reader,
        action: EventKind,
        actor: str,
        *,
        subject: str = "",
        comment: str = "",
        **extra: Any,
    ) -> None:
        """Append the operation's audit event (last step of the transaction: fail closed)."""
        person = tx.person(actor)
        organisation = ""
        if person is not None:
            org = tx.organisation(person.organisation)
            organisation = org.name if org is not None else person.organisation
        self.audit.record(
            AccessEvent(action, actor, organisation, subject=subject, comment=comment, extra=extra)
        )

    @staticmethod
    def _acting(tx: Reader, username: str, at: datetime) -> Person:
        """The actor's record, refusing leavers and suspended people."""
        person = tx.require_person(username)
        if not person.in_post(at):
            raise AccountSuspended(f"{username!r} has left; their account is closed")
        if any(s.in_force(at) for s in tx.suspensions(username)):
            raise AccountSuspended(f"{username!r} is suspended and cannot act")
        return person

    def _need(
        self, tx: Reader, actor: str, roles: Iterable[str], at: datetime, *, what: str
    ) -> Person:
        person = self._acting(tx, actor, at)
        wanted = frozenset(roles)
        if not person.roles & wanted:
            raise WrongRole(f"{what} needs one of the roles {', '.join(sorted(wanted))}")
        return person

    @contextmanager
    def _change_by(
        self, actor: str, roles: Iterable[str], *, what: str
    ) -> Iterator[tuple[Writer, datetime]]:
        """A write transaction by ``actor``, who must hold one of ``roles`` (see :meth:`_need`).

        Yields the transaction and the time of the change (read before the transaction opens).
        """
        at = self.clock()
        with self.store.writing() as tx:
            self._need(tx, actor, roles, at, what=what)
            yield tx, at

    @staticmethod
    def _not_self(actor: str, subject: str, what: str) -> None:
        if actor == subject:
            raise SelfApproval(f"{actor!r} cannot {what} for themselves")


def holds_access(r: Reader, person: Person, at: datetime) -> bool:
    return person.in_post(at) and any(g.active_at(at) for g in r.grants(person.username))
