"""The register's retention: what is over is kept ``[retention] governance_days`` (seven years
by default) after it ended, then disposed of — recorded in the same transaction
(``access.history_disposed``: the cut-off, the schedule, who and why, and how many of each kind
went, as ``disposed``), so nothing is deleted without its record, and the audit log keeps every step that was
ever taken (the audit log has its own schedule, ``audit_days``).

What goes: grants that ended or were revoked before the cut-off; requests that reached a final
state (authorised, refused, withdrawn) before it and have no grant left, with their steps;
suspensions and organisation stops lifted before it; access reviews closed before it. What
stays: people, organisations and their records (vetting, declarations, training, memoranda,
agreements) — they describe who may act now — and anything still in force.

Example:
    >>> dispose_history(service, RetentionSettings(), actor="system", reason="schedule")  # doctest: +SKIP
    {'grants': 0, 'request_steps': 0, ...}
"""

from __future__ import annotations

from datetime import datetime

from gateway.audit.kinds import EventKind
from gateway.clock import to_time
from gateway.governance.operations import Acting
from gateway.governance.service import GovernanceService
from gateway.policy.retention import RetentionSettings

__all__ = ["dispose_history"]


def dispose_history(
    service: GovernanceService,
    settings: RetentionSettings,
    *,
    actor: Acting,
    reason: str,
    now: datetime | None = None,
) -> dict[str, int]:
    """Dispose of the register's history past ``settings.governance_days`` and record it.

    Raises:
        AuditUnavailable: not recorded (nothing deleted: the transaction rolls back).
    """
    at = now or service.clock()
    cutoff = at - settings.governance_period
    with service.store.writing() as tx:
        counts = tx.dispose_history(str(to_time(cutoff)), cutoff.date().isoformat())
        if any(counts.values()):
            service._event(
                tx,
                EventKind.ACCESS_HISTORY_DISPOSED,
                actor,
                comment=reason,
                cutoff=str(to_time(cutoff)),
                retention_days=settings.governance_days,
                disposed=counts,
            )
    return counts
