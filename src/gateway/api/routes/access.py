"""Access governance over HTTP: apply, approve, see what is missing, suspend, review.

    GET  /v1/access/status                          your checklist ("what is missing")
    GET  /v1/access/status/{username}               someone's (line manager, SPOC, oversight)
    POST /v1/access/requests                        submit a request (general or enhanced)
    GET  /v1/access/requests                        your requests (?all: all you may see)
    GET  /v1/access/requests/{id}                   one request with its history
    POST /v1/access/requests/{id}/{action}          endorse | review | authorise | refuse | withdraw
    GET  /v1/access/pending?role=…                  requests waiting for you
    POST /v1/access/users/{username}/declarations   sign a declaration (yourself) / record (admin)
    POST /v1/access/users/{username}/suspend        suspend at once
    POST /v1/access/users/{username}/reinstate      lift a suspension
    POST /v1/access/users/{username}/revoke         revoke grants (leaver: close the account)
    POST /v1/access/organisations/{code}/code-of-connection   the SPOC's annual declaration
    GET  /v1/access/reviews                         access reviews (admin; SPOC: their own)
    POST /v1/access/reviews/{id}/users/{username}   SPOC confirms or removes a user
    POST /v1/access/review-cycle                    the scheduled lifecycle run (admin)

Routes are thin: the actor is always the authenticated caller (``principal.username``; no
body or parameter names who acts), and
:class:`~gateway.governance.service.GovernanceService` decides through the permission point
whether they may (roles, separation of duties, state). The register itself (organisations,
networks, people, vetting, training, settings) has its routes in
:mod:`gateway.api.routes.register`; ``gateway access …`` drives both as the logged-in person.
The governance service is the deployment's (:attr:`gateway.deployment.Deployment.governance`),
opened once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from gateway.api.deps import PrincipalDep, RuntimeDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.governance.lifecycle import AccessReview
from gateway.governance.preconditions import Declaration, DeclarationKind
from gateway.governance.requests import (
    AccessRequest,
    BusinessCase,
    EnhancedScope,
    Purpose,
    RequestForm,
)
from gateway.governance.service import GovernanceService
from gateway.governance.status import AccessStatus
from gateway.governance.workflow import Action, next_step

__all__ = ["router"]

router = APIRouter(prefix=f"{API_PREFIX}/access", tags=["access governance"])


def deployment_governance(runtime: RuntimeDep) -> GovernanceService:
    """The deployment's governance service (opened once, with the deployment)."""
    return runtime.governance


GovernanceDep = Annotated[GovernanceService, Depends(deployment_governance)]

_Text = Annotated[str, Field(max_length=2000)]
_Name = Annotated[str, Field(min_length=1, max_length=200)]


# --- bodies and answers --------------------------------------------------------------------------


class PurposeIn(BaseModel):
    code: Annotated[str, Field(min_length=1, max_length=40)]
    description: Annotated[str, Field(min_length=1, max_length=500)]


class RequestIn(BaseModel):
    """An access request form. Enhanced requests name exactly what they add, why and until when."""

    level: Literal["general", "enhanced"]
    purposes: Annotated[list[PurposeIn], Field(min_length=1, max_length=20)]
    key_duties: _Text
    products: Annotated[list[_Text], Field(min_length=1, max_length=50)]
    dissemination: Annotated[list[_Text], Field(min_length=1, max_length=50)]
    applicant: _Name | None = Field(None, description="Admins only: submit on someone's behalf.")
    areas: Annotated[list[_Name], Field(max_length=20)] = []
    tables: Annotated[list[_Name], Field(max_length=20)] = []
    unmask: Annotated[list[_Name], Field(max_length=100, description="table.column")] = []
    extra_areas: Annotated[list[_Name], Field(max_length=20)] = []
    justification: _Text = ""
    method: _Text = Field(
        "",
        description="Enhanced: why direct enhanced access is the most appropriate method "
        "(and the alternatives considered).",
    )
    starts: date | None = None
    ends: date | None = None
    deputy_for: _Name | None = None

    def form(self, actor: str) -> RequestForm:
        enhanced = (
            EnhancedScope(
                tuple(self.tables),
                tuple(self.unmask),
                tuple(self.extra_areas),
                self.justification,
                self.method,
            )
            if self.level == "enhanced"
            else None
        )
        return RequestForm(
            applicant=self.applicant or actor,
            level=self.level,
            purposes=tuple(Purpose(p.code, p.description) for p in self.purposes),
            business_case=BusinessCase(
                self.key_duties, tuple(self.products), tuple(self.dissemination)
            ),
            areas=tuple(self.areas),
            enhanced=enhanced,
            starts=self.starts,
            ends=self.ends,
            deputy_for=self.deputy_for,
        )


class TransitionOut(BaseModel):
    state: str
    actor: str
    role: str
    at: datetime
    comment: str
    phone: str


