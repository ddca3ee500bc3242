"""Turn every failure into the gateway's JSON error document, with the right status.

    {"error": {"code": "table_not_permitted", "message": "…", "query_id": "q…", "line": 1,
               "column": 15}}

- :class:`~gateway.errors.GatewayError`: its own ``status`` and ``code``; ``X-Query-Id`` when the
  error carries a query id; ``Retry-After`` for rate limits and a busy engine.
- request validation (missing field, wrong type, unknown format, invalid JSON): 400
  ``bad_request`` with a message naming the field, never echoing the submitted values.
- framework HTTP errors: 404 ``not_found``, 405 ``method_not_allowed``, 400 ``bad_request`` for
  a body that cannot be read (invalid UTF-8), 413 ``too_large``.
- anything else: 500 ``internal_error`` with a generic message; the traceback is logged for
  the administrators, never sent.

A lowered, removed or unknown protective marking (400 ``marking_lowered`` /
``marking_unknown``) is audited the same way. A request refused for its input (validation, invalid JSON, an unreadable or oversized body) is
audited with the authenticated caller (:func:`gateway.api.refusals.record_refusal`); a caller
without valid credentials gets 401 instead.

Example:
    >>> from gateway.errors import TableNotPermitted
    >>> error_document(TableNotPermitted("no"))
    {'error': {'code': 'table_not_permitted', 'message': 'no'}}
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gateway.api.operations import operation_index
from gateway.api.refusals import Refused, record_refusal
from gateway.api.streaming import QUERY_ID_HEADER
from gateway.auth.limits import RateLimitExceeded
from gateway.errors import EngineBusy, GatewayError, MarkingLowered, MarkingUnknown

__all__ = ["error_document", "install_error_handlers", "validation_message"]

log = logging.getLogger("gateway.api")

_HTTP_CODES = {
    400: ("bad_request", "the request body could not be read: send UTF-8 encoded JSON"),
    401: ("unauthenticated", "authentication required"),
    403: ("access_denied", "not permitted"),
    404: ("not_found", "there is no such endpoint; see /docs for the API"),
    405: ("method_not_allowed", "this endpoint does not accept that HTTP method"),
    413: ("too_large", "the request body is too large"),
}


#: Framework errors that refuse a request's body (unreadable, too large).
_BODY_REFUSALS = frozenset({400, 413})


def error_document(exc: GatewayError) -> dict[str, Any]:
    """The JSON body for a gateway error."""
    return {"error": exc.to_dict()}


def _count(request: Request, code: str, status: int) -> None:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.metrics.error(code, status)


def _loc(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request body"


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """One readable sentence from pydantic's errors, without the submitted values.

    Example:
        >>> validation_message([{"type": "missing", "loc": ("body", "purpose"),
        ...                      "msg": "Field required"}])
        'purpose: Field required'
    """
    messages = []
    for error in errors[:5]:
        if error.get("type") == "json_invalid":
            position = error.get("loc", ("body", "?"))[-1]
            messages.append(f"the request body is not valid JSON (near character {position})")
            continue
        messages.append(f"{_loc(error.get('loc', ()))}: {error.get('msg', 'invalid')}")
    if len(errors) > 5:
        messages.append(f"and {len(errors) - 5} more problems")
    return "; ".join(messages)


def _gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    if isinstance(exc, MarkingLowered | MarkingUnknown):  # an attempt on the marking: audited
        ids = {QUERY_ID_HEADER: exc.query_id} if exc.query_id else {}
        return _refusal(request, Refused(exc.status, exc.code, exc.message, ids))
    _count(request, exc.code, exc.status)
    if exc.status >= 500:
        log.warning("%s %s: %s (%s)", request.method, request.url.path, exc.code, exc)
    headers = {QUERY_ID_HEADER: exc.query_id} if exc.query_id else {}
    if isinstance(exc, RateLimitExceeded):
        headers["Retry-After"] = exc.retry_after_header
    elif isinstance(exc, EngineBusy):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="gateway"'
    return JSONResponse(error_document(exc), status_code=exc.status, headers=headers)


def _refusal(request: Request, refused: Refused) -> JSONResponse:
    answer = record_refusal(request, refused)
    _count(request, answer.code, answer.status)
    return JSONResponse(answer.document(), status_code=answer.status, headers=answer.headers)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _refusal(request, Refused(400, "bad_request", validation_message(exc.errors())))


def _allow(request: Request) -> str | None:
    """The ``Allow`` header for a 405: every method the path accepts (all routes, not one)."""
    app = request.app
    if not isinstance(app, FastAPI):
        return None
    return ", ".join(sorted(operation_index(app).methods(request.url.path))) or None


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", "the request failed"))
    status = exc.status_code if exc.status_code >= 400 else 400
    headers = dict(exc.headers or {})
    if status in _BODY_REFUSALS:  # the body could not be read: its caller's refusal is audited
        return _refusal(request, Refused(status, code, message, headers))
    _count(request, code, exc.status_code)
    if status == 405 and (allow := _allow(request)):
        headers["Allow"] = allow
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    _count(request, "internal_error", 500)
    return JSONResponse(
        {"error": {"code": "internal_error", "message": "internal error; it has been logged"}},
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
