"""Masked projections built while the gateway serves, then switched in.

Building the projections (:mod:`gateway.projections`) scans the warehouse once per view: about
16 s for 0.7 M crimes and 2 M incidents on two cores, minutes on a force's warehouse. A server
does not wait for it. It serves at once with the live policy subqueries, builds in a background
thread, then

1. attaches the new file to the engine, whose workers are replaced by workers that have it
   (:meth:`gateway.engines.duckdb.DuckDBEngine.attach`),
2. and only then rewrites with it (:meth:`gateway.service.QueryService.use_policy_sql`).

So a statement that names a projection is always verified and run where the projection is
attached; one rewritten before the switch runs its live policy subqueries, which give the same
answer. The build itself is audited as at start (``policy.projections_ready``). A failed build
leaves the gateway live: ``failed``, with the reason, on ``/healthz``.

Example:
    >>> switch = ProjectionSwitch(build, engine, service)   # doctest: +SKIP
    >>> switch.start(); switch.wait(60); switch.state       # doctest: +SKIP
    'ready'
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from gateway.engines import DuckDBEngine
from gateway.errors import GatewayError
from gateway.policy.projection import PROJECTION_CATALOG, ProjectionIndex
from gateway.rewrite import PolicySql
from gateway.service import QueryService

__all__ = ["ProjectionState", "ProjectionSwitch"]

log = logging.getLogger("gateway.projections")

ProjectionState = Literal["building", "ready", "failed"]


class ProjectionSwitch:
    """Builds the projections in a background thread and switches the service to them.

    Args:
        build: builds (or reuses) the projections file and audits it: its path and index.
        engine: the engine to attach the file to.
        service: the service to rewrite with them once attached.

    Attributes:
        state: ``building`` (queries run live), ``ready`` (switched) or ``failed`` (live).
        reason: why it failed (an error's message or type; never data).
    """

    def __init__(
        self,
        build: Callable[[], tuple[Path, ProjectionIndex]],
        engine: DuckDBEngine,
        service: QueryService,
    ) -> None:
        self._build = build
        self._engine = engine
        self._service = service
        self.state: ProjectionState = "building"
        self.reason = ""
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-projections", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Whether the build ended (switched or failed) within ``timeout_s``."""
        return self._done.wait(timeout_s)

    def rebuilt(self) -> None:
        """The projections were built again and switched in by another way (a refreshed
        warehouse taken up: :mod:`gateway.warehouse_refresh`): ``ready`` from now on, whatever
        became of this build."""
        self.state, self.reason = "ready", ""

    def _run(self) -> None:
        try:
            path, index = self._build()
            self._engine.attach(PROJECTION_CATALOG, path)
            live = self._service.policy_sql
            self._service.use_policy_sql(PolicySql(vault=live.vault, projections=index))
            self.state = "ready"
            log.info(
                "masked projections ready (%d tables): queries now scan them", len(index.names)
            )
        except Exception as exc:  # the gateway stays live; the reason goes to /healthz
            self.reason = exc.message if isinstance(exc, GatewayError) else type(exc).__name__
            self.state = "failed"
            log.warning("masked projections not built (%s): queries run live", self.reason)
        finally:
            self._done.set()
