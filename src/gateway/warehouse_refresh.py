"""A refreshed warehouse, taken up while the gateway serves.

The warehouse is read-only between refreshes, and a refresh replaces the file: the load job
writes the new version beside it and renames it over the old one. Everything the gateway derives
from the file — the pseudonym vault, and (unless ``GATEWAY_PROJECTIONS=0``) the masked
projections — was built from one version of it, and an engine worker refuses to open any other
(:func:`~gateway.engines.hardening.file_identity`). So after a replacement the workers running
keep answering from the version they have open, and a worker started meanwhile fails closed
(503), until the gateway takes the new version up:

:class:`WarehouseRefresh` looks at the file every ``interval_s``. Once a new version has stood
still for one interval (a copy still being written is not taken up), it

1. rebuilds the derived files from it (``rebuild``) and checks the file did not change
   meanwhile (if it did, it tries again at the next look);
2. records ``policy.warehouse_refreshed`` in the audit log — before anything changes: no
   record, no switch;
3. switches the engine to the new version and files (:meth:`DuckDBEngine.refresh`: idle
   workers replaced at once, busy ones after their query; none started from now on opens
   another version);
4. and only then rewrites with the new policy SQL (:meth:`QueryService.use_policy_sql`).

The same switch keeps the projections covering every view known today: every ``covered_s``
(5 minutes) it asks whether a principal added or a grant begun since the build has a view the
projections do not hold (those queries run live meanwhile), and if so rebuilds them from the
version served.

A worker reads one version of the warehouse and the files built from that version, never a
mix; a projection keeps its name (the hash of its policy subquery) across versions, so a
statement rewritten just before the switch reads the new version consistently. A failed
refresh keeps the gateway on the version it serves (``failed`` and the reason, on
``/healthz``) and is tried again when the file changes again, or after ``retry_s``, doubling
after each failure up to an hour (a full disk freed, a worker that did not start).

Example:
    >>> refresh = WarehouseRefresh(path, identity, rebuild, engine, service, audit)  # doctest: +SKIP
    >>> refresh.check(); refresh.check()   # seen, then stood still: taken up    # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.engines import DuckDBEngine
from gateway.engines.hardening import file_identity
from gateway.errors import GatewayError
from gateway.rewrite import PolicySql
from gateway.service import QueryService

__all__ = ["MAX_RETRY_S", "Rebuilt", "RefreshState", "WarehouseRefresh"]

log = logging.getLogger("gateway.warehouse")

Identity = tuple[int, int, int, int]
#: The longest wait before a failed version is tried again.
MAX_RETRY_S = 3600.0
RefreshState = Literal["current", "refreshing", "failed"]


@dataclass(frozen=True)
class Rebuilt:
    """The derived files built from one version of the warehouse.

    Attributes:
        attachments: catalog name → file (the vault, the projections when built).
        policy_sql: how to rewrite with them (its ``projections`` index, when built).
    """

    attachments: Mapping[str, Path]
    policy_sql: PolicySql


class WarehouseRefresh:
    """Takes up a replaced warehouse file (see the module).

    Args:
        warehouse: the warehouse file.
        serving: the identity of the version served now (what the derived files came from).
        rebuild: builds the derived files from the file as it is now.
        engine, service, audit: what to switch, and where the switch is recorded.
        before_first: waited on before the first look, called with a timeout until it says
            it is done (the projections being built at start: the two never switch at once).
        after_switch: told of each refresh taken up (the projections' build at start is
            ``ready`` once a refresh has built them, whatever became of it).
        retry_s: wait before trying a failed version again (doubled after each failure, at
            most :data:`MAX_RETRY_S`).
        covered: whether the derived files still cover what is asked of them (the
            projections: every view known today), asked every ``covered_s``; when not, they
            are rebuilt from the version served and switched in the same way (without a
            ``policy.warehouse_refreshed`` record: the build records itself).
        clock: monotonic seconds (tests pass their own).

    Attributes:
        state: ``current``, ``refreshing`` (the new version is being built; the old one is
            served) or ``failed`` (the old one is served; see ``reason``).
        reason: why the last refresh failed: the error's kind (its message, which names
            files, goes to the server's log).
        refreshes: how many refreshes were taken up.
        rebuilds: how many times the derived files were rebuilt for views they did not cover.
        clock: what measures the wait before a retry (a test moves its own forward).
    """

    def __init__(
        self,
        warehouse: Path,
        serving: Identity,
        rebuild: Callable[[], Rebuilt],
        engine: DuckDBEngine,
        service: QueryService,
        audit: AuditLog,
        *,
        before_first: Callable[[float], bool] | None = None,
        after_switch: Callable[[Rebuilt], object] | None = None,
        retry_s: float = 60.0,
        covered: Callable[[], bool] | None = None,
        covered_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.warehouse = warehouse
        self.serving = serving
        self._rebuild = rebuild
        self._engine = engine
        self._service = service
        self._audit = audit
        self._before_first = before_first
        self._after_switch = after_switch
        self.state: RefreshState = "current"
        self.reason = ""
        self.refreshes = 0
        self.rebuilds = 0  # from the version served, for views not covered
        self._seen: Identity | None = None  # a new version seen at the last look
        self._failed: Identity | None = None  # the version whose refresh failed
        self._failures = 0  # in a row, for that version
        self._retry_at = 0.0
        self._retry_s = retry_s
        self.clock = clock
        self._covered = covered
        self._covered_s = covered_s
        self._covered_at = clock() + covered_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval_s: float) -> None:
        """Look every ``interval_s`` seconds from a background thread, until :meth:`stop`."""
        self._thread = threading.Thread(
            target=self._run, args=(interval_s,), name="gateway-warehouse-refresh", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def check(self) -> bool:
        """One look: take up a new version that stood still since the last look; whether one
        was taken up now."""
        with self._lock:
            try:
                now = file_identity(self.warehouse)
            except OSError:  # between the unlink and the rename of a replacement
                return False
            if now == self.serving:
                self._seen = None
                return self._keep_covered(now)
            if now == self._failed:  # it stood still since it failed: again once it is time
                return self.clock() >= self._retry_at and self._take_up(now)
            if now != self._seen:
                self._seen = now  # seen once: take it up if it stands still until next time
                return False
            return self._take_up(now)

    def _keep_covered(self, version: Identity) -> bool:
        """Rebuild from the version served when the derived files no longer cover what is
        asked of them (checked every ``covered_s``); whether they were rebuilt now."""
        if self._covered is None or self.clock() < self._covered_at:
            return False
        self._covered_at = self.clock() + self._covered_s
        try:
            if self._covered():
                return False
        except Exception as exc:  # e.g. the users file mid-edit: ask again next time
            log.warning("could not tell what the derived files must cover: %s", _detail(exc))
            return False
        log.info("views not covered by the derived files: rebuilding them")
        return self._take_up(version)

    def _take_up(self, version: Identity) -> bool:
        new_version = version != self.serving
        self.state = "refreshing"
        try:
            rebuilt = self._rebuild()
            if file_identity(self.warehouse) != version:
                self.state = "current" if self._failed is None else "failed"
                self._seen = None  # replaced again while building: start over
                return False
            if new_version:
                self._audit.record(self._record(version, rebuilt))
            self._engine.refresh(version, rebuilt.attachments)
            self._service.use_policy_sql(rebuilt.policy_sql)
            if self._after_switch is not None:
                self._after_switch(rebuilt)
        except Exception as exc:  # the gateway keeps the version it serves; /healthz says why
            # /healthz answers anyone: the error's kind there, its message (paths) in the log.
            self.reason, self.state, self._seen = type(exc).__name__, "failed", None
            if not new_version:  # the version served stays; covered_s until the next try
                log.warning("the derived files were not rebuilt: %s", _detail(exc))
                return False
            self._failures = self._failures + 1 if version == self._failed else 1
            self._failed = version
            wait = min(MAX_RETRY_S, self._retry_s * 2 ** (self._failures - 1))
            self._retry_at = self.clock() + wait
            log.warning(
                "the refreshed warehouse was not taken up (again in %.0f s): %s",
                wait,
                _detail(exc),
            )
            return False
        self.serving, self._seen, self._failed, self._failures = version, None, None, 0
        self.state, self.reason = "current", ""
        if new_version:
            self.refreshes += 1
            log.info("warehouse refreshed: queries now read the new version")
        else:
            self.rebuilds += 1
            log.info("derived files rebuilt: every view known now is covered")
        return True

    def _record(self, version: Identity, rebuilt: Rebuilt) -> AccessEvent:
        projections = rebuilt.policy_sql.projections
        return AccessEvent(
            EventKind.POLICY_WAREHOUSE_REFRESHED,
            "system",
            "",
            subject=self.warehouse.name,
            extra={
                "previous": _describe(self.serving),
                "version": _describe(version),
                "projections": None if projections is None else projections.version,
                "policy_hash": self._service.policy.version,
            },
        )

    def _run(self, interval_s: float) -> None:
        while self._before_first is not None and not self._before_first(1.0):
            if self._stop.is_set():
                return
        while not self._stop.wait(interval_s):
            try:
                self.check()
            except Exception:  # never the end of the looking: the next look tries again
                log.exception("looking at the warehouse file failed")


def _detail(exc: Exception) -> str:
    return exc.message if isinstance(exc, GatewayError) else repr(exc)


def _describe(identity: Identity) -> dict[str, int]:
    """A version of the file as the audit record names it (no path: the subject has it)."""
    device, inode, size, mtime_ns = identity
    return {"inode": inode, "bytes": size, "mtime_ns": mtime_ns, "device": device}