class RequestOut(BaseModel):
    request_id: str
    state: str
    waiting_for: str | None
    waiting_role: str | None
    level: str
    applicant: dict[str, str]
    purposes: list[PurposeIn]
    areas: list[str]
    key_duties: str
    products: list[str]
    dissemination: list[str]
    tables: list[str]
    unmask: list[str]
    extra_areas: list[str]
    justification: str
    method: str
    starts: date | None
    ends: date | None
    deputy_for: str | None
    history: list[TransitionOut]

    @classmethod
    def of(cls, request: AccessRequest) -> RequestOut:
        form, step, e = request.form, next_step(request.state), request.form.enhanced
        a = request.applicant
        return cls(
            request_id=request.request_id,
            state=request.state,
            waiting_for=step.title if step else None,
            waiting_role=step.role if step else None,
            level=form.level,
            applicant={
                "username": a.username,
                "full_name": a.full_name,
                "role_title": a.role_title,
                "organisation": a.organisation_name,
                "email": a.email,
                "phone": a.phone,
            },
            purposes=[PurposeIn(code=p.code, description=p.description) for p in form.purposes],
            areas=list(form.areas),
            key_duties=form.business_case.key_duties,
            products=list(form.business_case.products),
            dissemination=list(form.business_case.dissemination),
            tables=list(e.tables) if e else [],
            unmask=list(e.unmask) if e else [],
            extra_areas=list(e.areas) if e else [],
            justification=e.justification if e else "",
            method=e.method if e else "",
            starts=form.starts,
            ends=form.ends,
            deputy_for=form.deputy_for,
            history=[
                TransitionOut(
                    state=t.state,
                    actor=t.actor,
                    role=t.role,
                    at=t.at,
                    comment=t.comment,
                    phone=t.phone,
                )
                for t in request.history
            ],
        )


class CommentIn(BaseModel):
    comment: _Text = ""


class StatusItemOut(BaseModel):
    code: str
    message: str


class PendingOut(BaseModel):
    request_id: str
    level: str
    state: str
    waiting_for: str
    role: str


class StatusOut(BaseModel):
    username: str
    organisation: str
    level: str
    ready: bool
    purposes: list[str]
    grants: list[str]
    pending: list[PendingOut]
    missing: list[StatusItemOut]

    @classmethod
    def of(cls, status: AccessStatus) -> StatusOut:
        return cls(
            username=status.username,
            organisation=status.organisation,
            level=status.level,
            ready=status.ready,
            purposes=list(status.purposes),
            grants=list(status.grants),
            pending=[PendingOut(**p.__dict__) for p in status.pending],
            missing=[StatusItemOut(code=i.code, message=i.message) for i in status.missing],
        )


class SuspendIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    kind: Literal["misuse", "administrative"] = "misuse"


class ReinstateIn(BaseModel):
    comment: Annotated[str, Field(min_length=1, max_length=2000)]


class RevokeIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    leaver: bool = False


class DeclarationIn(BaseModel):
    kind: DeclarationKind
    signed: date | None = None


class ReviewDecisionIn(BaseModel):
    keep: bool
    comment: _Text = ""


class ReviewEntryOut(BaseModel):
    username: str
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    comment: str


class ReviewOut(BaseModel):
    review_id: str
    organisation: str
    opened_by: str
    opened_at: datetime
    due: date
    closed_at: datetime | None
    entries: list[ReviewEntryOut]

    @classmethod
    def of(cls, review: AccessReview) -> ReviewOut:
        return cls(
            review_id=review.review_id,
            organisation=review.organisation,
            opened_by=review.opened_by,
            opened_at=review.opened_at,
            due=review.due,
            closed_at=review.closed_at,
            entries=[ReviewEntryOut(**e.__dict__) for e in review.entries],
        )


class DoneOut(BaseModel):
    """What an action did (for the client to show)."""

    ok: bool = True
    detail: str


# --- the applicant ------------------------------------------------------------------------------


@router.get(
    "/status", responses=errors(401, 403, 404, 429), summary="What is missing before I can start"
)
def my_status(principal: PrincipalDep, governance: GovernanceDep) -> StatusOut:
    """Your level and purposes now, your open requests and the step each waits for, and every
    precondition still missing (vetting, declarations, training, SyOPs, MoU, code of connection)."""
    return StatusOut.of(governance.status_as(principal.username, principal.username))


@router.get(
    "/status/{username}", responses=errors(401, 403, 404, 429), summary="A user's checklist"
)
def user_status(username: str, principal: PrincipalDep, governance: GovernanceDep) -> StatusOut:
    """For the user's line manager, their organisation's SPOC, and oversight roles."""
    return StatusOut.of(governance.status_as(principal.username, username))


@router.post(
    "/requests",
    status_code=201,
    responses=errors(400, 401, 403, 404, 429),
    summary="Submit an access request",
)
def submit(body: RequestIn, principal: PrincipalDep, governance: GovernanceDep) -> RequestOut:
    """Validated against the policy: only grantable tables and unmaskable columns can be asked for."""
    return RequestOut.of(governance.submit(principal.username, body.form(principal.username)))


