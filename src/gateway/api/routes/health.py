"""``GET /healthz`` and ``GET /metrics`` (no authentication; no data, no usernames)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from gateway.api.deps import RuntimeDep
from gateway.api.schemas import EngineOut, HealthOut

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "No engine worker is alive."}},
    summary="Liveness and engine state",
)
def healthz(runtime: RuntimeDep) -> JSONResponse:
    """``ok`` while at least one engine worker is alive, else 503 ``degraded``."""
    stats = runtime.service.engine.stats()
    body = HealthOut(
        status="ok" if stats.workers_alive > 0 else "degraded",
        engine=EngineOut(
            workers=stats.workers,
            workers_alive=stats.workers_alive,
            restarts=stats.restarts,
            queue_depth=stats.queue_depth,
            running=stats.running,
        ),
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)


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
