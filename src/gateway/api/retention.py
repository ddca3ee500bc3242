"""The serving process's retention schedule: what is past the policy's schedules is disposed of
by the server itself (no cron), as ``gateway audit dispose`` does by hand.

Once at start and then every ``retention_interval_s`` (``GATEWAY_RETENTION_INTERVAL_S``,
default a day; 0 turns it off), the server disposes of the register's history past
``[retention] governance_days`` (:mod:`gateway.governance.retention`), records and deletes the
product manifests older than
``[products] manifest_retention_days``, then deletes the audit records older than
``[retention] audit_days`` with the ``audit.disposed`` record naming the last one (from which
verification goes on) — both as ``system``, with the schedule as the reason. A run that fails
(the audit log unavailable; on a PostgreSQL log, a serving role that may not lift the
append-only triggers — see docs/deployment.md) is logged and tried again at the next interval;
it never stops the server, and nothing is deleted that was not recorded first.

Example:
    >>> housekeeping.start_soon(run_retention, deployment, 86400.0)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

import anyio

from gateway.audit.retention import DisposalRun, dispose_expired
from gateway.clock import utc_now
from gateway.deployment import Deployment
from gateway.errors import GatewayError
from gateway.governance.retention import dispose_history
from gateway.products.retention import ManifestDisposal, dispose_manifests

__all__ = ["SCHEDULE_ACTOR", "run_retention", "run_retention_once"]

_log = logging.getLogger(__name__)

#: Who a scheduled disposal is recorded as.
SCHEDULE_ACTOR = "system"
_REASON = (
    "the retention schedule run by the server ([retention] audit_days and governance_days, "
    "[products] manifest_retention_days)"
)


def run_retention_once(deployment: Deployment) -> tuple[ManifestDisposal, DisposalRun] | None:
    """One scheduled disposal; None if it failed (logged, tried again next time)."""
    policy, log = deployment.policy, deployment.audit
    try:
        dispose_history(
            deployment.governance, policy.retention, actor=SCHEDULE_ACTOR, reason=_REASON
        )
        manifests = dispose_manifests(
            log,
            deployment.data_dir,
            policy.products,
            actor=SCHEDULE_ACTOR,
            reason=_REASON,
            now=utc_now(),
        )
        run = dispose_expired(log, policy.retention, actor=SCHEDULE_ACTOR, reason=_REASON)
    except GatewayError as exc:
        _log.warning("the scheduled retention run failed (%s); it runs again later", exc)
        return None
    if run.record is not None:
        _log.info("retention: disposed of audit records through seq %s", run.plan.through_seq)
    return manifests, run


async def run_retention(deployment: Deployment, interval_s: float) -> None:
    """Run the disposal at once, then every ``interval_s`` seconds, until cancelled."""
    while True:
        await anyio.to_thread.run_sync(run_retention_once, deployment)
        await anyio.sleep(interval_s)
