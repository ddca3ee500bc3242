"""One router per resource; each route is thin: it calls the service and shapes the answer.

Every module here has a ``router``; :func:`gateway.api.app.create_app` includes them all
(``common`` holds what they share: the path prefix and the documented error responses).

Example:
    >>> import pkgutil
    >>> from fastapi import APIRouter
    >>> import gateway.api.routes as routes
    >>> modules = {m.name for m in pkgutil.iter_modules(routes.__path__)} - {"common"}
    >>> modules == set(routes.__all__)
    True
    >>> all(isinstance(getattr(routes, name).router, APIRouter) for name in routes.__all__)
    True
"""

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

__all__ = [
    "access",
    "audit",
    "catalog",
    "exports",
    "health",
    "maps",
    "me",
    "products",
    "query",
    "templates",
    "tokens",
    "users",
]
