"""A request refused for its input leaves an audit record: who, which route, which code, why.

A body over the size limit, text no part of the gateway can store (a lone surrogate, a NUL),
bytes that are not UTF-8, JSON that does not parse or does not validate: each is answered with
a 4xx JSON error. Before that answer the caller is authenticated, as any route would: without
valid credentials the answer is the authentication error (401, recorded as every failed
authentication is); with them, an ``access.request_refused`` record is written
(``EventKind.ACCESS_REQUEST_REFUSED``), carrying the principal, the route (method and path, never the query
string), the status, the error code and the message. The message names the problem, never the
submitted bytes or values.

If the record cannot be written the answer is the audit's own 503: a refusal is not allowed
to go unrecorded quietly.

Example:
    >>> refused = Refused(400, "bad_request", "the request body is not valid JSON")
    >>> refused.document()
    {'error': {'code': 'bad_request', 'message': 'the request body is not valid JSON'}}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.errors import GatewayError

__all__ = ["Refused", "record_refusal"]

log = logging.getLogger("gateway.api")


@dataclass(frozen=True)
class Refused:
    """The answer to a refused request: status, code, message and any extra headers."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The gateway's JSON error document for it."""
        return {"error": {"code": self.code, "message": self.message}}

    @classmethod
    def of(cls, exc: GatewayError) -> Refused:
        """The answer for a gateway error (authentication, audit unavailable …)."""
        headers = {"WWW-Authenticate": 'Bearer realm="gateway"'} if exc.status == 401 else {}
        retry_after = getattr(exc, "retry_after_header", None)
        if isinstance(retry_after, str):
            headers["Retry-After"] = retry_after
        return cls(exc.status, exc.code, exc.message, headers)


def record_refusal(connection: HTTPConnection, refused: Refused) -> Refused:
    """Authenticate the caller and audit the refusal; the answer to send.

    Blocking (token look-up, audit write): call it from a worker thread. Without a running
    gateway (an app built without its lifespan) nothing is recorded and ``refused`` is sent.

    Returns:
        ``refused`` once its record is written; the authentication error for a caller without
        valid credentials; the audit's 503 when the record could not be written.
    """
    runtime = getattr(connection.app.state, "runtime", None)
    if runtime is None:
        return refused
    address = connection.client.host if connection.client else ""
    try:
        principal = runtime.authenticator.authenticate(
            connection.headers.get("authorization"), address
        )
        runtime.service.audit.record(
            AccessEvent(
                EventKind.ACCESS_REQUEST_REFUSED,
                principal.username,
                principal.organisation,
                subject=f"{connection.scope.get('method', '')} {connection.url.path}",
                comment=refused.code,
                extra={
                    "status": refused.status,
                    "code": refused.code,
                    "reason": refused.message,
                    "client_address": address,
                },
            )
        )
    except GatewayError as exc:
        if exc.status >= 500:
            log.warning("refusal of %s not recorded: %s", connection.url.path, exc.code)
        return Refused.of(exc)
    return refused
