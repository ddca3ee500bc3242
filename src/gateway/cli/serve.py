"""``gateway serve --data-dir DIR --host 127.0.0.1 --port 8000``: run the HTTP service.

One uvicorn process (the engine runs its own worker processes for queries) with a request
deadline, a connection cap and a limit on requests in flight (:mod:`gateway.api.server`).
SIGTERM or Ctrl-C stops it cleanly: running queries are cancelled (audited ``cancelled``),
temporary files removed, and the process exits with status 0. Other settings come from
``GATEWAY_*`` environment variables (see :mod:`gateway.api.settings`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli import app
from gateway.cli.options import AuditStoreOption, DataDirOption, use_audit_store
from gateway.errors import ConfigurationError

__all__ = ["serve", "serve_command"]


def serve(data_dir: Path, *, host: str, port: int, log_level: str = "info") -> None:
    """Serve ``data_dir`` until interrupted.

    Raises:
        ConfigurationError: no warehouse in ``data_dir`` (or the server extra is missing).
    """
    from gateway.datadir import DataDir

    if not DataDir(data_dir).warehouse.is_file():
        raise ConfigurationError(
            f"no warehouse in {data_dir}: run `gateway demo --data-dir {data_dir} --no-serve` first"
        )
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"serving needs the server extra: pip install 'partnership-gateway[server]' ({exc})"
        ) from exc
    from gateway.api import GatewaySettings, create_app
    from gateway.api.server import run_server

    settings = GatewaySettings.from_env(os.environ, data_dir=data_dir)
    print(f"gateway: serving {data_dir} on http://{host}:{port} (API docs at /docs)", flush=True)
    run_server(create_app(settings), settings, host=host, port=port, log_level=log_level)
    print("gateway: stopped", flush=True)


@app.command("serve")
def serve_command(
    data_dir: DataDirOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    audit_store: AuditStoreOption = None,
) -> None:
    """Run the gateway's HTTP API on a data directory."""
    use_audit_store(audit_store)
    serve(data_dir, host=host, port=port, log_level=log_level)
