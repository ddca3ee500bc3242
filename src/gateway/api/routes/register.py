"""Keeping the governance register over HTTP: what ``gateway access`` does, as the logged-in
person.

    GET   /v1/access/settings                          the governance settings (register viewers)
    PATCH /v1/access/settings                          change the origin checks (admin)
    GET   /v1/access/organisations                     organisations, areas, networks
    POST  /v1/access/organisations                     register an organisation (admin)
    POST  /v1/access/organisations/{code}/networks     register a network range (admin)
    POST  /v1/access/organisations/{code}/networks/remove   remove one (admin)
    POST  /v1/access/organisations/{code}/memoranda    record a memorandum of understanding
    GET   /v1/access/users                             everyone in the register, with their state
    POST  /v1/access/users                             register a person (admin)
    PATCH /v1/access/users/{username}                  change roles, line manager, senior analyst …
    POST  /v1/access/users/{username}/vetting          record vetting (admin, ISO; not own)
    POST  /v1/access/users/{username}/training         record training (admin, ISO; not own)
    POST  /v1/access/reviews                           open an access review now (admin)
    GET   /v1/access/inactive                          users with access and no recent query

As every governance route, these are thin: the actor is the authenticated caller
(``principal.username``; no request names who acts) and
:class:`~gateway.governance.service.GovernanceService` decides through the permission point
(:mod:`gateway.auth.permissions`). Bootstrap and recovery without a login are break-glass on
the host (``gateway access bootstrap``, ``gateway access break-glass …``), never over HTTP.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gateway.api.deps import PrincipalDep
from gateway.api.routes.access import DoneOut, GovernanceDep, ReviewOut
from gateway.api.routes.common import API_PREFIX, errors
from gateway.governance.model import NetworkRange, Organisation, OrganisationKind, Person
from gateway.governance.preconditions import Memorandum, Training, TrainingKind, Vetting

__all__ = ["router"]

router = APIRouter(prefix=f"{API_PREFIX}/access", tags=["access governance"])

_Name = Annotated[str, Field(min_length=1, max_length=200)]
_Code = Annotated[str, Field(min_length=1, max_length=40)]
_Text = Annotated[str, Field(max_length=2000)]
_CHANGES = errors(400, 401, 403, 404, 429) | {409: {"description": "Already exists."}}


class SettingsIn(BaseModel):
    allow_loopback: bool | None = None
    enforce_origin: bool | None = None
    comment: _Text = ""


class OrganisationIn(BaseModel):
    code: _Code
    name: _Name
    kind: OrganisationKind = "local_authority"
    areas: Annotated[list[_Code], Field(max_length=50)] = []


class NetworkOut(BaseModel):
    cidr: str
    description: str


class OrganisationOut(BaseModel):
    code: str
    name: str
    kind: str
    areas: list[str]
    networks: list[NetworkOut]

    @classmethod
    def of(cls, org: Organisation) -> OrganisationOut:
        return cls(
            code=org.code,
            name=org.name,
            kind=org.kind,
            areas=list(org.areas),
            networks=[NetworkOut(cidr=n.cidr, description=n.description) for n in org.networks],
        )


class NetworkIn(BaseModel):
    cidr: Annotated[str, Field(min_length=1, max_length=60)]
    description: _Text = ""


class NetworkRemoveIn(BaseModel):
    cidr: Annotated[str, Field(min_length=1, max_length=60)]
    comment: _Text = ""


class MemorandumIn(BaseModel):
    reference: _Name
    signed: date
    expires: date | None = None
    username: _Code | None = Field(
        None, description="An applicant's own memorandum (default: the organisation's)."
    )


class PersonIn(BaseModel):
    username: _Code
    full_name: _Name
    organisation: _Code
    role_title: _Name
    email: _Name
    phone: Annotated[str, Field(max_length=60)] = ""
    roles: Annotated[list[_Code], Field(max_length=20)] = []
    line_manager: _Code | None = None
    areas: Annotated[list[_Code], Field(max_length=50)] = []
    workstations: Annotated[list[_Code], Field(max_length=50)] = []
    senior_analyst: _Code | None = None
    deputies: Annotated[list[_Code], Field(max_length=20)] = []
    local_supervisor: _Code | None = None

    def person(self) -> Person:
        return Person(
            self.username,
            self.full_name,
            self.organisation,
            self.role_title,
            self.email,
            frozenset(self.roles),
            self.phone,
            self.line_manager,
            tuple(self.areas),
            tuple(self.workstations),
            senior_analyst=self.senior_analyst,
            deputies=tuple(self.deputies),
            local_supervisor=self.local_supervisor,
        )


class PersonChangeIn(BaseModel):
    """Only what is given changes (``roles`` replaces them; ``workstations: []`` clears)."""

    roles: Annotated[list[_Code], Field(max_length=20)] | None = None
    line_manager: _Code | None = None
    areas: Annotated[list[_Code], Field(max_length=50)] | None = None
    workstations: Annotated[list[_Code], Field(max_length=50)] | None = None
    phone: Annotated[str, Field(max_length=60)] | None = None
    senior_analyst: _Code | None = None
    deputies: Annotated[list[_Code], Field(max_length=20)] | None = None
    local_supervisor: _Code | None = None
    comment: _Text = ""

    def changes(self) -> dict[str, object]:
        found: dict[str, object] = {}
        if self.roles is not None:
            found["roles"] = frozenset(self.roles)
        if self.line_manager is not None:
            found["line_manager"] = self.line_manager
        if self.areas is not None:
            found["areas"] = tuple(self.areas)
        if self.workstations is not None:
            found["workstations"] = tuple(self.workstations)
        for name in ("phone", "senior_analyst", "local_supervisor"):
            if (value := getattr(self, name)) is not None:
                found[name] = value
        if self.deputies is not None:
            found["deputies"] = tuple(self.deputies)
        return found


class PersonOut(BaseModel):
    username: str
    full_name: str
    organisation: str
    role_title: str
    email: str
    roles: list[str]
    line_manager: str | None
    state: str


class VettingIn(BaseModel):
    level: _Code
    granted: date
    expires: date
    reference: _Text = ""


class TrainingIn(BaseModel):
    kind: TrainingKind
    completed: date | None = None


class ReviewOpenIn(BaseModel):
    organisation: _Code


class InactiveOut(BaseModel):
    username: str
    last_activity: datetime | None


# --- settings --------------------------------------------------------------------------------


@router.get("/settings", responses=errors(401, 403, 404, 429), summary="Governance settings")
def show_settings(principal: PrincipalDep, governance: GovernanceDep) -> dict[str, Any]:
    governance.organisations_as(principal.username)  # register viewers only
    settings: dict[str, Any] = json.loads(governance.settings().to_json())
    return settings


@router.patch("/settings", responses=_CHANGES, summary="Change the origin checks")
def change_settings(
    body: SettingsIn, principal: PrincipalDep, governance: GovernanceDep
) -> dict[str, Any]:
    changed = governance.settings().with_origin(
        enforce=body.enforce_origin, allow_loopback=body.allow_loopback
    )
    governance.set_settings(principal.username, changed, body.comment)
    settings: dict[str, Any] = json.loads(changed.to_json())
    return settings


# --- organisations and networks --------------------------------------------------------------


@router.get("/organisations", responses=errors(401, 403, 404, 429), summary="Organisations")
def organisations(principal: PrincipalDep, governance: GovernanceDep) -> list[OrganisationOut]:
    return [OrganisationOut.of(o) for o in governance.organisations_as(principal.username)]


@router.post(
    "/organisations", status_code=201, responses=_CHANGES, summary="Register an organisation"
)
def add_organisation(
    body: OrganisationIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    org = Organisation(body.code, body.name, body.kind, tuple(body.areas))
    governance.add_organisation(principal.username, org)
    return DoneOut(detail=f"organisation {body.code} added")


@router.post(
    "/organisations/{code}/networks",
    status_code=201,
    responses=_CHANGES,
    summary="Register a network range",
)
def add_network(
    code: str, body: NetworkIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    governance.add_network(principal.username, NetworkRange(code, body.cidr, body.description))
    return DoneOut(detail=f"{body.cidr} registered for {code}")


@router.post(
    "/organisations/{code}/networks/remove", responses=_CHANGES, summary="Remove a network range"
)
def remove_network(
    code: str, body: NetworkRemoveIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    governance.remove_network(principal.username, code, body.cidr, body.comment)
    return DoneOut(detail=f"{body.cidr} removed from {code}")


@router.post(
    "/organisations/{code}/memoranda",
    status_code=201,
    responses=_CHANGES,
    summary="Record a memorandum of understanding",
)
def record_memorandum(
    code: str, body: MemorandumIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    memo = Memorandum(code, body.reference, body.signed, body.expires, body.username)
    governance.record_memorandum(principal.username, memo)
    whose = f"{body.username} of {code}" if body.username else code
    return DoneOut(detail=f"memorandum {body.reference} recorded for {whose}")


# --- people ------------------------------------------------------------------------------------


@router.get("/users", responses=errors(401, 403, 404, 429), summary="Everyone in the register")
def people(principal: PrincipalDep, governance: GovernanceDep) -> list[PersonOut]:
    return [
        PersonOut(
            username=p.username,
            full_name=p.full_name,
            organisation=p.organisation,
            role_title=p.role_title,
            email=p.email,
            roles=sorted(p.roles),
            line_manager=p.line_manager,
            state=state,
        )
        for p, state in governance.people_as(principal.username)
    ]


@router.post("/users", status_code=201, responses=_CHANGES, summary="Register a person")
def add_person(body: PersonIn, principal: PrincipalDep, governance: GovernanceDep) -> DoneOut:
    governance.add_person(principal.username, body.person())
    return DoneOut(detail=f"user {body.username} added")


@router.patch("/users/{username}", responses=_CHANGES, summary="Change a person's record")
def change_person(
    username: str, body: PersonChangeIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    governance.update_person(principal.username, username, body.comment, **body.changes())
    return DoneOut(detail=f"user {username} updated")


@router.post(
    "/users/{username}/vetting", status_code=201, responses=_CHANGES, summary="Record vetting"
)
def record_vetting(
    username: str, body: VettingIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    vetting = Vetting(username, body.level, body.granted, body.expires, body.reference)
    governance.record_vetting(principal.username, vetting)
    return DoneOut(detail=f"vetting {body.level} recorded for {username} (expires {body.expires})")


@router.post(
    "/users/{username}/training", status_code=201, responses=_CHANGES, summary="Record training"
)
def record_training(
    username: str, body: TrainingIn, principal: PrincipalDep, governance: GovernanceDep
) -> DoneOut:
    completed = body.completed or governance.clock().date()
    governance.record_training(principal.username, Training(username, body.kind, completed))
    return DoneOut(detail=f"{body.kind} recorded for {username}")


# --- lifecycle -----------------------------------------------------------------------------------


@router.post("/reviews", status_code=201, responses=_CHANGES, summary="Open an access review")
def open_review(
    body: ReviewOpenIn, principal: PrincipalDep, governance: GovernanceDep
) -> ReviewOut:
    return ReviewOut.of(governance.open_review(principal.username, body.organisation))


@router.get("/inactive", responses=errors(401, 403, 404, 429), summary="Users with no recent query")
def inactive(principal: PrincipalDep, governance: GovernanceDep) -> list[InactiveOut]:
    return [
        InactiveOut(username=u.username, last_activity=u.last_activity)
        for u in governance.inactive_as(principal.username)
    ]
