"""``GET /healthz``, ``GET /readyz`` and ``GET /metrics`` (no authentication; no data, no
usernames).

``/healthz`` reports what the gateway can do right now, from three parts: the engine's workers
(alive and answering: a stopped worker is not, :meth:`~gateway.engines.base.Engine.stats`), its
queue (depth against the most that may wait) and the audit log (``AuditLog.health()``, or
whether the store answers a read). Each is ``ok``, ``degraded`` or ``failing``; the answer's
status is the worst of them, with one reason per problem. It is 200 unless ``failing`` (no
worker answers, or audit records cannot be written: no query can be served), then 503.

``/readyz`` is for load balancers: 200 only when a query could be served now (not failing, the
queue not full, the server not shutting down), else 503 with the reasons.

Example:
    >>> from gateway.engines import EngineStats
    >>> stats = EngineStats(workers=4, workers_alive=0, restarts=0, queue_depth=0, running=0,
    ...                     completed=0, failed=0, workers_stopped=4, max_queue=64)
    >>> health = assess(stats, AuditHealthOut(status="ok"), stopping=False)
    >>> health.status, health.ready, health.reasons[0]
    ('failing', False, 'no engine worker is answering (4 of 4 stopped)')
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from gateway.api.deps import RuntimeDep
from gateway.api.runtime import GatewayRuntime
from gateway.api.schemas import AuditHealthOut, EngineOut, HealthOut, HealthStatus, ReadyOut
from gateway.engines.base import EngineStats
from gateway.errors import GatewayError
from gateway.projection_switch import ProjectionSwitch
from gateway.warehouse_refresh import WarehouseRefresh

__all__ = ["assess", "audit_health", "router", "with_projections", "with_warehouse"]

router = APIRouter(tags=["operations"])

_RANK: dict[HealthStatus, int] = {"ok": 0, "degraded": 1, "failing": 2}
_STATUSES: dict[str, HealthStatus] = {"ok": "ok", "degraded": "degraded", "failing": "failing"}


@router.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "Failing: no query can be served."}},
    summary="Health of the engine workers, the queue and the audit log",
)
def healthz(runtime: RuntimeDep, request: Request) -> JSONResponse:
    """``ok``, ``degraded`` (200) or ``failing`` (503), with the engine, queue and audit."""
    body = _health(runtime, request)
    return JSONResponse(body.model_dump(), status_code=503 if body.status == "failing" else 200)


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "Not ready: send queries elsewhere."}},
    summary="Readiness for load balancers",
)
def readyz(runtime: RuntimeDep, request: Request) -> JSONResponse:
    """200 when the gateway can serve a query now, else 503 with the reasons."""
    health = _health(runtime, request)
    body = ReadyOut(ready=health.ready, reasons=[] if health.ready else health.reasons)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    summary="Prometheus metrics",
)
def metrics(runtime: RuntimeDep) -> PlainTextResponse:
    """Requests, latency, denials, engine workers and queue depth (Prometheus text format)."""
    text = runtime.metrics.render(runtime.service.engine.stats())
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def assess(stats: EngineStats, audit: AuditHealthOut, *, stopping: bool) -> HealthOut:
    """The gateway's health from its engine figures and its audit log's health (pure).

    Example:
        >>> from gateway.engines import EngineStats
        >>> stats = EngineStats(workers=4, workers_alive=3, restarts=1, queue_depth=0,
        ...                     running=0, completed=0, failed=0, workers_stopped=1,
        ...                     idle=3, max_queue=64)
        >>> health = assess(stats, AuditHealthOut(status="ok"), stopping=False)
        >>> health.status, health.ready, health.engine.status
        ('degraded', True, 'degraded')
    """
    failing: list[str] = []
    degraded: list[str] = []
    not_alive = stats.workers - stats.workers_alive
    stopped = f"{stats.workers_stopped} of {stats.workers} stopped"
    if stats.workers_alive == 0:
        failing.append(f"no engine worker is answering ({stopped})")
    elif not_alive > 0:
        degraded.append(
            f"{not_alive} of {stats.workers} engine workers are not answering ({stopped}; "
            "they are being replaced)"
        )
    queue_full = stats.queue_depth >= stats.max_queue
    if queue_full:
        degraded.append(
            f"the query queue is full ({stats.queue_depth} waiting, at most {stats.max_queue}): "
            "new queries are refused"
        )
    engine_status: HealthStatus = "failing" if failing else "degraded" if degraded else "ok"
    reasons = failing + degraded + [f"audit: {reason}" for reason in audit.reasons]
    status = max(engine_status, audit.status, key=_RANK.__getitem__)
    ready = status != "failing" and not queue_full and not stopping
    if stopping:
        reasons.append("the server is shutting down")
    return HealthOut(
        status=status,
        ready=ready,
        reasons=reasons,
        engine=EngineOut(
            status=engine_status,
            workers=stats.workers,
            workers_alive=stats.workers_alive,
            workers_stopped=stats.workers_stopped,
            idle=stats.idle,
            restarts=stats.restarts,
            queue_depth=stats.queue_depth,
            max_queue=stats.max_queue,
            running=stats.running,
            per_user_workers=stats.per_user_workers,
            reserved_workers=stats.reserved_workers,
        ),
        audit=audit,
    )


def audit_health(runtime: GatewayRuntime) -> AuditHealthOut:
    """The audit log's own account (``AuditLog.health()``) when it gives one; otherwise ``ok``
    if the store answers a cheap read (its head), ``failing`` if it does not."""
    audit = runtime.service.audit
    report = getattr(audit, "health", None)
    if callable(report):
        health = report()
        said = str(getattr(health, "status", ""))
        reasons = [str(reason) for reason in getattr(health, "reasons", ())]
        status = _STATUSES.get(said)
        if status is None:
            return AuditHealthOut(status="failing", reasons=[f"unknown audit status {said!r}"])
        return AuditHealthOut(status=status, reasons=reasons)
    try:
        audit.store.head()
    except GatewayError as exc:
        return AuditHealthOut(status="failing", reasons=[f"the audit store does not answer: {exc}"])
    return AuditHealthOut(status="ok")


def with_projections(health: HealthOut, switch: ProjectionSwitch | None) -> HealthOut:
    """``health`` with the masked projections' state; a failed build degrades it (queries
    still run, live and slower).

    Example:
        >>> from gateway.engines import EngineStats
        >>> stats = EngineStats(workers=1, workers_alive=1, restarts=0, queue_depth=0,
        ...                     running=0, completed=0, failed=0, idle=1, max_queue=8)
        >>> with_projections(assess(stats, AuditHealthOut(status="ok"), stopping=False),
        ...                  None).projections
        'off'
    """
    if switch is None:
        return health
    if switch.state != "failed":
        return health.model_copy(update={"projections": switch.state})
    reason = f"masked projections not built ({switch.reason}): queries run live"
    return _degraded(health, "projections", reason)


def with_warehouse(health: HealthOut, refresh: WarehouseRefresh | None) -> HealthOut:
    """``health`` with the warehouse refresh's state; a failed one degrades it (the previous
    version still answers).

    Example:
        >>> from gateway.engines import EngineStats
        >>> stats = EngineStats(workers=1, workers_alive=1, restarts=0, queue_depth=0,
        ...                     running=0, completed=0, failed=0, idle=1, max_queue=8)
        >>> with_warehouse(assess(stats, AuditHealthOut(status="ok"), stopping=False),
        ...                None).warehouse
        'current'
    """
    if refresh is None or refresh.state != "failed":
        return health.model_copy(update={"warehouse": refresh.state if refresh else "current"})
    # a new version not taken up, or the projections not rebuilt for views they miss
    reason = (
        f"the warehouse's files were not rebuilt ({refresh.reason}): the version served answers"
    )
    return _degraded(health, "warehouse", reason)


def _degraded(health: HealthOut, part: str, reason: str) -> HealthOut:
    """``health`` with ``part`` failed: at least degraded, ``reason`` added."""
    status: HealthStatus = max(health.status, "degraded", key=_RANK.__getitem__)
    return health.model_copy(
        update={part: "failed", "status": status, "reasons": [*health.reasons, reason]}
    )


def _health(runtime: GatewayRuntime, request: Request) -> HealthOut:
    shutdown = getattr(request.app.state, "shutdown", None)
    stopping = bool(getattr(shutdown, "started", False))
    health = assess(runtime.service.engine.stats(), audit_health(runtime), stopping=stopping)
    health = with_projections(health, runtime.deployment.projections)
    return with_warehouse(health, runtime.deployment.warehouse_refresh)
