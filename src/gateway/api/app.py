"""The FastAPI application: ``create_app(settings)``.

    /v1/query  /v1/catalog  /v1/me  /v1/audit/…  /v1/tokens  /v1/users   (bearer token)
    /healthz  /metrics                                                    (open)
    /docs  /openapi.json                                                  (the API's description)

The lifespan opens a :class:`~gateway.api.runtime.GatewayRuntime` (engine workers, audit log,
token store) and closes it on shutdown. Routes are plain ``def`` functions: FastAPI runs them in
its thread pool, so a slow query holds one thread and one engine worker, never the event loop.

Example:
    >>> app = create_app(GatewaySettings(data_dir=Path("demo-data")))   # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from starlette.concurrency import run_in_threadpool

import gateway
from gateway.api.bodylimit import BodyLimitMiddleware
from gateway.api.deps import reject_unknown_query
from gateway.api.errors import install_error_handlers
from gateway.api.metrics import Metrics, MetricsMiddleware
from gateway.api.routes import (
    access,
    audit,
    catalog,
    exports,
    health,
    maps,
    me,
    products,
    query,
    templates,
    tokens,
    users,
)
from gateway.api.routes.common import API_PREFIX
from gateway.api.runtime import AuthenticatorFactory, GatewayRuntime, open_runtime
from gateway.api.settings import GatewaySettings, get_settings
from gateway.principal import PrincipalDirectory

__all__ = ["API_PREFIX", "create_app"]

_DESCRIPTION = """Safe, read-only, audited access to the police analytical warehouse for
Community Safety Partnership analysts. Every query names an approved purpose, runs under your
access policy (row filters and column masks) and is recorded in a tamper-evident audit log;
the `X-Query-Id` header of each answer is its audit record id."""


def _v1_routers() -> tuple[APIRouter, ...]:
    return (
        query.router,
        catalog.router,
        me.router,
        audit.router,
        tokens.router,
        users.router,
        exports.router,
        maps.router,
        templates.router,
        products.router,
        access.router,
    )


def create_app(
    settings: GatewaySettings | None = None,
    *,
    directory: PrincipalDirectory | None = None,
    authenticator: AuthenticatorFactory | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the gateway's ASGI application.

    Args:
        settings: how to serve (default: :func:`~gateway.api.settings.get_settings`).
        directory: where principals come from (default: ``DIR/users.toml``).
        authenticator: builds the authenticator (default: bearer tokens, plus the governance
            register's origin and precondition checks when the deployment has a register).
        extra_routers: more routers (exports, templates) using :mod:`gateway.api.deps`; they
            carry their full path prefix, e.g. ``APIRouter(prefix=f"{API_PREFIX}/exports")``.
    """
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime: GatewayRuntime = await run_in_threadpool(
            lambda: open_runtime(
                settings,
                directory=directory,
                authenticator=authenticator or access.governed_bearer_tokens,
                metrics=metrics,
            )
        )
        app.state.runtime = runtime
        try:
            yield
        finally:
            await run_in_threadpool(runtime.close)

    app = FastAPI(
        title="Partnership Analytics Gateway",
        version=gateway.__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.settings = settings
    install_error_handlers(app)
    for router in (*_v1_routers(), *extra_routers, health.router):
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory gateway.api.app:app_from_environment``."""
    return create_app(get_settings())
