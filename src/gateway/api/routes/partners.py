"""Partner organisations as a whole over HTTP: their agreements, sponsorship, authorisation,
the published list, and suspension or termination.

    GET  /v1/access/agreements                           the published list: organisations and
                                                         their information sharing agreements
    POST /v1/access/organisations/{code}/agreements      record an ISA (admin; names the
                                                         administrator holding the copy)
    POST /v1/access/organisations/{code}/sponsorship     a CSP's SPOC sponsors a new organisation
    POST /v1/access/organisations/{code}/authorisation   the system owner authorises it
    POST /v1/access/organisations/{code}/suspend         every account stopped at once
    POST /v1/access/organisations/{code}/reinstate       the suspension lifted
    POST /v1/access/organisations/{code}/terminate       ended for good (grants revoked)

Thin, as every governance route: the actor is the authenticated caller, and
:class:`~gateway.governance.service.GovernanceService` decides (:mod:`gateway.governance.partners`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gateway.api.deps import PrincipalDep
from gateway.api.routes.access import DoneOut, GovernanceDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.governance.partners import PartnerListing
from gateway.governance.partnership import SharingAgreement

__all__ = ["router"]

router = APIRouter(prefix=f"{API_PREFIX}/access", tags=["access governance"])

_Code = Annotated[str, Field(min_length=1, max_length=40)]
_Text = Annotated[str, Field(max_length=2000)]
_Reason = Annotated[str, Field(min_length=1, max_length=2000)]
_CHANGES = errors(400, 401, 403, 404, 429) | {
    409: {"description": "Not yet possible (e.g. no ISA), or already so."}
}


class AgreementIn(BaseModel):
    """An Information Sharing Agreement as signed."""

    reference: Annotated[str, Field(min_length=1, max_length=200)]
    signed: date
    expires: date | None = None
    copied_to: Annotated[
        str,
        Field(min_length=1, max_length=40, description="The system administrator with the copy."),
    ]


class AgreementOut(BaseModel):
    reference: str
    signed: date
    expires: date | None
    copied_to: str


class PartnerOut(BaseModel):
    """One organisation on the published list."""

    code: str
    name: str
    kind: str
    areas: list[str]
    agreement: AgreementOut | None = Field(description="The ISA in force today, if any.")
    authorised: bool = Field(description="The system owner has authorised its connection.")
    missing: list[str] = Field(description="What it still needs (shortfall codes).")
    stopped: str | None = Field(description="suspended or terminated while stopped.")

    @classmethod
    def of(cls, listing: PartnerListing) -> PartnerOut:
        org, isa = listing.organisation, listing.agreement
        return cls(
            code=org.code,
            name=org.name,
            kind=org.kind,
            areas=list(org.areas),
            agreement=None
            if isa is None
            else AgreementOut(
                reference=isa.reference,
                signed=isa.signed,
                expires=isa.expires,
                copied_to=isa.copied_to,
            ),
            authorised=listing.authorised,
            missing=list(listing.missing),
            stopped=listing.stopped,
        )


class SponsorIn(BaseModel):
    sponsor: _Code = Field(description="The sponsoring CSP's organisation code (yours).")
    comment: _Text = ""


class CommentIn(BaseModel):
    comment: _Text = ""


class ReasonIn(BaseModel):
    reason: _Reason


@router.get(
    "/agreements",
    responses=errors(401, 403, 429),
    summary="Organisations and their information sharing agreements (published)",
)
def agreements(principal: PrincipalDep, governance: GovernanceDep) -> list[PartnerOut]:
    """Every organisation with the ISA in force, whether the system owner has authorised it,
    what it still needs, and whether it is stopped — the list policy 198 has published."""
    return [PartnerOut.of(listing) for listing in governance.partner_list()]


@router.post(
    "/organisations/{code}/agreements",
    status_code=201,
    responses=_CHANGES,
    summary="Record an information sharing agreement",
)
def record_agreement(
    code: str, body: AgreementIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    agreement = SharingAgreement(code, body.reference, body.signed, body.expires, body.copied_to)
    governance.record_sharing_agreement(principal.username, agreement)
    return DoneOut(detail=f"{body.reference} recorded for {code}; copy held by {body.copied_to}")


@router.post(
    "/organisations/{code}/sponsorship",
    status_code=201,
    responses=_CHANGES,
    summary="Sponsor a new organisation (the CSP's SPOC)",
)
def sponsor(
    code: str, body: SponsorIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    governance.sponsor_organisation(principal.username, code, body.sponsor, body.comment)
    return DoneOut(detail=f"{code} sponsored by {body.sponsor}")


@router.post(
    "/organisations/{code}/authorisation",
    status_code=201,
    responses=_CHANGES,
    summary="Authorise an organisation's connection (system owner)",
)
def authorise(
    code: str, body: CommentIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    governance.authorise_organisation(principal.username, code, body.comment)
    return DoneOut(detail=f"{code} authorised by the system owner")


@router.post(
    "/organisations/{code}/suspend",
    responses=_CHANGES,
    summary="Suspend every account of an organisation",
)
def suspend(
    code: str, body: ReasonIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    stop_id = governance.suspend_organisation(principal.username, code, body.reason)
    return DoneOut(detail=f"{code} suspended (stop {stop_id})")


@router.post(
    "/organisations/{code}/reinstate",
    responses=_CHANGES,
    summary="Lift an organisation's suspension",
)
def reinstate(
    code: str, body: ReasonIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    governance.reinstate_organisation(principal.username, code, body.reason)
    return DoneOut(detail=f"{code} reinstated")


@router.post(
    "/organisations/{code}/terminate",
    responses=_CHANGES,
    summary="Terminate an organisation's access (final)",
)
def terminate(
    code: str, body: ReasonIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    stop_id = governance.terminate_organisation(principal.username, code, body.reason)
    return DoneOut(detail=f"{code} terminated (stop {stop_id}); every grant revoked")
