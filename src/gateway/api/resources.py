"""Disk the serving process lends to answers in flight: a per-user quota, and the sweeps that
take back what failures left behind.

**Quota.** A query's result is a file (``DIR/tmp/results``) from the moment its worker writes it
until its response ends; an export holds its result and a work folder until it is registered.
:class:`DiskQuota` counts, per user, a running query or export at its level's
``max_result_bytes`` (the most it may write) and a finished result at its real size until
its response ends (a client that stops reading is cut off after the send timeout). A request
that would take a user past the quota is refused before anything runs — 429 ``disk_quota``
with ``Retry-After`` — except that a user with nothing in flight may always run one.

**Sweeps.** :class:`ResultSweeper` deletes leftover result files and export work folders
(``.tmp-*``): at start and stop, what was not touched for :data:`BOUNDARY_AGE_S` (anything
younger may belong to a command-line run sharing the directory); while serving, every
``sweep_interval_s``, results no response holds that were not touched for
:data:`ORPHAN_AGE_S` (a worker killed after it finished writing) and work folders idle for
:data:`WORKDIR_AGE_S`. Partial files are left until every query's time limit has passed.

Example:
    >>> quota = DiskQuota(limit_bytes=100, retry_after_s=30)
    >>> first = quota.claim("a.khan", 80)
    >>> quota.claim("a.khan", 40)
    Traceback (most recent call last):
    ...
    gateway.api.resources.DiskQuotaExceeded: your results and exports in flight hold 80 bytes of your disk quota of 100 bytes (this request needs up to 40 bytes more): read or close your open answers, or wait for them to finish, then try again
    >>> first.release(); quota.held("a.khan")
    0
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import Depends, Request

from gateway.auth.limits import RateLimitExceeded
from gateway.engines.base import QueryResult
from gateway.engines.spill import SweepReport, sweep_results
from gateway.exports.export import sweep_export_workdirs
from gateway.policy import Policy

__all__ = [
    "BOUNDARY_AGE_S",
    "ORPHAN_AGE_S",
    "WORKDIR_AGE_S",
    "DiskQuota",
    "DiskQuotaExceeded",
    "QuotaClaim",
    "ResourcesDep",
    "ResultSweeper",
    "ServingResources",
    "serving_resources",
]

log = logging.getLogger("gateway.api")

#: At start and stop, leftovers untouched this long (seconds) are deleted.
BOUNDARY_AGE_S = 10.0
#: While serving, a complete result no response holds is an orphan after this long.
ORPHAN_AGE_S = 120.0
#: While serving, an export work folder nothing was written to for this long is abandoned.
WORKDIR_AGE_S = 600.0
#: A partial result is left this long beyond the longest query time limit.
PARTIAL_MARGIN_S = 60.0


class DiskQuotaExceeded(RateLimitExceeded):
    """The user's answers in flight already hold their disk quota (429, ``Retry-After``)."""

    code = "disk_quota"


def _size(nbytes: int) -> str:
    if nbytes < 10 << 20:
        return f"{nbytes:,} bytes"
    return f"{nbytes / 2**20:,.0f} MB"


class QuotaClaim:
    """Disk one request holds against its user's quota; :meth:`release` gives it back."""

    def __init__(self, quota: DiskQuota, user: str, nbytes: int) -> None:
        self._quota = quota
        self.user = user
        self.nbytes = nbytes
        self.file_name: str | None = None
        self.released = False

    def settle(self, result: QueryResult) -> None:
        """The query finished: hold its result's real size (and name, for the sweeper)."""
        self._quota._resize(self, result.num_bytes, result.path.name)

    def release(self) -> None:
        """Give the disk back (idempotent)."""
        self._quota._release(self)


