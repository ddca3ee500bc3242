"""Refuse request bodies over a size limit with a JSON 413, before any route sees them.

Pure ASGI middleware. A ``Content-Length`` over the limit is refused at once; a body without
one (chunked) is read up to the limit and refused as soon as it passes it. Bodies within the
limit are buffered (they are small: the default limit is 1 MiB) and replayed to the app.

Example:
    >>> from starlette.applications import Starlette
    >>> app = BodyLimitMiddleware(Starlette(), max_bytes=1024)
    >>> app.max_bytes
    1024
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware", "error_body"]


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
            await self._refuse(send)
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
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = error_body(
            "too_large",
            f"the request body is larger than the limit of {self.max_bytes:,} bytes",
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
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
