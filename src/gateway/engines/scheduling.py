"""Who gets the next free engine worker: per-user shares, a reserve, fewest-running first.

Pure bookkeeping (no threads, no processes): :class:`~gateway.engines.pool.WorkerPool` holds
one :class:`FairQueue` under its lock and asks it, whenever a worker is free, which waiting
caller should have it. Three rules make one user's heavy queries harmless to everyone else:

- **share**: a user never holds more than ``per_user_limit`` workers at once
  (``max(1, floor(size × user_share))``); their further queries wait in their own queue;
- **reserve**: the last ``reserve`` free workers go only to users who hold no worker right
  now, so a user with nothing running never waits behind the heavy users;
- **order**: among the users who may take a worker, the one holding the fewest goes first,
  ties to whoever has waited longest (round-robin across users, not one FIFO queue); within
  one user, first come first served.

A caller that is not attributed to a user (``key`` unique per call) is a user of its own: it
holds nothing when it arrives, so it never waits behind a heavy user either.

With ``fair=False`` the queue is the plain first-come-first-served queue the pool had before
(no share, no reserve): kept for the fairness benchmark's comparison.

Example:
    >>> q = FairQueue(size=4, user_share=0.5, reserved=1)
    >>> q.per_user_limit, q.reserve
    (2, 1)
    >>> a1, a2, a3 = q.enqueue("a"), q.enqueue("a"), q.enqueue("a")
    >>> [t.key for t in q.grant(free=4)]   # "a" gets its share, the 4th worker stays free
    ['a', 'a']
    >>> b1 = q.enqueue("b")
    >>> [t.key for t in q.grant(free=2)], q.waiting_for("a")
    (['b'], 1)
    >>> q.release(a1)
    >>> [t.key for t in q.grant(free=2)]   # a3 takes a1's place (one free worker stays reserved)
    ['a']
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass

from gateway.errors import ConfigurationError

__all__ = ["FairQueue", "Ticket", "per_user_limit"]


def per_user_limit(size: int, user_share: float) -> int:
    """Workers one user may hold at once in a pool of ``size``.

    Example:
        >>> per_user_limit(4, 0.5), per_user_limit(3, 0.5), per_user_limit(1, 0.5)
        (2, 1, 1)
    """
    return max(1, math.floor(size * user_share))


@dataclass(eq=False)
class Ticket:
    """One caller's place: waiting until :meth:`FairQueue.grant` picks it, then holding."""

    key: str
    seq: int
    granted: bool = False
    withdrawn: bool = False


class FairQueue:
    """Waiting callers per user and the workers each user holds.

    Args:
        size: workers in the pool.
        user_share: fraction of the pool one user may hold (``0 < user_share <= 1``).
        reserved: free workers kept for users holding none (at most ``size - 1``).
        max_user_queue: queries one user may have waiting (None: ``per_user_limit``).
        fair: False for plain first-come-first-served with no share and no reserve.
    """

    def __init__(
        self,
        size: int,
        *,
        user_share: float = 0.5,
        reserved: int = 1,
        max_user_queue: int | None = None,
        fair: bool = True,
    ) -> None:
        if size < 1:
            raise ConfigurationError(f"the engine needs at least one worker, got {size}")
        if not 0 < user_share <= 1:
            raise ConfigurationError(f"user_share must be in (0, 1], got {user_share}")
        if reserved < 0:
            raise ConfigurationError("reserved workers cannot be negative")
        if max_user_queue is not None and max_user_queue < 0:
            raise ConfigurationError("max_user_queue cannot be negative")
        self.fair = fair
        self.per_user_limit = per_user_limit(size, user_share) if fair else size
        self.reserve = min(reserved, size - 1) if fair else 0
        self.max_user_queue = (
            (self.per_user_limit if max_user_queue is None else max_user_queue) if fair else None
        )
        self._seq = itertools.count()
        self._queues: dict[str, deque[Ticket]] = {}
        self._held: dict[str, int] = {}

    # -- figures ---------------------------------------------------------------------------

    def waiting(self) -> int:
        """Callers waiting, all users."""
        return sum(len(q) for q in self._queues.values())

    def waiting_for(self, key: str) -> int:
        """Callers of ``key`` waiting."""
        return len(self._queues.get(key, ()))

    def holding(self, key: str) -> int:
        """Workers ``key`` holds."""
        return self._held.get(key, 0)

    def running(self) -> int:
        """Workers held, all users."""
        return sum(self._held.values())

    def at_share(self, key: str) -> bool:
        """True when ``key`` holds all the workers its share allows."""
        return self.holding(key) >= self.per_user_limit

    def user_queue_exceeded(self, key: str) -> bool:
        """True when ``key`` has more queries waiting than one user may."""
        return self.max_user_queue is not None and self.waiting_for(key) > self.max_user_queue

    # -- changes ---------------------------------------------------------------------------

    def enqueue(self, key: str) -> Ticket:
        """A new waiting caller for ``key`` (the pool withdraws it when a queue is over its
        limit: :meth:`waiting`, :meth:`user_queue_exceeded`)."""
        ticket = Ticket(key, next(self._seq))
        self._queues.setdefault(key, deque()).append(ticket)
        return ticket

    def withdraw(self, ticket: Ticket) -> None:
        """A waiting caller gives up (timed out, cancelled); no-op once granted."""
        if ticket.granted or ticket.withdrawn:
            return
        ticket.withdrawn = True
        queue = self._queues.get(ticket.key)
        if queue is not None:
            queue.remove(ticket)
            if not queue:
                del self._queues[ticket.key]

    def grant(self, free: int) -> list[Ticket]:
        """Pick the callers that get the ``free`` workers now, in order; each then holds one.

        Example:
            >>> q = FairQueue(size=2, user_share=1.0, reserved=0)
            >>> t = q.enqueue("a")
            >>> q.grant(free=1) == [t], t.granted, q.holding("a")
            (True, True, 1)
        """
        granted: list[Ticket] = []
        while free > 0:
            ticket = self._next(free)
            if ticket is None:
                break
            queue = self._queues[ticket.key]
            queue.popleft()
            if not queue:
                del self._queues[ticket.key]
            ticket.granted = True
            self._held[ticket.key] = self._held.get(ticket.key, 0) + 1
            granted.append(ticket)
            free -= 1
        return granted

    def release(self, ticket: Ticket) -> None:
        """A granted caller is done with its worker."""
        if not ticket.granted:
            return
        ticket.granted = False
        left = self._held[ticket.key] - 1
        if left:
            self._held[ticket.key] = left
        else:
            del self._held[ticket.key]

    def _next(self, free: int) -> Ticket | None:
        """The head waiter of the user who may take a worker and holds the fewest."""
        best: Ticket | None = None
        best_rank: tuple[int, int] | None = None
        for key, queue in self._queues.items():
            held = self._held.get(key, 0)
            if held >= self.per_user_limit:
                continue
            if held and free <= self.reserve:
                continue  # the last free workers are for users holding none
            head = queue[0]
            rank = (held, head.seq) if self.fair else (0, head.seq)
            if best_rank is None or rank < best_rank:
                best, best_rank = head, rank
        return best
