"""Audit retention: dispose of records older than the policy's schedule, verifiably.

The schedule is ``[retention] audit_days`` (:mod:`gateway.policy.retention`; seven years by
default). A run works out the cut-off (``now - audit_days``) and the last record that may go —
the highest ``seq`` such that it *and every record before it* is older than the cut-off, so
nothing inside the schedule is ever disposed of, even if clocks made times run backwards — then
asks the store to delete up to it and append the ``audit.disposed`` record in one transaction
(:meth:`gateway.audit.sqlite.SQLiteAuditStore.dispose`), and signs a checkpoint of the new head.

The ``audit.disposed`` record names the schedule, the cut-off, who ran it and why, and the
first, last and number of records disposed of, with the last one's hash, which verification
then starts from (:mod:`gateway.audit.disposal`): ``gateway audit verify`` stays valid and
reports the disposal. A dry run only plans.

Example:
    >>> import tempfile, pathlib
    >>> from datetime import datetime, timezone
    >>> from gateway.audit.log import AuditLog
    >>> from gateway.datadir import DataDir
    >>> from gateway.policy.retention import RetentionSettings
    >>> d = DataDir(pathlib.Path(tempfile.mkdtemp()))
    >>> with AuditLog.open(d) as log:
    ...     old = log.store.append("policy.loaded", "system", "",
    ...                            {}, time=datetime(2015, 1, 1, tzinfo=timezone.utc))
    ...     new = log.store.append("policy.loaded", "system", "", {})
    ...     run = dispose_expired(log, RetentionSettings(), actor="host:root",
    ...                           reason="yearly disposal")
    >>> run.plan.through_seq, run.record.details["records"]
    (1, 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.audit.chain import AuditEvent, format_time
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.audit.store import AuditStore
from gateway.clock import utc_now
from gateway.errors import InputError

if TYPE_CHECKING:  # the policy package needs sqlglot; the audit package does not
    from gateway.policy.retention import RetentionSettings

__all__ = ["DisposalPlan", "DisposalRun", "dispose_expired", "plan_disposal"]


@dataclass(frozen=True)
class DisposalPlan:
    """What a retention run would dispose of.

    Attributes:
        cutoff: records older than this are past the schedule.
        retention_days: the schedule.
        first_seq: the oldest record held (0: the log is empty).
        through_seq: the last record to dispose of (0: none is past the schedule).
    """

    cutoff: datetime
    retention_days: int
    first_seq: int
    through_seq: int

    @property
    def records(self) -> int:
        """How many records would go."""
        return self.through_seq - self.first_seq + 1 if self.through_seq else 0


@dataclass(frozen=True)
class DisposalRun:
    """A run: its plan, and the ``audit.disposed`` record (None: nothing disposed of)."""

    plan: DisposalPlan
    record: AuditEvent | None


def plan_disposal(
    store: AuditStore, settings: RetentionSettings, *, now: datetime | None = None
) -> DisposalPlan:
    """What is past the schedule now (reads the store; changes nothing).

    Raises:
        AuditUnavailable: the store cannot be read.
    """
    cutoff = (now or utc_now()) - settings.audit_period
    first = next(iter(store.stored_records(after_seq=store.disposed_through())), None)
    first_seq = first.seq if first is not None else 0
    through = store.last_seq_before(cutoff) if first is not None else 0
    return DisposalPlan(
        cutoff=cutoff,
        retention_days=settings.audit_days,
        first_seq=first_seq,
        through_seq=through if through >= first_seq else 0,
    )


def dispose_expired(
    log: AuditLog,
    settings: RetentionSettings,
    *,
    actor: str,
    reason: str,
    organisation: str = "",
    now: datetime | None = None,
    dry_run: bool = False,
    break_glass: Mapping[str, object] | None = None,
) -> DisposalRun:
    """Dispose of every record past the schedule and record it (see the module docstring);
    ``break_glass``: the host operator's record (:mod:`gateway.auth.breakglass`), kept with it.

    Raises:
        InputError: no reason given.
        AuditUnavailable: nothing was disposed of or recorded.
    """
    if not reason.strip():
        raise InputError("give a reason for the disposal (the schedule, a reference)")
    plan = plan_disposal(log.store, settings, now=now)
    if dry_run or not plan.through_seq:
        return DisposalRun(plan, None)
    record = log.store.dispose(
        plan.through_seq,
        EventKind.AUDIT_DISPOSED.value,
        actor,
        organisation,
        {
            "reason": reason.strip(),
            "retention_days": plan.retention_days,
            "cutoff": format_time(plan.cutoff),
            **({"break_glass": dict(break_glass)} if break_glass else {}),
        },
    )
    log.checkpoint()
    return DisposalRun(plan, record)
