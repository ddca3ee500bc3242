"""One Flight call's caller: credentials and purpose from its headers, errors back to Flight.

Credentials are the gateway's API tokens, sent the way Flight clients send them:

- ``authorization: Bearer <token>`` on every call (ADBC ``adbc.flight.sql.authorization_header``,
  the JDBC driver's ``token`` property), or
- ``authorization: Basic base64(<user>:<token>)`` (a user name and the token as password, as
  DBeaver's and Power BI's user/password boxes send it). Clients send Basic on the
  ``Handshake`` call and then use the bearer the server answers with; here that is the same
  token. A user name that is not the token's owner is refused.

The purpose travels in the ``gateway.purpose`` header, per connection or per statement (ADBC
``adbc.flight.sql.rpc.call_header.gateway.purpose``; the JDBC/ODBC drivers send any unknown
connection property as a header). Without one, every call that touches data is refused
(``purpose_required``), as ``POST /v1/query`` refuses a body without ``purpose``.

Errors: a :class:`~gateway.errors.GatewayError` becomes the Flight error of its status with
``[code] message (query q…)`` as its message (the code first, for programs to read); nothing
else leaves a handler but a generic internal error (the traceback is logged). Only
``FlightError`` subclasses leave a handler: pyarrow sends any other exception with its Python
traceback in the message, so a refusal for bad input (400, 404, 409, 413, 422) is a
``FlightServerError`` (gRPC ``UNKNOWN``) rather than ``INVALID_ARGUMENT``/``NOT_FOUND``.

Example:
    >>> credentials({"authorization": ["Basic YS5raGFuOnBnd19hYmM="]})
    Credentials(authorization='Bearer pgw_abc', username='a.khan')
    >>> call_purpose({"gateway.purpose": ["SA-2026"]})
    'SA-2026'
    >>> str(flight_error(PurposeRequired("say why")))
    '[purpose_required] say why'
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow.flight as flight

from gateway.errors import AuthenticationError, GatewayError, InputError, PurposeRequired

__all__ = [
    "PURPOSE_HEADER",
    "CallHeaders",
    "CallHeadersFactory",
    "Credentials",
    "call_purpose",
    "credentials",
    "flight_error",
    "flight_errors",
    "peer_address",
]

log = logging.getLogger("gateway.api.flight")

PURPOSE_HEADER = "gateway.purpose"
_MAX_PURPOSE = 200
_Headers = Mapping[str, Sequence[str | bytes]]


@dataclass(frozen=True)
class Credentials:
    """What the caller presented: an ``Authorization`` header the authenticator reads (a
    bearer), and the user name a Basic header named (None for a bearer)."""

    authorization: str | None
    username: str | None = None


def _single(headers: _Headers, name: str) -> str | None:
    values = headers.get(name) or []
    texts = {v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values}
    if len(texts) > 1:
        raise InputError(f"the header {name} was sent more than once with different values")
    return next(iter(texts), None)


def credentials(headers: _Headers) -> Credentials:
    """The caller's credentials, Basic turned into the bearer of its password.

    Raises:
        AuthenticationError: a Basic header that is not ``user:token`` in base64.
    """
    authorization = _single(headers, "authorization")
    if authorization is None:
        return Credentials(None)
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return Credentials(authorization)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthenticationError("malformed Basic credentials: expected user:token") from exc
    username, colon, token = decoded.partition(":")
    if not colon or not token:
        raise AuthenticationError(
            "Basic credentials need your user name and your API token as the password"
        )
    return Credentials(f"Bearer {token}", username or None)


def call_purpose(headers: _Headers) -> str:
    """The purpose the call is made for.

    Raises:
        PurposeRequired: no ``gateway.purpose`` header (or an empty one).
        InputError: one longer than a purpose code can be.
    """
    purpose = (_single(headers, PURPOSE_HEADER) or "").strip()
    if not purpose:
        raise PurposeRequired(
            f"every query needs a purpose: send the header {PURPOSE_HEADER} with one of your "
            "approved purpose codes (ADBC: adbc.flight.sql.rpc.call_header."
            f"{PURPOSE_HEADER}; JDBC/ODBC: a connection property {PURPOSE_HEADER})"
        )
    if len(purpose) > _MAX_PURPOSE:
        raise InputError(f"the purpose may be at most {_MAX_PURPOSE} characters")
    return purpose


def peer_address(peer: str | bytes) -> str:
    """The host of a gRPC peer (``ipv4:127.0.0.1:5123`` → ``127.0.0.1``).

    Example:
        >>> peer_address("ipv6:%5B::1%5D:5123"), peer_address("ipv4:10.0.0.5:41000")
        ('::1', '10.0.0.5')
    """
    text = peer.decode("utf-8", "replace") if isinstance(peer, bytes) else peer
    _, _, rest = text.partition(":")
    host = rest.rsplit(":", 1)[0] if rest.count(":") >= 1 else rest
    return host.replace("%5B", "").replace("%5D", "").strip("[]")


class CallHeaders(flight.ServerMiddleware):  # type: ignore[misc]
    """Keeps a call's headers for its handler; answers a Handshake with the bearer."""

    def __init__(self, headers: _Headers, answer: dict[str, str]) -> None:
        self.headers = headers
        self.answer = answer

    def sending_headers(self) -> dict[str, str]:
        return self.answer


