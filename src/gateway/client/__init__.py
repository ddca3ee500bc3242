"""The light Python client for notebooks: needs only pyarrow and polars (HTTP is
Python's own ``http.client``: :mod:`gateway.client.http`).

    >>> from gateway.client import connect                                     # doctest: +SKIP
    >>> gw = connect("http://127.0.0.1:8000", "pgw_…", purpose="SA-2026")        # doctest: +SKIP
    >>> gw.query("SELECT count(*) AS n FROM crime")                             # doctest: +SKIP

Errors are the server's own classes (:mod:`gateway.errors`): ``TableNotPermitted``,
``PurposeNotApproved``, ``AccountSuspended`` …; failures on the client's side are
:class:`ClientError` subclasses.
"""

from gateway.client.connection import Connection, connect
from gateway.client.errors import (
    ClientError,
    ConnectionFailed,
    RequestTimedOut,
    UnexpectedResponse,
    error_class,
)
from gateway.errors import (
    AccessDenied,
    AccessExpired,
    AccountSuspended,
    AuthenticationError,
    GatewayError,
    InputError,
    PurposeNotApproved,
    QueryTimeout,
    RateLimited,
    TableNotPermitted,
    TooLarge,
)

__all__ = [
    "AccessDenied",
    "AccessExpired",
    "AccountSuspended",
    "AuthenticationError",
    "ClientError",
    "Connection",
    "ConnectionFailed",
    "GatewayError",
    "InputError",
    "PurposeNotApproved",
    "QueryTimeout",
    "RateLimited",
    "RequestTimedOut",
    "TableNotPermitted",
    "TooLarge",
    "UnexpectedResponse",
    "connect",
    "error_class",
]
