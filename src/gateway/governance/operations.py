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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.auth.breakglass import HostOperator
from gateway.auth.permissions import Action, Subject, require
from gateway.clock import Clock, utc_now
from gateway.errors import (
    AccountSuspended,
)
from gateway.governance.model import Person
from gateway.governance.store import GovernanceStore, Reader, Writer
from gateway.policy import Policy

__all__ = ["Acting", "Operations", "new_id"]

#: Who acts: a person in the register (their username, taken from their authenticated
#: principal), or — for bootstrap and recovery only — the host operator in break-glass mode.
Acting = str | HostOperator

#: The subject of an action that concerns no one in particular (the register's settings).
_NOBODY = Subject()


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
        actor: Acting,
        *,
        subject: str = "",
        comment: str = "",
        **extra: Any,
    ) -> None:
        """Append the operation's audit event (last step of the transaction: fail closed).

        A host operator's event is marked as break-glass: ``break_glass`` names the operating
        system user, their uid and the reason (also the comment when none is given)."""
        if isinstance(actor, HostOperator):
            extra["break_glass"] = actor.record()
            name, organisation, comment = (
                actor.username,
                actor.organisation,
                comment or actor.reason,
            )
        else:
            name, organisation = actor, ""
            person = tx.person(actor)
            if person is not None:
                org = tx.organisation(person.organisation)
                organisation = org.name if org is not None else person.organisation
        self.audit.record(
            AccessEvent(action, name, organisation, subject=subject, comment=comment, extra=extra)
        )

    @staticmethod
    def _acting(tx: Reader, username: str, at: datetime) -> Person:
        """The actor's record, refusing leavers, suspended people and the people of a
        suspended or terminated organisation."""
        person = tx.require_person(username)
        if not person.in_post(at):
            raise AccountSuspended(f"{username!r} has left; their account is closed")
        if any(s.in_force(at) for s in tx.suspensions(username)):
            raise AccountSuspended(f"{username!r} is suspended and cannot act")
        stop = tx.organisation_stop(person.organisation, at)
        if stop is not None:
            raise AccountSuspended(
                f"{username!r} cannot act: {person.organisation} was {stop.kind} on "
                f"{stop.stopped_at:%Y-%m-%d}"
            )
        return person

    def _need(
        self, tx: Reader, actor: str, action: Action, at: datetime, subject: Subject = _NOBODY
    ) -> Person:
        """The acting person, if in post, not suspended and allowed ``action`` on ``subject``
        (:func:`gateway.auth.permissions.require`)."""
        person = self._acting(tx, actor, at)
        require(person, action, subject)
        return person

    @contextmanager
    def _change_by(
        self, actor: Acting, action: Action, subject: Subject = _NOBODY
    ) -> Iterator[tuple[Writer, datetime]]:
        """A write transaction by ``actor``, who must be allowed ``action`` (see :meth:`_need`;
        a host operator is judged by the permission point alone: break-glass actions only).

        Yields the transaction and the time of the change (read before the transaction opens).
        """
        at = self.clock()
        with self.store.writing() as tx:
            if isinstance(actor, HostOperator):
                require(actor, action, subject)
            else:
                self._need(tx, actor, action, at, subject)
            yield tx, at