class CallHeadersFactory(flight.ServerMiddlewareFactory):  # type: ignore[misc]
    """Builds :class:`CallHeaders`; a Basic ``Handshake`` is checked here (it has no
    handler), through ``check`` (the server's authentication), and answered with the
    bearer the client is to send from then on."""

    def __init__(self, check: Callable[[Credentials, str], object]) -> None:
        super().__init__()
        self.check = check

    def start_call(self, info: flight.CallInfo, headers: _Headers) -> CallHeaders:
        answer: dict[str, str] = {}
        if info.method == flight.FlightMethod.HANDSHAKE:
            try:
                presented = credentials(headers)
                self.check(presented, "")
            except GatewayError as exc:
                raise flight_error(exc) from None
            if presented.authorization:
                answer["authorization"] = presented.authorization
        return CallHeaders(headers, answer)


_BY_STATUS: dict[int, Callable[[str], Exception]] = {
    401: flight.FlightUnauthenticatedError,
    403: flight.FlightUnauthorizedError,
    429: flight.FlightUnavailableError,
    503: flight.FlightUnavailableError,
    500: flight.FlightInternalError,
}


def flight_error(exc: GatewayError) -> Exception:
    """The Flight error a client sees for ``exc`` (its code and query id in the message)."""
    message = f"[{exc.code}] {exc}"
    if exc.query_id:
        message += f" (query {exc.query_id})"
    error: Exception
    if exc.code == "cancelled":
        error = flight.FlightCancelledError(message)
    elif exc.code == "timeout":
        error = flight.FlightTimedOutError(message)
    elif exc.status in _BY_STATUS:
        error = _BY_STATUS[exc.status](message)
    else:  # the request's fault (4xx): gRPC UNKNOWN, the code in the message says which
        error = flight.FlightServerError(message)
    return error


T = TypeVar("T")


def flight_errors(handler: Callable[..., T]) -> Callable[..., T]:
    """Decorate a Flight handler: gateway errors mapped, Flight errors passed on, anything
    else logged with its traceback and answered as a generic internal error."""

    @functools.wraps(handler)
    def guarded(*args: Any, **kwargs: Any) -> T:
        try:
            return handler(*args, **kwargs)
        except GatewayError as exc:
            raise flight_error(exc) from None
        except flight.FlightError:
            raise
        except Exception:
            log.exception("Flight SQL handler %s failed", handler.__name__)
            raise flight.FlightInternalError(
                "[internal_error] the gateway could not answer; the failure is logged"
            ) from None

    return guarded
