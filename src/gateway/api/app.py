"""The FastAPI application: ``create_app(settings)``.

One router per resource (:func:`gateway.api.routes.v1_routers`, then ``health``)::

    /v1/query  /v1/catalog  /v1/me  /v1/maps/…  /v1/templates/…     (bearer token)
    /v1/exports/…  /v1/publish/police-uk  /v1/products/…
    /v1/audit/…  /v1/tokens/…  /v1/users  /v1/access/…
    /healthz  /readyz  /metrics                                      (open)
    /docs  /openapi.json                                             (the API's description;
                                                                     Swagger UI shipped in the package)

The lifespan opens a :class:`~gateway.api.runtime.GatewayRuntime` (engine workers, audit log,
token store) and the :class:`~gateway.api.resources.ServingResources` (disk quota, encoders,
sweeper: leftover result files and export work folders are swept at start, periodically and at
stop), and, with ``settings.flight_port``, the Arrow Flight SQL server (:mod:`gateway.api.flight`)
over the same runtime; for a governed gateway it runs the lifecycle schedule
(:mod:`gateway.api.lifecycle`). On shutdown it withdraws the work in flight (:mod:`gateway.api.shutdown`), waits for it,
then closes the runtime. Routes run their blocking work in the thread pool, so a slow query
holds one thread and one engine worker, never the event loop.

Example:
    >>> sorted({route.path.split("/")[2] for router in v1_routers() for route in router.routes})
    ['access', 'audit', 'catalog', 'exports', 'maps', 'me', 'products', 'publish', 'query', 'templates', 'tokens', 'users']
    >>> app = create_app(GatewaySettings(data_dir=Path("demo-data")))   # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, Depends, FastAPI
from starlette.concurrency import run_in_threadpool

import gateway
from gateway.api.bodylimit import BodyLimitMiddleware
from gateway.api.deps import reject_unknown_query
from gateway.api.docs import install_docs
from gateway.api.errors import install_error_handlers
from gateway.api.flight import open_flight_server
from gateway.api.lifecycle import run_lifecycle
from gateway.api.metrics import Metrics, MetricsMiddleware
from gateway.api.resources import DiskQuota, ResultSweeper, ServingResources
from gateway.api.retention import run_retention
from gateway.api.routes import health, v1_routers
from gateway.api.routes.common import API_PREFIX
from gateway.api.runtime import GatewayRuntime, open_runtime
from gateway.api.settings import GatewaySettings, get_settings
from gateway.api.shutdown import Shutdown
from gateway.governance.directory import GovernanceDirectory

__all__ = ["API_PREFIX", "create_app"]

_DESCRIPTION = """Safe, read-only, audited access to the police analytical warehouse for
Community Safety Partnership analysts. Every query names an approved purpose, runs under your
access policy (row filters and column masks) and is recorded in a tamper-evident audit log;
the `X-Query-Id` header of each answer is its audit record id."""


def create_app(
    settings: GatewaySettings | None = None,
    *,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the gateway's ASGI application.

    Args:
        settings: how to serve (default: :func:`~gateway.api.settings.get_settings`).
        extra_routers: routers added after the gateway's own (a deployment's extensions, or a
            test's), using :mod:`gateway.api.deps`; they carry their full path prefix, e.g.
            ``APIRouter(prefix=f"{API_PREFIX}/reports")``.
    """
    settings = settings or get_settings()
    metrics = Metrics()
    shutdown = Shutdown()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime: GatewayRuntime = await run_in_threadpool(
            lambda: open_runtime(settings, metrics=metrics)
        )
        app.state.runtime = runtime
        resources = _resources(settings, runtime)
        app.state.resources = resources
        flight = None
        try:
            await run_in_threadpool(resources.sweeper.at_boundary)
            flight = await run_in_threadpool(
                open_flight_server, settings, runtime, resources, shutdown
            )
            async with anyio.create_task_group() as housekeeping:
                housekeeping.start_soon(resources.sweep_periodically, settings.sweep_interval_s)
                if isinstance(runtime.directory, GovernanceDirectory):
                    housekeeping.start_soon(
                        run_lifecycle, runtime.governance, settings.lifecycle_interval_s
                    )
                if settings.retention_interval_s > 0:
                    housekeeping.start_soon(
                        run_retention, runtime.deployment, settings.retention_interval_s
                    )
                try:
                    yield
                finally:
                    housekeeping.cancel_scope.cancel()
        finally:
            shutdown.begin()  # withdraw what still runs (the server began it on a signal)
            if flight is not None:
                await run_in_threadpool(flight.close)
            await run_in_threadpool(shutdown.wait_idle, settings.shutdown_grace_s)
            await run_in_threadpool(runtime.close)
            await run_in_threadpool(resources.sweeper.at_boundary)

    app = FastAPI(
        title="Partnership Analytics Gateway",
        version=gateway.__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
        docs_url=None,  # served from the package's own assets (gateway.api.docs)
        redoc_url=None,
    )
    install_docs(app)
    app.state.settings = settings
    app.state.shutdown = shutdown
    install_error_handlers(app)
    for router in (*v1_routers(), *extra_routers, health.router):
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _resources(settings: GatewaySettings, runtime: GatewayRuntime) -> ServingResources:
    return ServingResources(
        quota=DiskQuota(settings.result_quota_bytes, retry_after_s=settings.send_timeout_s),
        encoders=anyio.CapacityLimiter(settings.encoding_threads),
        sweeper=ResultSweeper.for_policy(
            runtime.data_dir.results, runtime.data_dir.exports, runtime.service.policy
        ),
    )


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory gateway.api.app:app_from_environment``."""
    return create_app(get_settings())
