"""The HTTP service (FastAPI): thin routes over :class:`gateway.service.QueryService`.

    app         create_app(settings): routers, middleware, error handlers, lifespan
    settings    GatewaySettings (GATEWAY_* variables), cached get_settings()
    runtime     GatewayRuntime: service, token store, directory, authenticator, limits
    deps        Annotated dependencies: RuntimeDep, PrincipalDep, ClientDep, SettingsDep
    errors      GatewayError / validation / HTTP errors → {"error": {code, message, …}}
    streaming   results as Arrow IPC, CSV, Parquet or JSON, streamed batch by batch
    encode      Arrow → JSON rows / CSV- and Parquet-safe batches
    bodylimit   413 for request bodies over the limit
    metrics     Prometheus counters, histogram and engine gauges
    review      audit review (events, reports, verify) for senior analysts
    schemas     request/response models
    routes/     query, catalog, me, audit, tokens, users, health

Only this package knows HTTP. Example::

    from gateway.api import create_app, GatewaySettings
    app = create_app(GatewaySettings(data_dir=Path("demo-data")))
"""

from gateway.api.app import API_PREFIX, create_app
from gateway.api.settings import GatewaySettings, get_settings

__all__ = ["API_PREFIX", "GatewaySettings", "create_app", "get_settings"]
