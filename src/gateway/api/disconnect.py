"""Run blocking query work in the thread pool and withdraw it if the HTTP client goes away.

A sync route would run in FastAPI's thread pool with nobody listening to the connection, so a
query whose client disconnected (a notebook interrupted, curl stopped with Ctrl-C) would keep
its engine worker and the user's concurrent-query slot until it finished or timed out. An
``async`` route instead hands the same blocking work to :func:`run_until_disconnect`, which runs
it in the same thread pool (``anyio.to_thread``) while the event loop asks the server every
:data:`DISCONNECT_POLL_S` seconds whether the client is still there. When it is not, the work's
:class:`~gateway.engines.base.Cancellation` is cancelled: the engine stops the query, the
service audits it as ``cancelled``, and the work returns (raising
:class:`~gateway.errors.QueryCancelled`) so its slot is released. The answer is then sent to
nobody (the server drops it), but it is still counted in the metrics.

The server stopping (:class:`~gateway.api.shutdown.Shutdown` on ``app.state.shutdown``) cancels
the work the same way; the client then gets 503 ``engine_unavailable`` ("the gateway is
shutting down") with the query's id, and the lifespan waits for the work before it closes.

Example:
    >>> @router.post("/v1/query")                                     # doctest: +SKIP
    ... async def run_query(request: Request, ...) -> StreamingResponse:
    ...     return await run_until_disconnect(request, lambda cancel: answer(..., cancel))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from gateway.api.shutdown import Shutdown, stopped_by_shutdown
from gateway.engines.base import Cancellation
from gateway.errors import QueryCancelled

__all__ = ["DISCONNECT_POLL_S", "run_until_disconnect", "server_shutdown"]

#: How often the client's connection is checked while a query runs (seconds).
DISCONNECT_POLL_S = 0.05

T = TypeVar("T")


async def run_until_disconnect(
    request: Request, work: Callable[[Cancellation], T], *, poll_s: float = DISCONNECT_POLL_S
) -> T:
    """Run ``work(cancel)`` in a worker thread; cancel ``cancel`` if the client disconnects.

    The call always waits for ``work`` to return (a thread cannot be abandoned safely: it
    holds the query's slot and audit records), so ``work`` must honour the cancellation.

    Args:
        request: the request whose connection is watched.
        work: the blocking part of the route; it receives the cancellation to pass on.
        poll_s: seconds between checks of the connection.

    Returns:
        What ``work`` returned; what it raised is raised unchanged.
    """
    cancel = Cancellation()
    shutdown = server_shutdown(request)
    failure: Exception | None = None
    with shutdown.working():
        async with anyio.create_task_group() as watchers:
            watchers.start_soon(_watch, request, cancel, shutdown, poll_s)
            try:
                value = await anyio.to_thread.run_sync(work, cancel)
            except Exception as exc:  # re-raised below, outside the task group (which would
                failure = exc  # wrap it in an ExceptionGroup the error handlers do not know)
            finally:
                watchers.cancel_scope.cancel()
    if isinstance(failure, QueryCancelled) and shutdown.started:
        raise stopped_by_shutdown(failure) from failure
    if failure is not None:
        raise failure
    return value


def server_shutdown(request: Request) -> Shutdown:
    """The app's shutdown flag (a fresh, never-started one when the app has none)."""
    shutdown = getattr(request.app.state, "shutdown", None)
    return shutdown if isinstance(shutdown, Shutdown) else Shutdown()


async def _watch(request: Request, cancel: Cancellation, shutdown: Shutdown, poll_s: float) -> None:
    while not shutdown.started and not await request.is_disconnected():
        await anyio.sleep(poll_s)
    cancel.cancel()
