"""Arrow Flight SQL: the door for DBeaver, Power BI, Tableau, ADBC and JDBC/ODBC tools, in
front of the same query service, policy, limits and audit as ``POST /v1/query``.

    protocol.py   the Flight SQL protobuf messages (built from descriptors)
    calls.py      a call's credentials (bearer, or Basic with the token as password), its
                  purpose header, and gateway errors as Flight errors
    handles.py    result tickets and prepared statements, bound to their user
    metadata.py   catalog metadata from the caller's policy view (pure)
    server.py     the server: statements, prepared statements, metadata, cancellation

``gateway serve --flight-port 32010`` (or ``GATEWAY_FLIGHT_PORT``) starts it inside the HTTP
server's process, sharing its engine workers, audit log and limits; with
``--flight-tls-cert``/``--flight-tls-key`` it speaks ``grpc+tls``.

Example:
    >>> flight_location(GatewaySettings(flight_port=32010))
    'grpc://127.0.0.1:32010'
    >>> server = open_flight_server(settings, runtime, resources, shutdown)  # doctest: +SKIP
"""

from __future__ import annotations

from gateway.api.flight.calls import PURPOSE_HEADER
from gateway.api.flight.server import FlightSqlServer
from gateway.api.resources import ServingResources
from gateway.api.runtime import GatewayRuntime
from gateway.api.settings import GatewaySettings
from gateway.api.shutdown import Shutdown
from gateway.errors import ConfigurationError

__all__ = [
    "PURPOSE_HEADER",
    "FlightSqlServer",
    "flight_location",
    "flight_tls",
    "open_flight_server",
]


def flight_tls(settings: GatewaySettings) -> list[tuple[bytes, bytes]]:
    """The certificate and key to serve TLS with (none: plain ``grpc``).

    Raises:
        ConfigurationError: only one of the two files given, or one that cannot be read.
    """
    cert, key = settings.flight_tls_cert, settings.flight_tls_key
    if cert is None and key is None:
        return []
    if cert is None or key is None:
        raise ConfigurationError("Flight SQL over TLS needs both a certificate and its key")
    try:
        return [(cert.read_bytes(), key.read_bytes())]
    except OSError as exc:
        raise ConfigurationError(f"cannot read the Flight SQL TLS files: {exc.strerror}") from exc


def flight_location(settings: GatewaySettings) -> str:
    """Where the Flight SQL server listens (``grpc+tls://`` with a certificate)."""
    scheme = "grpc+tls" if settings.flight_tls_cert is not None else "grpc"
    return f"{scheme}://{settings.flight_host}:{settings.flight_port}"


def open_flight_server(
    settings: GatewaySettings,
    runtime: GatewayRuntime,
    resources: ServingResources,
    shutdown: Shutdown,
) -> FlightSqlServer | None:
    """Start serving Flight SQL when ``settings.flight_port`` is set (else None).

    Raises:
        ConfigurationError: unusable TLS files, or the port cannot be bound.
    """
    if settings.flight_port is None:
        return None
    tls = flight_tls(settings)
    location = flight_location(settings)
    try:
        return FlightSqlServer(
            location,
            runtime,
            resources,
            shutdown,
            tls_certificates=tls,
            ticket_ttl_s=settings.flight_ticket_ttl_s,
            max_request_bytes=settings.max_request_bytes,
        )
    except OSError as exc:  # pyarrow raises ArrowIOError (an OSError) for a taken port
        raise ConfigurationError(f"cannot serve Flight SQL on {location}: {exc}") from exc
