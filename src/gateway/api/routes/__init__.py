"""One router per resource; each route is thin: it calls the service and shapes the answer.

Every module here has a ``router``; :func:`gateway.api.app.create_app` includes
:func:`v1_routers` and ``health`` (``common`` holds what they share: the path prefix and the
documented error responses).

Example:
    >>> import pkgutil
    >>> import gateway.api.routes as routes
    >>> modules = {m.name for m in pkgutil.iter_modules(routes.__path__)} - {"common"}
    >>> modules == set(routes.__all__) - {"v1_routers"}
    True
    >>> routers = [getattr(routes, name).router for name in modules]
    >>> all(isinstance(router, APIRouter) for router in routers)
    True
    >>> sorted(map(id, v1_routers())) == sorted(id(r) for r in routers if r is not health.router)
    True
"""

from fastapi import APIRouter

from gateway.api.routes import (
    access,
    audit,
    audit_duties,
    catalog,
    exports,
    health,
    maps,
    me,
    partners,
    products,
    query,
    register,
    templates,
    tokens,
    users,
)

__all__ = [
    "access",
    "audit",
    "audit_duties",
    "catalog",
    "exports",
    "health",
    "maps",
    "me",
    "partners",
    "products",
    "query",
    "register",
    "templates",
    "tokens",
    "users",
    "v1_routers",
]


def v1_routers() -> tuple[APIRouter, ...]:
    """The ``/v1`` routers, in the order the API description lists them."""
    return (
        query.router,
        catalog.router,
        me.router,
        audit.router,
        audit_duties.router,
        tokens.router,
        users.router,
        exports.router,
        maps.router,
        templates.router,
        products.router,
        access.router,
        register.router,
        partners.router,
    )
