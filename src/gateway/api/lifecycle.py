"""The serving process's built-in lifecycle schedule: access reviews, code-of-connection
reminders and inactivity flags, run by the server itself (no cron).

While a governed gateway serves (its directory is the governance register), the app's lifespan
runs :meth:`~gateway.governance.service.GovernanceService.scheduled_cycle` once at start and then
every ``lifecycle_interval_s`` (``GATEWAY_LIFECYCLE_INTERVAL_S``, default an hour). Each run
opens the access reviews that are due (every account of the organisation), suspends accounts
left unconfirmed past a review's deadline, reminds organisations whose code of connection is
due or lapsed, and flags inactive users; every change is audited. A run that fails (the audit
log unavailable, the register busy) is logged and tried again at the next interval: it never
stops the server, and a change whose audit record cannot be written is never made.

Example:
    >>> housekeeping.start_soon(run_lifecycle, governance, 3600.0)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

import anyio

from gateway.errors import GatewayError
from gateway.governance.service import GovernanceService

__all__ = ["run_lifecycle", "run_lifecycle_once"]

_log = logging.getLogger(__name__)


def run_lifecycle_once(governance: GovernanceService) -> dict[str, list[str]] | None:
    """One scheduled run; None if it failed (logged, tried again next time)."""
    try:
        result = governance.scheduled_cycle()
    except GatewayError as exc:
        _log.warning("the scheduled lifecycle run failed (%s); it runs again later", exc)
        return None
    if any(result.values()):
        _log.info("lifecycle run: %s", {k: v for k, v in result.items() if v})
    return result


async def run_lifecycle(governance: GovernanceService, interval_s: float) -> None:
    """Run the lifecycle at once, then every ``interval_s`` seconds, until cancelled."""
    while True:
        await anyio.to_thread.run_sync(run_lifecycle_once, governance)
        await anyio.sleep(interval_s)
