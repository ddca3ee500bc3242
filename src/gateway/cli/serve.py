"""``gateway serve --data-dir DIR --host 127.0.0.1 --port 8000``: run the HTTP service
(``--flight-port 32010``: and Arrow Flight SQL, :mod:`gateway.api.flight`).

One uvicorn process (the engine runs its own worker processes for queries) with a request
deadline, a connection cap and a limit on requests in flight (:mod:`gateway.api.server`).
SIGTERM or Ctrl-C stops it cleanly: running queries are cancelled (audited ``cancelled``),
temporary files removed, and the process exits with status 0. Other settings come from
``GATEWAY_*`` environment variables (see :mod:`gateway.api.settings`).

Fail closed on governance (:mod:`gateway.governance.failclosed`): a directory without a
governance register (principals from ``users.toml``) that gives anyone enhanced access is
refused unless ``--allow-ungoverned`` is given; an ungoverned directory is announced in capitals
at start either way, and ``GET /v1/me`` answers ``"governance": "ungoverned"``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli import app
from gateway.cli.options import (
    AuditStoreOption,
    DataDirOption,
    RegisterStoreOption,
    use_audit_store,
    use_register_store,
)
from gateway.errors import ConfigurationError

if TYPE_CHECKING:
    from gateway.datadir import DataDir

__all__ = ["check_governance", "serve", "serve_command"]


def serve(
    data_dir: Path,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    flight_port: int | None = None,
    flight_tls_cert: Path | None = None,
    flight_tls_key: Path | None = None,
    engine: str | None = None,
    allow_ungoverned: bool = False,
) -> None:
    """Serve ``data_dir`` until interrupted (and Arrow Flight SQL on ``flight_port``).

    Raises:
        ConfigurationError: no warehouse in ``data_dir`` (or the server extra is missing), or
            an ungoverned directory gives enhanced access and ``allow_ungoverned`` is not set.
    """
    from gateway.datadir import DataDir

    if not DataDir(data_dir).warehouse.is_file():
        raise ConfigurationError(
            f"no warehouse in {data_dir}: run `gateway demo --data-dir {data_dir} --no-serve` first"
        )
    check_governance(DataDir(data_dir), allow_ungoverned=allow_ungoverned)
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"serving needs the server extra: pip install 'partnership-gateway[server]' ({exc})"
        ) from exc
    from gateway.api import GatewaySettings
    from gateway.api.flight import PURPOSE_HEADER, flight_location
    from gateway.api.server import run_server
    from gateway.web import create_web_app

    settings = GatewaySettings.from_env(
        os.environ,
        data_dir=data_dir,
        flight_port=flight_port,
        flight_host=host if flight_port is not None else None,
        flight_tls_cert=flight_tls_cert,
        flight_tls_key=flight_tls_key,
        engine=engine,
    )
    print(
        f"gateway: serving {data_dir} on http://{host}:{port} (web application at /, "
        "API docs at /docs)",
        flush=True,
    )
    if settings.flight_port is not None:
        print(
            f"gateway: Arrow Flight SQL on {flight_location(settings)} "
            f"(token as bearer or Basic password; purpose in the {PURPOSE_HEADER} header)",
            flush=True,
        )
    run_server(create_web_app(settings), settings, host=host, port=port, log_level=log_level)
    print("gateway: stopped", flush=True)


def check_governance(data_dir: DataDir, *, allow_ungoverned: bool) -> None:
    """Refuse an ungoverned directory that gives enhanced access (unless allowed); announce
    an ungoverned directory on stderr.

    Raises:
        ConfigurationError: enhanced access without the governance register, not allowed.
    """
    from gateway.clock import utc_now
    from gateway.deployment import Deployment
    from gateway.governance.failclosed import governance_mode, ungoverned_enhanced

    directory = Deployment.principal_directory(data_dir)
    if governance_mode(directory) == "governed":
        return
    enhanced = ungoverned_enhanced(directory, utc_now())
    if enhanced and not allow_ungoverned:
        raise ConfigurationError(
            f"{data_dir.root} is UNGOVERNED (principals from {data_dir.users.name}, no governance "
            f"register) and gives enhanced access to {', '.join(enhanced)} without vetting, "
            "declarations, training or origin checks: grant access through the governance "
            "register (`gateway demo --data-dir DIR` seeds one), or pass --allow-ungoverned "
            "to serve it anyway"
        )
    print(
        f"gateway: WARNING: UNGOVERNED ACCESS: principals come from {data_dir.users} with no "
        "vetting, declarations, training or origin checks"
        + (f"; ENHANCED access for {', '.join(enhanced)}" if enhanced else ""),
        file=sys.stderr,
        flush=True,
    )


@app.command("serve")
def serve_command(
    data_dir: DataDirOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    flight_port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Also serve Arrow Flight SQL (DBeaver, Power BI, ADBC) here."
        ),
    ] = None,
    flight_tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate chain: serve Flight SQL over TLS.")
    ] = None,
    flight_tls_key: Annotated[
        Path | None, typer.Option(help="PEM private key of --flight-tls-cert.")
    ] = None,
    audit_store: AuditStoreOption = None,
    register_store: RegisterStoreOption = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="Query engine: duckdb (default), spark (local mode) or spark:MASTER; Spark "
            "reads DIR/lake (gateway warehouse publish)."
        ),
    ] = None,
    allow_ungoverned: Annotated[
        bool,
        typer.Option(
            "--allow-ungoverned",
            help="Serve enhanced access from users.toml without the governance register "
            "(no vetting, declarations, training or origin checks). Tests and bootstraps only.",
        ),
    ] = False,
) -> None:
    """Run the gateway's web application and HTTP API (and, with --flight-port, Arrow Flight SQL) on a data
    directory."""
    use_audit_store(audit_store)
    use_register_store(register_store)
    serve(
        data_dir,
        host=host,
        port=port,
        log_level=log_level,
        flight_port=flight_port,
        flight_tls_cert=flight_tls_cert,
        flight_tls_key=flight_tls_key,
        engine=engine,
        allow_ungoverned=allow_ungoverned,
    )
