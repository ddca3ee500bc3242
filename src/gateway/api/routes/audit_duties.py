"""Audit duties (policy 198): the audit plan, audits done, the security-incident register.

GET  /v1/audit/plan         each duty of the plan (what is sampled, how often, by whom), when
                            last done and when due; a local auditor: their organisation's
GET  /v1/audit/audits       the audits done (a local auditor: their organisation's)
POST /v1/audit/audits       record an audit done under a duty, with its findings (the duty's role)
GET  /v1/audit/incidents    the incident register, late reports flagged (auditors; a local
                            auditor: their organisation's)
POST /v1/audit/incidents    report a security incident or data loss (anyone signed in); more
                            than ``[audit] incident_report_hours`` after discovery is late
POST /v1/audit/incidents/{id}/close   close it with the actions taken (auditors or the
                            information security officer; never its reporter)

Every answer and every record goes through :class:`gateway.api.audit_duties.AuditDutyDesk`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.audit_duties import AuditDutyDesk
from gateway.api.deps import PrincipalDep, RuntimeDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.audit.incidents import Incident
from gateway.clock import parse_when
from gateway.errors import InputError

__all__ = ["router"]

router = APIRouter(prefix=f"{API_PREFIX}/audit", tags=["audit"])


def _desk(runtime: RuntimeDep) -> AuditDutyDesk:
    return AuditDutyDesk(runtime.service.audit, runtime.service.policy)


DeskDep = Annotated[AuditDutyDesk, Depends(_desk)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DutyOut(BaseModel):
    name: str
    sample: str
    every_days: int
    by: str
    last_done: datetime | None
    last_by: str
    due: datetime
    overdue: bool
    audits: int


class PlanOut(BaseModel):
    duties: list[DutyOut]


class AuditBody(_Strict):
    duty: str = Field(min_length=1, max_length=64, description="The plan's duty carried out.")
    findings: str = Field(
        min_length=1, max_length=8000, description="What the audit found ('none' if nothing)."
    )
    period_start: date | None = Field(None, description="Start of the period audited.")
    period_end: date | None = Field(None, description="End of the period audited.")


class AuditOut(BaseModel):
    audit_id: str
    duty: str
    auditor: str
    organisation: str
    scope: str = Field(description="The organisation audited; empty: the whole force.")
    findings: str
    period_start: date | None
    period_end: date | None
    recorded_at: datetime
    seq: int


class AuditsOut(BaseModel):
    audits: list[AuditOut]


class IncidentBody(_Strict):
    kind: Literal["security", "data_loss"]
    discovered_at: str = Field(
        min_length=1,
        max_length=40,
        description="When it was discovered: ISO date-time (without a zone: UTC).",
        json_schema_extra={"format": "date-time"},
    )
    summary: str = Field(min_length=1, max_length=4000, description="What happened.")
    lost: str | None = Field(
        None, max_length=4000, description="data_loss: what was lost (required for data loss)."
    )


class IncidentOut(BaseModel):
    incident_id: str
    kind: str
    discovered_at: datetime
    reported_at: datetime
    hours_to_report: float
    report_hours: int
    late: bool
    summary: str
    lost: str
    reported_by: str
    organisation: str
    closed_by: str | None = None
    closed_at: datetime | None = None
    actions: str = ""


class CloseBody(_Strict):
    actions: str = Field(min_length=1, max_length=4000, description="The actions taken (recorded).")


class IncidentsOut(BaseModel):
    incidents: list[IncidentOut]


def _incident_out(i: Incident) -> IncidentOut:
    return IncidentOut(
        incident_id=i.incident_id,
        kind=i.incident_kind,
        discovered_at=i.discovered_at,
        reported_at=i.reported_at,
        hours_to_report=i.hours_to_report,
        report_hours=i.report_hours,
        late=i.late,
        summary=i.summary,
        lost=i.lost,
        reported_by=i.reported_by,
        organisation=i.organisation,
        closed_by=i.closed_by,
        closed_at=i.closed_at,
        actions=i.actions,
    )


@router.get("/plan", responses=errors(401, 403, 429), summary="The audit plan and what is due")
def plan(principal: PrincipalDep, desk: DeskDep) -> PlanOut:
    """Each duty of the plan with when it was last done and when it is next due."""
    return PlanOut(
        duties=[
            DutyOut(
                name=s.item.name,
                sample=s.item.sample,
                every_days=s.item.every_days,
                by=s.item.by,
                last_done=s.last_done,
                last_by=s.last_by,
                due=s.due,
                overdue=s.overdue,
                audits=s.audits,
            )
            for s in desk.plan(principal)
        ]
    )


@router.get("/audits", responses=errors(401, 403, 429), summary="Audits done under the plan")
def audits(principal: PrincipalDep, desk: DeskDep) -> AuditsOut:
    """Every audit recorded (a local auditor: their organisation's), oldest first."""
    return AuditsOut(
        audits=[
            AuditOut(
                audit_id=str(e.details.get("audit_id", "")),
                duty=str(e.details.get("duty", "")),
                auditor=e.actor,
                organisation=e.organisation,
                scope=str(e.details.get("scope", "")),
                findings=str(e.details.get("findings", "")),
                period_start=e.details.get("period_start"),
                period_end=e.details.get("period_end"),
                recorded_at=e.time,
                seq=e.seq,
            )
            for e in desk.audits(principal)
        ]
    )


@router.post(
    "/audits",
    status_code=201,
    responses=errors(400, 401, 403, 404, 422, 429, 503),
    summary="Record an audit done",
)
def record_audit(principal: PrincipalDep, desk: DeskDep, body: AuditBody) -> AuditOut:
    """Record an audit carried out under a duty of the plan, with its findings (audited)."""
    event = desk.record_audit(
        principal,
        body.duty,
        findings=body.findings,
        period_start=body.period_start,
        period_end=body.period_end,
    )
    return AuditOut(
        audit_id=str(event.details["audit_id"]),
        duty=str(event.details["duty"]),
        auditor=event.actor,
        organisation=event.organisation,
        scope=str(event.details["scope"]),
        findings=str(event.details["findings"]),
        period_start=body.period_start,
        period_end=body.period_end,
        recorded_at=event.time,
        seq=event.seq,
    )


@router.get("/incidents", responses=errors(401, 403, 429), summary="The incident register")
def incidents(principal: PrincipalDep, desk: DeskDep) -> IncidentsOut:
    """Every incident reported (a local auditor: their organisation's), late ones flagged."""
    return IncidentsOut(incidents=[_incident_out(i) for i in desk.incidents(principal)])


@router.post(
    "/incidents",
    status_code=201,
    responses=errors(400, 401, 422, 429, 503),
    summary="Report a security incident or data loss",
)
def report_incident(principal: PrincipalDep, desk: DeskDep, body: IncidentBody) -> IncidentOut:
    """Report an incident; one reported more than the rule's hours after its discovery is
    recorded as late."""
    discovered = parse_when(body.discovered_at)
    if discovered is None:  # pragma: no cover - the body requires it
        raise InputError("give discovered_at")
    fact = desk.report_incident(
        principal, body.kind, discovered, summary=body.summary, lost=body.lost
    )
    return IncidentOut(
        incident_id=fact.incident_id,
        kind=fact.incident_kind,
        discovered_at=fact.discovered_at,
        reported_at=fact.reported_at,
        hours_to_report=fact.hours_to_report,
        report_hours=fact.report_hours,
        late=fact.late,
        summary=fact.summary,
        lost=fact.lost,
        reported_by=fact.actor,
        organisation=fact.organisation,
    )


@router.post(
    "/incidents/{incident_id}/close",
    responses=errors(400, 401, 403, 404, 409, 422, 429, 503),
    summary="Close an incident",
)
def close(
    incident_id: Annotated[str, PathParam(max_length=64)],
    principal: PrincipalDep,
    desk: DeskDep,
    body: CloseBody,
) -> IncidentOut:
    """Close an incident with the actions taken (audited; never by its reporter)."""
    return _incident_out(desk.close_incident(principal, incident_id, actions=body.actions))
