"""The access-request state machine and its separation of duties. Pure: no I/O.

::

    submitted ─endorse─► endorsed_line_manager ─endorse─► endorsed_superintendent
              ─review─►  reviewed_analysis_manager ─review─► reviewed_iso ─authorise─► authorised
    (any open state) ─refuse─► refused        (any open state) ─withdraw─► withdrawn

Each step needs its role (:data:`STEPS`); the line manager must be the applicant's own, the
superintendent must police one of the applicant organisation's areas. Nobody acts on their
own request (``self_approval``) or twice in one chain (``separation_of_duties``); an action
that is not the request's next step is ``step_out_of_order`` (e.g. an authorisation before
the endorsements). As on the forms, an endorser gives a telephone number (recorded with the
endorsement), and the analysis manager's review of an enhanced request records their
"most appropriate method" assessment (its comment).

Example:
    >>> from datetime import datetime, timezone
    >>> next_step("submitted").role, next_step("reviewed_iso").action
    ('line_manager', 'authorise')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from gateway.auth import permissions
from gateway.auth.permissions import ApprovalStep, Subject, require
from gateway.errors import (
    InputError,
    SelfApproval,
    SeparationOfDuties,
    StepOutOfOrder,
)
from gateway.governance.model import Organisation, Person
from gateway.governance.requests import AccessRequest, RequestState, Transition

__all__ = [
    "ACTIONS",
    "STEPS",
    "Action",
    "Step",
    "decide",
    "next_step",
    "pending_for",
]

Action = Literal["endorse", "review", "authorise", "refuse", "withdraw"]
ACTIONS: tuple[str, ...] = get_args(Action)


@dataclass(frozen=True)
class Step:
    """One approval step: from which state, by which role, with which action, to which state."""

    after: RequestState
    action: Action
    role: str
    becomes: RequestState
    title: str


STEPS: tuple[Step, ...] = (
    Step(
        "submitted",
        "endorse",
        "line_manager",
        "endorsed_line_manager",
        "endorsement by the applicant's line manager",
    ),
    Step(
        "endorsed_line_manager",
        "endorse",
        "superintendent",
        "endorsed_superintendent",
        "endorsement by the local policing superintendent",
    ),
    Step(
        "endorsed_superintendent",
        "review",
        "analysis_manager",
        "reviewed_analysis_manager",
        "review by the analysis manager",
    ),
    Step(
        "reviewed_analysis_manager",
        "review",
        "information_security_officer",
        "reviewed_iso",
        "review by the information security officer",
    ),
    Step(
        "reviewed_iso",
        "authorise",
        "head_of_intelligence",
        "authorised",
        "authorisation by the head of intelligence",
    ),
)
_BY_STATE = {step.after: step for step in STEPS}


def next_step(state: RequestState) -> Step | None:
    """The step a request in ``state`` waits for (None once it is final)."""
    return _BY_STATE.get(state)


def _check_step_actor(
    step: Step, actor: Person, applicant: Person, organisation: Organisation
) -> None:
    """The step's role and relation to the applicant (:mod:`gateway.auth.permissions`)."""
    taken = ApprovalStep(
        step.title,
        step.role,
        applicant.username,
        applicant.line_manager,
        organisation.name,
        organisation.areas,
    )
    require(actor, permissions.Action.TAKE_APPROVAL_STEP, taken)


