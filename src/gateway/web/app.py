"""``create_web_app(settings)``: the API with the web application in front of it.

The pages are routes of the same FastAPI application as ``/v1`` (one process, one runtime, one
service): :func:`gateway.api.app.create_app` with the web routers added, the package's static
files under ``/static``, the security headers on every response, and a page asked for without a
usable session redirected to the sign-in page.

Example:
    >>> app = create_web_app(GatewaySettings(data_dir=Path("demo-data")))   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from gateway.api.app import create_app
from gateway.api.settings import GatewaySettings
from gateway.web.routes import web_routers
from gateway.web.security import SecurityHeaders
from gateway.web.session import SignInRequired

__all__ = ["STATIC_DIRECTORY", "create_web_app"]

#: The web application's stylesheet and scripts (no third-party code).
STATIC_DIRECTORY = Path(__file__).with_name("static")


def _to_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(exc.location, status_code=303)


def create_web_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway's ASGI application with its web pages (what ``gateway serve`` runs)."""
    app = create_app(settings, extra_routers=web_routers())
    app.mount("/static/web", StaticFiles(directory=STATIC_DIRECTORY), name="web-static")
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_middleware(SecurityHeaders)
    return app
