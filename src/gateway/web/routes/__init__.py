"""The web application's routers: sign-in, the SQL console and query history, exports."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.web.routes import console, exports, signin

__all__ = ["web_routers"]


def web_routers() -> tuple[APIRouter, ...]:
    return (signin.router, console.router, exports.router)