@router.get("/requests", responses=errors(401, 403, 404, 429), summary="Requests")
def list_requests(
    principal: PrincipalDep,
    governance: GovernanceDep,
    open_only: Annotated[bool, Query(alias="open", description="Only undecided ones.")] = False,
    everyone: Annotated[
        bool, Query(alias="all", description="Every request you may see, not only yours.")
    ] = False,
    applicant: Annotated[
        str | None, Query(max_length=200, description="Only this applicant's.")
    ] = None,
) -> list[RequestOut]:
    """Your requests; with ``all`` (or ``applicant``), every request you may see."""
    if not everyone and applicant is None:
        applicant = principal.username
    found = governance.requests_as(principal.username, applicant=applicant, open_only=open_only)
    return [RequestOut.of(r) for r in found]


@router.get("/requests/{request_id}", responses=errors(401, 403, 404, 429), summary="A request")
def show_request(request_id: str, principal: PrincipalDep, governance: GovernanceDep) -> RequestOut:
    return RequestOut.of(governance.request_as(principal.username, request_id))


# --- approvers ----------------------------------------------------------------------------------


@router.post(
    "/requests/{request_id}/{action}",
    responses=errors(400, 401, 403, 404, 429)
    | {409: {"description": "Not at that step, or someone else acted first."}},
    summary="Endorse, review, authorise, refuse or withdraw",
)
def act(
    request_id: str,
    action: Action,
    body: CommentIn,
    principal: PrincipalDep,
    governance: GovernanceDep,
) -> RequestOut:
    """Take the step the request waits for, as the caller. Refusals need a comment."""
    return RequestOut.of(governance.act(principal.username, request_id, action, body.comment))


@router.get("/pending", responses=errors(401, 403, 404, 429), summary="Requests waiting for you")
def pending(
    principal: PrincipalDep,
    governance: GovernanceDep,
    role: Annotated[str | None, Query(max_length=60, description="One of your roles.")] = None,
) -> list[RequestOut]:
    """Open requests whose next step you may take, oldest first."""
    return [RequestOut.of(r) for r in governance.waiting_for(principal.username, role)]


@router.post(
    "/users/{username}/declarations",
    status_code=201,
    responses=errors(400, 401, 403, 404, 429),
    summary="Sign a declaration",
)
def declare(
    username: str, body: DeclarationIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    """Confidentiality, data protection, or the yearly acceptance of the SyOPs."""
    signed = body.signed or governance.clock().date()
    governance.record_declaration(principal.username, Declaration(username, body.kind, signed))
    return DoneOut(detail=f"{body.kind} recorded for {username} on {signed}")


@router.post(
    "/users/{username}/suspend",
    responses=errors(400, 401, 403, 404, 429),
    summary="Suspend at once",
)
def suspend(
    username: str, body: SuspendIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    governance.suspend(principal.username, username, body.reason, kind=body.kind)
    return DoneOut(detail=f"{username} suspended")


@router.post(
    "/users/{username}/reinstate",
    responses=errors(400, 401, 403, 404, 429),
    summary="Lift a suspension",
)
def reinstate(
    username: str, body: ReinstateIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    governance.reinstate(principal.username, username, body.comment)
    return DoneOut(detail=f"{username} reinstated")


@router.post(
    "/users/{username}/revoke", responses=errors(400, 401, 403, 404, 429), summary="Revoke access"
)
def revoke(
    username: str, body: RevokeIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    grants = governance.revoke(principal.username, username, body.reason, leaver=body.leaver)
    return DoneOut(
        detail=f"{len(grants)} grant(s) revoked" + ("; account closed" if body.leaver else "")
    )


# --- SPOCs and administrators ------------------------------------------------------------------


@router.post(
    "/organisations/{code}/code-of-connection",
    status_code=201,
    responses=errors(400, 401, 403, 404, 429),
    summary="Code-of-connection declaration",
)
def declare_coc(
    code: str, body: CommentIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    coc = governance.declare_code_of_connection(principal.username, code, body.comment)
    return DoneOut(detail=f"declared for {code}, valid until {coc.valid_until}")


@router.get("/reviews", responses=errors(401, 403, 404, 429), summary="Access reviews")
def reviews(
    principal: PrincipalDep,
    governance: GovernanceDep,
    organisation: Annotated[str | None, Query(max_length=40)] = None,
) -> list[ReviewOut]:
    return [ReviewOut.of(r) for r in governance.access_reviews_as(principal.username, organisation)]


@router.post(
    "/reviews/{review_id}/users/{username}",
    responses=errors(400, 401, 403, 404, 429),
    summary="Confirm or remove a user in an access review",
)
def review_decision(
    review_id: str,
    username: str,
    body: ReviewDecisionIn,
    principal: PrincipalDep,
    governance: GovernanceDep,
) -> DoneOut:
    governance.confirm_review(
        principal.username, review_id, username, keep=body.keep, comment=body.comment
    )
    return DoneOut(detail=f"{username} {'confirmed' if body.keep else 'removed'}")


@router.post(
    "/review-cycle", responses=errors(401, 403, 404, 429), summary="Run the lifecycle checks"
)
def review_cycle(principal: PrincipalDep, governance: GovernanceDep) -> dict[str, list[str]]:
    """Open due access reviews, suspend users unconfirmed past the deadline, flag inactivity."""
    return governance.review_cycle(principal.username)
