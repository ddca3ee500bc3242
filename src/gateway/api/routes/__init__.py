"""One router per resource; each route is thin: it calls the service and shapes the answer."""

from gateway.api.routes import audit, catalog, health, me, query, tokens, users

__all__ = ["audit", "catalog", "health", "me", "query", "tokens", "users"]
