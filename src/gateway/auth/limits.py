"""Per-user usage limits: a request rate (token bucket) and a cap on concurrent queries.

Both refuse with :class:`RateLimitExceeded` (HTTP 429 ``rate_limited``), which says when to
retry. Keys are usernames for analysts' requests and client addresses for failed
authentication attempts. Thread-safe; memory stays bounded (idle, full buckets are dropped).

Example:
    >>> bucket = TokenBucket(rate_per_s=1.0, burst=2, clock=lambda: 0.0)
    >>> bucket.take("a.khan"), bucket.take("a.khan"), bucket.take("a.khan") > 0
    (0.0, 0.0, True)
    >>> cap = ConcurrencyCap(1)
    >>> with cap.slot("a.khan"):
    ...     cap.in_use("a.khan")
    1
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from gateway.errors import ConfigurationError, RateLimited

__all__ = ["ConcurrencyCap", "RateLimitExceeded", "TokenBucket", "UsageLimits"]

#: Buckets kept before idle, full ones are forgotten.
_PRUNE_AT = 10_000


class RateLimitExceeded(RateLimited):
    """Too many requests or concurrent queries; ``retry_after`` says how long to wait (s)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, at least 1, for the ``Retry-After`` header."""
        return str(max(1, math.ceil(self.retry_after)))


class TokenBucket:
    """One bucket per key holding up to ``burst`` tokens, refilled at ``rate_per_s``.

    Args:
        rate_per_s: tokens added per second.
        burst: bucket size (requests allowed at once after a quiet spell).
        clock: monotonic seconds (tests inject one).
    """

    def __init__(
        self, *, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ConfigurationError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if granted, else the seconds until one is free."""
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                granted = 0.0
            else:
                self._buckets[key] = (tokens, now)
                granted = (1.0 - tokens) / self.rate_per_s
            if len(self._buckets) > _PRUNE_AT:
                self._prune(now)
            return granted

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate_per_s >= self.burst
        ]
        for key in full:
            del self._buckets[key]


class ConcurrencyCap:
    """At most ``limit`` simultaneous holders of a slot per key."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ConfigurationError("the concurrent query cap must be at least 1")
        self.limit = limit
        self._lock = threading.Lock()
        self._in_use: dict[str, int] = {}

    def in_use(self, key: str) -> int:
        with self._lock:
            return self._in_use.get(key, 0)

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        """Hold one of ``key``'s slots for the ``with`` block.

        Raises:
            RateLimitExceeded: all of ``key``'s slots are taken.
        """
        with self._lock:
            held = self._in_use.get(key, 0)
            if held >= self.limit:
                raise RateLimitExceeded(
                    f"you already have {held} queries running (the limit is {self.limit}); "
                    "wait for one to finish",
                    retry_after=1.0,
                )
            self._in_use[key] = held + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._in_use[key] - 1
                if left:
                    self._in_use[key] = left
                else:
                    del self._in_use[key]


@dataclass(frozen=True)
class UsageLimits:
    """The limits one gateway applies.

    Attributes:
        requests: per-user request rate.
        queries: per-user cap on concurrent queries.
        failed_logins: per-client-address rate of failed authentication attempts.
    """

    requests: TokenBucket
    queries: ConcurrencyCap
    failed_logins: TokenBucket

    @classmethod
    def build(
        cls,
        *,
        requests_per_minute: float,
        request_burst: int,
        concurrent_queries: int,
        failed_logins_per_minute: float,
        failed_login_burst: int,
    ) -> UsageLimits:
        """Limits from plain numbers (as settings give them)."""
        return cls(
            requests=TokenBucket(rate_per_s=requests_per_minute / 60, burst=request_burst),
            queries=ConcurrencyCap(concurrent_queries),
            failed_logins=TokenBucket(
                rate_per_s=failed_logins_per_minute / 60, burst=failed_login_burst
            ),
        )

    def admit(self, username: str) -> None:
        """Count one request by ``username``.

        Raises:
            RateLimitExceeded: over the request rate.
        """
        wait = self.requests.take(username)
        if wait:
            raise RateLimitExceeded(
                f"too many requests; retry in {math.ceil(wait)} s", retry_after=wait
            )