class DiskQuota:
    """Per-user bytes of results and exports in flight, against ``limit_bytes`` (thread-safe).

    Args:
        limit_bytes: what one user may hold.
        retry_after_s: what a refusal suggests waiting (the send timeout: by then, unread
            answers have been closed).
    """

    def __init__(self, limit_bytes: int, *, retry_after_s: float) -> None:
        self.limit_bytes = limit_bytes
        self.retry_after_s = retry_after_s
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()
        self._claims: set[QuotaClaim] = set()

    def claim(self, user: str, nbytes: int) -> QuotaClaim:
        """Hold ``nbytes`` for ``user``.

        Raises:
            DiskQuotaExceeded: the user already holds something and ``nbytes`` more would
                pass the limit.
        """
        with self._lock:
            held = self._held[user]
            if held and held + nbytes > self.limit_bytes:
                raise DiskQuotaExceeded(
                    f"your results and exports in flight hold {_size(held)} of your disk "
                    f"quota of {_size(self.limit_bytes)} (this request needs up to "
                    f"{_size(nbytes)} more): read or close your open answers, or wait for "
                    "them to finish, then try again",
                    retry_after=self.retry_after_s,
                )
            claim = QuotaClaim(self, user, nbytes)
            self._held[user] += nbytes
            self._claims.add(claim)
            return claim

    def held(self, user: str) -> int:
        """Bytes ``user`` holds now."""
        with self._lock:
            return self._held[user]

    def held_files(self) -> frozenset[str]:
        """Names of result files that responses still stream."""
        with self._lock:
            return frozenset(c.file_name for c in self._claims if c.file_name)

    def _resize(self, claim: QuotaClaim, nbytes: int, file_name: str) -> None:
        with self._lock:
            if claim.released:
                return
            self._held[claim.user] += nbytes - claim.nbytes
            claim.nbytes = nbytes
            claim.file_name = file_name

    def _release(self, claim: QuotaClaim) -> None:
        with self._lock:
            if claim.released:
                return
            claim.released = True
            self._claims.discard(claim)
            self._held[claim.user] -= claim.nbytes
            if self._held[claim.user] <= 0:
                del self._held[claim.user]


@dataclass(frozen=True)
class ResultSweeper:
    """Deletes leftover result files and export work folders (see the module docstring).

    Attributes:
        results_dir: ``DIR/tmp/results``.
        exports_dir: ``DIR/exports`` (its ``.tmp-*`` folders).
        partial_after_s: age at which a partial result is an orphan (beyond every query's
            time limit).
    """

    results_dir: Path
    exports_dir: Path
    partial_after_s: float

    @classmethod
    def for_policy(cls, results_dir: Path, exports_dir: Path, policy: Policy) -> ResultSweeper:
        longest = max((lvl.limits.timeout_s for lvl in policy.levels.values()), default=60.0)
        return cls(results_dir, exports_dir, longest + PARTIAL_MARGIN_S)

    def at_boundary(self) -> SweepReport:
        """At start or stop: whatever is not recent is left over from an earlier run."""
        return self._sweep(BOUNDARY_AGE_S, BOUNDARY_AGE_S, frozenset(), "start/stop")

    def while_serving(self, held: frozenset[str]) -> SweepReport:
        """Orphans only: nothing a response holds, nothing a live query may still write."""
        return self._sweep(ORPHAN_AGE_S, WORKDIR_AGE_S, held, "periodic")

    def _sweep(
        self, complete_after_s: float, workdir_after_s: float, held: frozenset[str], when: str
    ) -> SweepReport:
        report = sweep_results(
            self.results_dir,
            complete_after_s=complete_after_s,
            partial_after_s=self.partial_after_s,
            held=held,
        )
        folders = sweep_export_workdirs(self.exports_dir, older_than_s=workdir_after_s)
        if report.files or folders:
            log.warning(
                "%s sweep: removed %d leftover result files (%s bytes) and %d export work folders",
                when,
                report.files,
                f"{report.bytes:,}",
                folders,
            )
        return report


@dataclass
class ServingResources:
    """What the API lends to answers in flight (on ``app.state.resources``).

    Attributes:
        quota: per-user disk for results and exports in flight.
        encoders: limiter for big CSV/JSON/Parquet encoding steps.
        sweeper: removes leftovers.
    """

    quota: DiskQuota
    encoders: anyio.CapacityLimiter
    sweeper: ResultSweeper

    def reservation(self, policy: Policy, level: str) -> int:
        """What a running query or export of ``level`` counts against the quota."""
        found = policy.level(level)
        if found is not None:
            return found.limits.max_result_bytes
        return max((lvl.limits.max_result_bytes for lvl in policy.levels.values()), default=0)

    async def sweep_periodically(self, interval_s: float) -> None:
        """Sweep orphans every ``interval_s`` until cancelled."""
        while True:
            await anyio.sleep(interval_s)
            held = self.quota.held_files()
            await anyio.to_thread.run_sync(self.sweeper.while_serving, held)


async def serving_resources(request: Request) -> ServingResources:
    """FastAPI dependency: the app's :class:`ServingResources`."""
    resources: ServingResources = request.app.state.resources
    return resources


ResourcesDep = Annotated[ServingResources, Depends(serving_resources)]