def decide(
    request: AccessRequest,
    action: Action,
    actor: Person,
    *,
    applicant: Person,
    organisation: Organisation,
    at: datetime,
    comment: str = "",
) -> AccessRequest:
    """The request after ``actor`` takes ``action`` on it, or the reason they may not.

    Args:
        request: the request as last read (its ``version`` guards the write).
        action: one of :data:`ACTIONS`.
        actor: who acts (their current record).
        applicant: the applicant's current record (line manager).
        organisation: the applicant's organisation (areas, for the superintendent).
        at: when.
        comment: what they say (required to refuse or withdraw).

    Raises:
        StepOutOfOrder: the request is final, or is waiting for a different step.
        SelfApproval: the actor is the applicant.
        SeparationOfDuties: the actor already acted in this chain.
        WrongRole: the actor lacks the step's role or relation to the applicant.
        InputError: an unknown action; no comment on a refusal or on the analysis manager's
            review of an enhanced request (the method assessment); an endorser with no
            telephone number on record.

    Example:
        >>> from datetime import datetime, timezone
        >>> from gateway.governance.model import Organisation, Person
        >>> from gateway.governance.requests import (AccessRequest, Applicant, BusinessCase,
        ...     Purpose, RequestForm, Transition)
        >>> t = datetime(2026, 5, 1, tzinfo=timezone.utc)
        >>> khan = Person("a.khan", "Aisha Khan", "MBC", "Analyst", "a@x.org", line_manager="m.jones")
        >>> jones = Person("m.jones", "Mo Jones", "MBC", "Manager", "m@x.org",
        ...                frozenset({"line_manager"}), phone="01642 729000")
        >>> form = RequestForm("a.khan", "general", (Purpose("SA", "assessment"),),
        ...                    BusinessCase("duties", ("SA",), ("board",)))
        >>> request = AccessRequest("AR-1", form, Applicant("a.khan", "Aisha Khan", "Analyst",
        ...     "MBC", "Middlesbrough Council", "a@x.org"), (Transition("submitted", "a.khan", "applicant", t),))
        >>> org = Organisation("MBC", "Middlesbrough Council", "local_authority", ("E06000002",))
        >>> decide(request, "endorse", jones, applicant=khan, organisation=org, at=t).state
        'endorsed_line_manager'
        >>> decide(request, "endorse", khan, applicant=khan, organisation=org, at=t)
        Traceback (most recent call last):
        ...
        gateway.errors.SelfApproval: 'a.khan' cannot endorse their own request
    """
    if action not in ACTIONS:
        raise InputError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if request.final:
        raise StepOutOfOrder(f"request {request.request_id} is already {request.state}")
    if action == "withdraw":
        applicant_of = Subject(request.form.applicant, name=request.request_id)
        require(actor, permissions.Action.WITHDRAW_REQUEST, applicant_of)
        return request.with_transition(
            Transition("withdrawn", actor.username, "applicant", at, comment.strip())
        )
    if actor.username == request.form.applicant:
        raise SelfApproval(f"{actor.username!r} cannot {action} their own request")
    step = next_step(request.state)
    if step is None:  # pragma: no cover - every open state has a step
        raise StepOutOfOrder(f"request {request.request_id} has no next step")
    if action != "refuse" and action != step.action:
        raise StepOutOfOrder(
            f"request {request.request_id} is {request.state.replace('_', ' ')}; it needs "
            f"{step.title} before it can be {_past(action)}"
        )
    if actor.username in request.participants:
        raise SeparationOfDuties(
            f"{actor.username!r} has already acted on request {request.request_id}; each step "
            "needs a different person"
        )
    _check_step_actor(step, actor, applicant, organisation)
    if action == "refuse":
        if not comment.strip():
            raise InputError("a refusal must give its reason")
        return request.with_transition(
            Transition("refused", actor.username, step.role, at, comment)
        )
    _check_form_duties(step, request, actor, comment)
    phone = actor.phone.strip() if step.action == "endorse" else ""
    return request.with_transition(
        Transition(step.becomes, actor.username, step.role, at, comment.strip(), phone)
    )


def _check_form_duties(step: Step, request: AccessRequest, actor: Person, comment: str) -> None:
    """What the forms ask of a step beyond its role: an endorser's telephone number, and the
    analysis manager's "most appropriate method" assessment of an enhanced request."""
    if step.action == "endorse" and not actor.phone.strip():
        raise InputError(
            f"{step.title} needs the endorser's telephone number: {actor.username!r} has none "
            "on record (an administrator records it: gateway access user update --phone)"
        )
    if step.role == "analysis_manager" and request.form.level == "enhanced" and not comment.strip():
        raise InputError(
            "the analysis manager's review of an enhanced request must record the "
            "assessment that direct enhanced access is the most appropriate method (--comment)"
        )


def _past(action: str) -> str:
    return {"endorse": "endorsed", "review": "reviewed", "authorise": "authorised"}.get(
        action, action
    )


def pending_for(role: str, requests: Sequence[AccessRequest]) -> list[AccessRequest]:
    """Open requests whose next step needs ``role``, oldest first.

    Whether a particular person may take that step (their own staff, their area, not their own
    request) is :func:`decide`'s question; the service asks it for each.
    """
    waiting = [r for r in requests if (step := next_step(r.state)) and step.role == role]
    return sorted(waiting, key=lambda r: r.submitted_at)
