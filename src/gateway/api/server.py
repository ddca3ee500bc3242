"""The HTTP server around the app: uvicorn, with the connection limits it lacks and a graceful
stop.

uvicorn (0.55, h11) closes idle keep-alive connections (``timeout_keep_alive``) but has no
timeout for a request's head: a client that opens a connection and sends a header line now and
then holds it forever, and its ``limit_concurrency`` counts such connections, so 3,000 of them
turn it against every legitimate client (each new request is answered 503). Hence
:class:`GuardedH11Protocol`, uvicorn's h11 protocol with:

- a **request deadline**: a request's head and body must arrive within ``header_timeout_s`` of
  the connection opening or of the previous response ending (data trickling in does not
  extend it); past it the connection is closed. Idle new connections are closed too;
- a **connection cap**: past ``max_connections`` open connections, the one waiting longest for a
  request (idle or incomplete) is closed to make room; when every connection has a request in
  progress the newcomer is closed instead;
- a **limit on requests in flight**: past ``max_requests_in_flight`` a request is answered 503
  ``busy`` (JSON, ``Retry-After``) without reaching the app;
- an **abort** for the app: ``scope["extensions"]["gateway.abort"]`` drops the connection at
  once. A response the client stopped reading (:class:`~gateway.api.streaming.ResultResponse`
  after its send timeout) needs it: closing politely would wait for the unread bytes to be
  sent, i.e. forever, and keep them in memory.

:class:`GracefulServer` turns SIGTERM/SIGINT into a clean stop: stop accepting, withdraw the
work in flight (:class:`~gateway.api.shutdown.Shutdown`: running queries are cancelled and
audited as such), let responses finish for ``shutdown_grace_s``, close the runtime and sweep
temporary files (the app's lifespan), and exit with status 0 — uvicorn itself re-raises the
signal after its shutdown, so the process would die of it.

Example:
    >>> run_server(create_app(settings), settings, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import math
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.api.settings import GatewaySettings
from gateway.api.shutdown import Shutdown

__all__ = [
    "ABORT_EXTENSION",
    "ConnectionLimits",
    "GracefulServer",
    "GuardedH11Protocol",
    "run_server",
]

log = logging.getLogger("gateway.api")

#: Largest request head (request line and headers) accepted, in bytes.
MAX_HEAD_BYTES = 16 * 1024
#: The ASGI scope extension that drops the connection at once (a callable, no arguments).
ABORT_EXTENSION = "gateway.abort"


@dataclass(frozen=True)
class ConnectionLimits:
    """What one connection and the whole server may hold (see the module docstring)."""

    header_timeout_s: float = 10.0
    max_connections: int = 1000
    max_requests_in_flight: int = 200


class _Busy:
    """ASGI app: 503 ``busy`` with Retry-After (too many requests in flight)."""

    body = json.dumps(
        {"error": {"code": "busy", "message": "the gateway is busy; try again in a moment"}}
    ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
            (b"retry-after", b"1"),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


class _RequestsInFlight:
    """Hands a request to the app unless too many are in flight already."""

    def __init__(self, app: ASGIApp, tasks: set[asyncio.Task[None]], limit: int) -> None:
        self.app = app
        self.tasks = tasks
        self.limit = limit
        self.busy = _Busy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if len(self.tasks) > self.limit:  # the set holds this request's task too
            await self.busy(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request deadline, a connection cap and a limit on
    requests in flight. Use :func:`guarded_protocol` to give it limits."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = _RequestsInFlight(self.app, self.tasks, self.limits.max_requests_in_flight)
        self._deadline: asyncio.TimerHandle | None = None
        self._equipped: object = None  # the last request scope given the abort extension
        #: Since when (loop time) the connection waits for a request; None while one runs.
        self.waiting_since: float | None = None

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_request()
        self._make_room()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._note_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request
        if not self.transport.is_closing():
            self._await_request()
            self._note_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._clear_deadline()
        self.waiting_since = None
        super().connection_lost(exc)

    # --- the guards -----------------------------------------------------------------------

    def _request_in(self) -> bool:
        """A request's head and body have arrived and its response is not complete."""
        cycle = self.cycle
        return cycle is not None and not cycle.response_complete and not cycle.more_body

    def _await_request(self) -> None:
        if self._request_in() or self._deadline is not None:
            return
        self.waiting_since = self.loop.time()
        self._deadline = self.loop.call_later(self.limits.header_timeout_s, self._expire)

    def _note_request(self) -> None:
        scope = self.scope
        if scope is not None and scope is not self._equipped:  # a new request: its task
            self._equipped = scope  # has not started yet, so it sees the extension
            extensions: dict[str, Any] = dict(scope.get("extensions") or {})
            extensions[ABORT_EXTENSION] = self.transport.abort
            scope["extensions"] = extensions
        if self._request_in():
            self._clear_deadline()
            self.waiting_since = None

    def _clear_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self._request_in() and not self.transport.is_closing():
            log.info(
                "closing a connection from %s: no complete request within %g s",
                self.client[0] if self.client else "?",
                self.limits.header_timeout_s,
            )
            self.transport.close()

    def _make_room(self) -> None:
        if len(self.connections) <= self.limits.max_connections:
            return
        waiting = [
            c
            for c in self.connections
            if isinstance(c, GuardedH11Protocol)
            and c is not self
            and c.waiting_since is not None
            and not c.transport.is_closing()
        ]
        victim = min(waiting, key=lambda c: c.waiting_since or 0.0) if waiting else self
        victim.transport.close()


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    """:class:`GuardedH11Protocol` with ``limits`` (uvicorn builds one per connection)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})


def settle_startup_heap() -> None:
    """Take what the process holds once it has started (the runtime, the catalog, the policy,
    imported modules: hundreds of thousands of objects kept for its life) out of the garbage
    collector's reach, so a full collection walks only what queries have made since. Without
    it a full collection on a running server took 119 ms, stalling whichever request ran.
    """
    gc.collect()
    gc.freeze()


class GracefulServer(uvicorn.Server):
    """uvicorn's server; a signal starts ``on_stop`` and a clean shutdown, and the process
    then exits normally (status 0) instead of dying of the re-raised signal."""

    def __init__(self, config: uvicorn.Config, *, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_stop = on_stop

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        settle_startup_heap()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.on_stop()  # withdraw the work in flight first, so its responses end promptly
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run_server(
    app: FastAPI, settings: GatewaySettings, *, host: str, port: int, log_level: str
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, with ``settings``' connection limits."""
    limits = ConnectionLimits(
        header_timeout_s=settings.header_timeout_s,
        max_connections=settings.max_connections,
        max_requests_in_flight=settings.max_requests_in_flight,
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        lifespan="on",
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=settings.keep_alive_s,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )
    shutdown = getattr(app.state, "shutdown", None)
    on_stop = shutdown.begin if isinstance(shutdown, Shutdown) else (lambda: None)
    GracefulServer(config, on_stop=on_stop).run()
