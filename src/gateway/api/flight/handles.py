"""What a Flight SQL session leaves on the server between calls: result tickets and prepared
statements, each bound to the user it was issued to.

**Result tickets.** A statement runs (and is audited) in ``GetFlightInfo``; its spilled result
waits for the ``DoGet`` that fetches it under a ticket: 32 random bytes (``secrets``),
single-use, redeemable only by the user it was issued to, and only for ``ttl_s`` seconds —
after that, or when cancelled (``CancelFlightInfo``/``CancelQuery``), the result file is deleted
and its disk quota given back. A ticket presented by anyone else is refused exactly as an
unknown one (nothing tells them it exists) and stays valid for its owner.

**Prepared statements.** A handle (random, like a ticket) names the SQL and the parameters
last bound to it (``DoPut``); only its creator can bind, run or close it; at most
``max_per_user`` are open per user (the oldest is closed to make room).

Example:
    >>> book = PreparedStatements(max_per_user=2)
    >>> handle = book.create("a.khan", "SELECT 1")
    >>> book.get(handle, "a.khan").sql
    'SELECT 1'
    >>> book.get(handle, "h.lee")
    Traceback (most recent call last):
    ...
    gateway.errors.NotFound: no such prepared statement (unknown, closed, or not yours)
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from gateway.engines.base import QueryResult
from gateway.errors import NotFound

__all__ = ["PendingResult", "PreparedStatement", "PreparedStatements", "ResultTickets"]

_HANDLE_BYTES = 32


def _new_handle() -> bytes:
    return secrets.token_bytes(_HANDLE_BYTES)


@dataclass
class PendingResult:
    """A result waiting for its ``DoGet``; ``release`` gives back what it holds (its quota)."""

    owner: str
    query_id: str
    result: QueryResult
    release: Callable[[], None]
    expires_at: float
    marking: str = ""

    def discard(self) -> None:
        try:
            self.result.discard()
        finally:
            self.release()


class ResultTickets:
    """Single-use, owner-bound, expiring tickets for results awaiting ``DoGet`` (thread-safe)."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._pending: dict[bytes, PendingResult] = {}
        self._lock = threading.Lock()

    def issue(
        self,
        owner: str,
        query_id: str,
        result: QueryResult,
        release: Callable[[], None],
        *,
        marking: str = "",
    ) -> bytes:
        """Keep ``result`` (and its protective ``marking``) for ``owner``; the ticket handle
        to fetch it with."""
        self.sweep()
        handle = _new_handle()
        pending = PendingResult(
            owner, query_id, result, release, self.clock() + self.ttl_s, marking
        )
        with self._lock:
            self._pending[handle] = pending
        return handle

    def redeem(self, handle: bytes, owner: str) -> PendingResult:
        """Take the result of ``handle`` (once) for ``owner``.

        Raises:
            NotFound: unknown, used, expired, cancelled — or another user's ticket (which
                stays valid for them).
        """
        self.sweep()
        with self._lock:
            pending = self._pending.get(handle)
            if pending is None or pending.owner != owner:
                raise NotFound(
                    "no such result ticket: it is unknown, used, expired, cancelled or not yours"
                )
            del self._pending[handle]
        return pending

    def cancel(self, handle: bytes, owner: str) -> bool:
        """Withdraw an unfetched result of ``owner``'s; False when there is none to cancel."""
        with self._lock:
            pending = self._pending.get(handle)
            if pending is None or pending.owner != owner:
                return False
            del self._pending[handle]
        pending.discard()
        return True

    def sweep(self) -> int:
        """Discard results whose tickets expired; how many."""
        now = self.clock()
        with self._lock:
            expired = [h for h, p in self._pending.items() if p.expires_at <= now]
            gone = [self._pending.pop(h) for h in expired]
        for pending in gone:
            pending.discard()
        return len(gone)

    def close(self) -> None:
        """Discard every waiting result (the server stops)."""
        with self._lock:
            gone = list(self._pending.values())
            self._pending.clear()
        for pending in gone:
            pending.discard()

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)


@dataclass
class PreparedStatement:
    """SQL prepared by ``owner``, with the parameter values last bound to it."""

    owner: str
    sql: str
    params: Mapping[str, object] | None = None
    created_at: float = field(default_factory=time.monotonic)


class PreparedStatements:
    """Open prepared statements by handle (thread-safe)."""

    def __init__(self, max_per_user: int = 100) -> None:
        self.max_per_user = max_per_user
        self._open: OrderedDict[bytes, PreparedStatement] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, owner: str, sql: str) -> bytes:
        handle = _new_handle()
        with self._lock:
            mine = [h for h, s in self._open.items() if s.owner == owner]
            for old in mine[: max(0, len(mine) - self.max_per_user + 1)]:
                del self._open[old]
            self._open[handle] = PreparedStatement(owner, sql)
        return handle

    def get(self, handle: bytes, owner: str) -> PreparedStatement:
        """The statement, for its owner only.

        Raises:
            NotFound: unknown, closed or another user's.
        """
        with self._lock:
            statement = self._open.get(handle)
        if statement is None or statement.owner != owner:
            raise NotFound("no such prepared statement (unknown, closed, or not yours)")
        return statement

    def bind(self, handle: bytes, owner: str, params: Mapping[str, object]) -> None:
        self.get(handle, owner).params = dict(params)

    def close(self, handle: bytes, owner: str) -> None:
        self.get(handle, owner)
        with self._lock:
            self._open.pop(handle, None)

    def __iter__(self) -> Iterator[bytes]:
        with self._lock:
            return iter(list(self._open))
