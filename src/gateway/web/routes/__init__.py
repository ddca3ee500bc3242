"""The web application's routers: sign-in, the SQL console and query history, exports, the audit
dashboard, the product QA queue, account administration, access requests and their inboxes,
the register (users, organisations, access reviews, tokens), templates, the strategic
assessment pack and the map view."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.web.routes import (
    access,
    admin,
    assessment,
    audit,
    console,
    exports,
    maps,
    oidc,
    products,
    register,
    signin,
    templates,
)

__all__ = ["web_routers"]


def web_routers() -> tuple[APIRouter, ...]:
    return (
        signin.router,
        oidc.router,
        console.router,
        exports.router,
        audit.router,
        products.router,
        admin.router,
        templates.router,
        access.router,
        assessment.router,
        register.router,
        maps.router,
    )
