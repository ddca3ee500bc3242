"""The client's errors: the server's own error classes, rebuilt from its JSON answers.

A refusal raises the same class the server raised (:mod:`gateway.errors`), so
``except TableNotPermitted`` or ``except AccessDenied`` work in a notebook exactly as the code
reads. A code this client does not know (a newer server) maps to the base class for its HTTP
status (403 → :class:`~gateway.errors.AccessDenied`, …), keeping the server's ``code``. Failures
on the client's side of the wire have their own branch::

    GatewayError
    └── ClientError                 client_error
        ├── ConnectionFailed        connection_failed     (no answer: server down, DNS, TLS)
        ├── RequestTimedOut         client_timeout        (no answer within the timeout)
        └── UnexpectedResponse      unexpected_response   (not the gateway's JSON, bad stream)

Example:
    >>> exc = error_from_answer(403, {"error": {"code": "table_not_permitted",
    ...                                         "message": "no", "query_id": "q1"}})
    >>> type(exc).__name__, exc.query_id, isinstance(exc, AccessDenied)
    ('TableNotPermitted', 'q1', True)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from gateway.errors import (
    AccessDenied,
    AuthenticationError,
    Conflict,
    EngineUnavailable,
    GatewayError,
    InputError,
    NotFound,
    QueryLimitExceeded,
    RateLimited,
    TooLarge,
)

__all__ = [
    "ClientError",
    "ConnectionFailed",
    "RequestTimedOut",
    "UnexpectedResponse",
    "error_class",
    "error_from_answer",
]


class ClientError(GatewayError):
    """The request did not get a gateway answer."""

    code = "client_error"
    status = 0


class ConnectionFailed(ClientError):
    code = "connection_failed"


class RequestTimedOut(ClientError):
    code = "client_timeout"


class UnexpectedResponse(ClientError):
    code = "unexpected_response"


_BY_STATUS: Mapping[int, type[GatewayError]] = {
    400: InputError,
    401: AuthenticationError,
    403: AccessDenied,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    429: RateLimited,
    422: QueryLimitExceeded,
    503: EngineUnavailable,
}
_POSITION = re.compile(r" \(line \d+, column \d+\)$")


def _subclasses(cls: type[GatewayError]) -> Iterator[type[GatewayError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def error_class(code: str, status: int) -> type[GatewayError]:
    """The error class for a server's code (by status when the code is unknown here).

    Example:
        >>> error_class("purpose_not_approved", 403).__name__
        'PurposeNotApproved'
        >>> error_class("some_new_code", 403).__name__
        'AccessDenied'
    """
    for cls in _subclasses(GatewayError):
        if cls.code == code and not issubclass(cls, ClientError):
            return cls
    return _BY_STATUS.get(status, GatewayError)


def error_from_answer(status: int, body: Any) -> GatewayError:
    """The exception for an error answer (its JSON body already decoded)."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict) or not isinstance(detail.get("code"), str):
        return UnexpectedResponse(f"the server answered {status} without an error document")
    message = str(detail.get("message", ""))
    line, column = detail.get("line"), detail.get("column")
    position = None
    if isinstance(line, int) and isinstance(column, int):
        position = (line, column)
        message = _POSITION.sub("", message)
    exc = error_class(detail["code"], status)(message, position=position)
    query_id = detail.get("query_id")
    exc.query_id = query_id if isinstance(query_id, str) else None
    return exc
