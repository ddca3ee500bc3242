"""Audit review for senior analysts and auditors (others get 403).

GET /v1/audit/events            events, filtered by kind, actor, period; paged by after_seq
GET /v1/audit/reports/{name}    activity, person-lookups, large-extractions, out-of-hours,
                                denied, exports, dormant (the table in gateway.audit.reporting,
                                the same reports and parameters as ``gateway audit report``)
GET /v1/audit/verify            recompute the hash chain and check the checkpoints
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.api.deps import PrincipalDep, RuntimeDep
from gateway.api.encode import column_types, table_rows
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.schemas import ColumnOut, EventOut, EventsPage, ReportOut, VerifyOut
from gateway.audit.reporting import REPORT_PARAMETERS, ReportArguments, parse_clock
from gateway.clock import parse_when

__all__ = ["router"]

router = APIRouter(prefix=f"{API_PREFIX}/audit", tags=["audit"])

_WHEN = {"format": "date-time"}
Since = Annotated[
    str | None,
    Query(
        max_length=40,
        description="Start (inclusive), ISO date or date-time; without a zone it is UTC.",
        json_schema_extra=_WHEN,
    ),
]
Until = Annotated[
    str | None,
    Query(
        max_length=40,
        description="End (exclusive), ISO date or date-time; without a zone it is UTC.",
        json_schema_extra=_WHEN,
    ),
]


@router.get("/events", responses=errors(400, 401, 403, 429), summary="Audit events")
def events(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    kind: Annotated[
        list[str] | None, Query(description="Only these kinds (repeatable), e.g. query.denied.")
    ] = None,
    actor: Annotated[str | None, Query(max_length=200, description="Only this user.")] = None,
    since: Since = None,
    until: Until = None,
    after_seq: Annotated[int, Query(ge=0, le=2**62, description="Only after this seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> EventsPage:
    """Events in log order; pass ``next_after_seq`` back as ``after_seq`` for the next page."""
    found = runtime.review.events(
        principal,
        kinds=kind,
        actor=actor,
        since=parse_when(since),
        until=parse_when(until),
        after_seq=after_seq,
        limit=limit,
    )
    return EventsPage(
        events=[
            EventOut(
                seq=e.seq,
                event_id=e.event_id,
                time=e.time,
                kind=e.kind,
                actor=e.actor,
                organisation=e.organisation,
                details=dict(e.details),
            )
            for e in found
        ],
        next_after_seq=found[-1].seq if len(found) == limit else None,
    )


def _described(name: str) -> str:
    return REPORT_PARAMETERS[name].help


def _bounds(name: str) -> dict[str, int | None]:
    return {"ge": REPORT_PARAMETERS[name].minimum, "le": REPORT_PARAMETERS[name].maximum}


@router.get("/reports/{name}", responses=errors(400, 401, 403, 404, 429), summary="An audit report")
def report(
    name: str,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    since: Since = None,
    until: Until = None,
    min_rows: Annotated[
        int, Query(**_bounds("min_rows"), description=_described("min_rows"))
    ] = 10_000,
    work_start: Annotated[
        str, Query(max_length=15, description=_described("work_start"))
    ] = "08:00",
    work_end: Annotated[str, Query(max_length=15, description=_described("work_end"))] = "18:00",
    timezone: Annotated[
        str, Query(max_length=64, description=_described("timezone"))
    ] = "Europe/London",
    months: Annotated[int, Query(**_bounds("months"), description=_described("months"))] = 6,
    users: Annotated[list[str] | None, Query(alias="user", description=_described("users"))] = None,
) -> ReportOut:
    """One review report (see ``gateway.audit.reporting.REPORTS``): activity, person-lookups,
    large-extractions, out-of-hours, denied, exports or dormant."""
    arguments = ReportArguments(
        since=parse_when(since),
        until=parse_when(until),
        min_rows=min_rows,
        work_start=parse_clock(work_start),
        work_end=parse_clock(work_end),
        timezone=timezone,
        months=months,
        users=tuple(users or ()),
    )
    table = runtime.review.report(principal, name, arguments)
    return ReportOut(
        report=name,
        columns=[ColumnOut(**c) for c in column_types(table.schema)],
        rows=table_rows(table),
        row_count=table.num_rows,
    )


@router.get("/verify", responses=errors(401, 403, 429, 503), summary="Verify the audit chain")
def verify(principal: PrincipalDep, runtime: RuntimeDep) -> VerifyOut:
    """Recompute the hash chain and check the signed checkpoints."""
    result = runtime.review.verify(principal)
    return VerifyOut(
        ok=result.ok,
        summary=result.summary(),
        records=result.records,
        head_seq=result.head_seq,
        last_checkpoint_seq=result.last_checkpoint_seq,
        checkpoints_checked=result.checkpoints_checked,
        broken_seq=result.broken.seq if result.broken else None,
        broken_reason=result.broken.reason if result.broken else None,
        checkpoint_problems=list(result.checkpoint_problems),
        warnings=list(result.warnings),
    )
