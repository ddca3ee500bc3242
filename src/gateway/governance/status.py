""" "What is missing before I can start": one user's access status as a checklist. Pure.

Combines the user's :class:`~gateway.governance.standing.Standing`, their open requests and
what each waits for, the preconditions for the level they hold or asked for, and whether their
organisation has registered where they connect from.

Example:
    >>> item = StatusItem("request_pending", "request AR-1 waits for endorsement by the line manager")
    >>> item.code
    'request_pending'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.governance.model import Organisation
from gateway.governance.preconditions import Shortfall
from gateway.governance.requests import AccessRequest
from gateway.governance.standing import Standing
from gateway.governance.workflow import next_step

__all__ = ["AccessStatus", "PendingRequest", "StatusItem", "access_status"]


@dataclass(frozen=True)
class StatusItem:
    """One thing standing between the user and live access.

    ``code`` is a shortfall code (``vetting_expired`` …) or one of ``organisation_stopped``,
    ``suspended``, ``left``, ``no_request``, ``request_pending``, ``no_network``.
    """

    code: str
    message: str


@dataclass(frozen=True)
class PendingRequest:
    """An open request and the step it waits for."""

    request_id: str
    level: str
    state: str
    waiting_for: str
    role: str


@dataclass(frozen=True)
class AccessStatus:
    """A user's access now, and everything still missing.

    Attributes:
        username, organisation: who.
        level: the data level in force (``none`` if not live).
        purposes: approved purposes in force.
        grants: ids of grants in force.
        pending: open requests.
        missing: what is still missing, in the order to deal with it.
    """

    username: str
    organisation: str
    level: str
    purposes: tuple[str, ...]
    grants: tuple[str, ...]
    pending: tuple[PendingRequest, ...]
    missing: tuple[StatusItem, ...]

    @property
    def ready(self) -> bool:
        """Live data access and nothing missing."""
        return self.level != "none" and not self.missing


def access_status(
    standing: Standing,
    organisation: Organisation,
    open_requests: Sequence[AccessRequest],
    requested_shortfalls: Sequence[Shortfall] = (),
) -> AccessStatus:
    """The checklist for one user.

    Args:
        standing: their standing now.
        organisation: their organisation (registered networks).
        open_requests: their requests not yet decided.
        requested_shortfalls: preconditions missing for the level of their open requests (used
            when they hold no grant yet, so they can prepare while the request is approved).
    """
    principal = standing.principal
    missing: list[StatusItem] = []
    if standing.organisation_stop is not None:
        stop = standing.organisation_stop
        missing.append(
            StatusItem(
                "organisation_stopped",
                f"{organisation.name} was {stop.kind} on {stop.stopped_at:%Y-%m-%d}: {stop.reason}",
            )
        )
    if standing.left:
        missing.append(StatusItem("left", "the account is closed: the user has left"))
    elif standing.suspension is not None:
        s = standing.suspension
        missing.append(
            StatusItem(
                "suspended", f"suspended since {s.suspended_at:%Y-%m-%d} ({s.kind}): {s.reason}"
            )
        )
    pending = []
    for request in open_requests:
        step = next_step(request.state)
        if step is None:
            continue
        pending.append(
            PendingRequest(
                request.request_id, request.form.level, request.state, step.title, step.role
            )
        )
        missing.append(
            StatusItem("request_pending", f"request {request.request_id} awaits {step.title}")
        )
    if not standing.grants and not open_requests:
        missing.append(
            StatusItem("no_request", "no access request: submit one (general or enhanced)")
        )
    shortfalls = standing.shortfalls if standing.grants else tuple(requested_shortfalls)
    missing.extend(StatusItem(s.code, s.message) for s in shortfalls)
    if not organisation.networks:
        missing.append(
            StatusItem(
                "no_network",
                f"{organisation.name} has not registered the network ranges its analysts connect from",
            )
        )
    return AccessStatus(
        username=principal.username,
        organisation=organisation.name,
        level=principal.level if not principal.suspended else "none",
        purposes=principal.purposes,
        grants=tuple(g.grant_id for g in standing.grants),
        pending=tuple(pending),
        missing=tuple(missing),
    )
