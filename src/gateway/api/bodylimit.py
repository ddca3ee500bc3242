"""Refuse request bodies over a size limit (JSON 413) or with text no part of the gateway can
store or bind (JSON 400), before any route sees them.

Pure ASGI middleware. A ``Content-Length`` over the limit is refused at once; a body without
one (chunked) is read up to the limit and refused as soon as it passes it. Bodies within the
limit are buffered (they are small: the default limit is 1 MiB) and replayed to the app.

A JSON body whose strings (values or keys, anywhere) hold a lone UTF-16 surrogate
(``"\ud800"``, which no UTF-8 encoder, SQLite or DuckDB accepts) or a NUL character is
refused with 400 ``bad_request`` naming the problem, never the value.

Every refusal is judged after the caller is authenticated and leaves its audit record
(:func:`gateway.api.refusals.record_refusal`): without valid credentials the answer is 401.

Example:
    >>> from starlette.applications import Starlette
    >>> app = BodyLimitMiddleware(Starlette(), max_bytes=1024)
    >>> app.max_bytes
    1024
"""

from __future__ import annotations

import json
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.refusals import Refused, record_refusal

__all__ = ["BodyLimitMiddleware", "error_body", "text_problem"]

_SUSPECT = re.compile(rb"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")


def text_problem(body: bytes) -> str | None:
    """Why a JSON body's text cannot be accepted, or None.

    Example:
        >>> "lone surrogate" in text_problem(b'{"params": {"x": "\\\\ud800"}}')
        True
        >>> text_problem(b'{"sql": "SELECT 1"}') is None
        True
    """
    if not _SUSPECT.search(body):
        return None  # fast path: no escape that could decode to either
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route's own validation answers
    stack: list[object] = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "the request body holds a NUL character (\\u0000), which is not accepted"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return (
                    "the request body holds a lone surrogate (\\ud800-\\udfff): send valid Unicode"
                )
    return None


def error_body(code: str, message: str) -> bytes:
    """The gateway's JSON error document, as bytes.

    Example:
        >>> error_body("too_large", "too big")
        b'{"error":{"code":"too_large","message":"too big"}}'
    """
    return json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":")).encode()


class BodyLimitMiddleware:
    """Answer 413 ``too_large`` for request bodies longer than ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(scope, send, self._too_large())
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(scope, send, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        problem = text_problem(b"".join(chunks))
        if problem is not None:
            await _refuse(scope, send, Refused(400, "bad_request", problem))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> Refused:
        return Refused(
            413,
            "too_large",
            f"the request body is larger than the limit of {self.max_bytes:,} bytes",
        )


async def _refuse(scope: Scope, send: Send, refused: Refused) -> None:
    """Authenticate and audit (off the event loop), then answer and close the connection."""
    answer = await run_in_threadpool(record_refusal, HTTPConnection(scope), refused)
    body = error_body(answer.code, answer.message)
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(
                    (k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in answer.headers.items()
                ),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
